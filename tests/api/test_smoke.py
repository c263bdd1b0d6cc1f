from fastapi.testclient import TestClient


def test_pipu_is_seeded_and_accepts_two_of_four(client: TestClient) -> None:
    response = client.post("/evaluate", json={"answers": {"pertinence": True, "utilite": True}})
    assert response.status_code == 201
    body = response.json()
    assert body["decision"] == "accept"
    assert body["summary"] == "Accept: 2 of 4 criteria met (Pertinence, Utilité); 2 needed."
