"""The framework's limit: a bare FastAPI app that validates the same body, returns a constant."""

from fastapi import FastAPI

from app.evaluations.models import EvaluationRequest

app = FastAPI()


@app.post("/evaluate", status_code=201)
async def evaluate(body: EvaluationRequest) -> dict[str, str]:
    return {"decision": "accept"}
