"""A lean route answers every request as the same endpoint on a plain FastAPI route would."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from app.errors import Forbidden
from app.problems import install_error_handlers
from app.routing import Gate, GatedRoute, LeanRoute


class Inner(BaseModel):
    score: float = Field(ge=0)


class Payload(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    inner: Inner
    tags: list[str] = []


class Caller(Gate):
    """Admits requests without `x-refuse`; gives the endpoint the `x-caller` header."""

    @asynccontextmanager
    async def admit(self, request: Request) -> AsyncIterator[None]:
        if "x-refuse" in request.headers:
            raise Forbidden("refused by the gate")
        yield

    def provide(self, request: Request) -> str:
        return request.headers.get("x-caller", "nobody")

    async def __call__(self, request: Request) -> str:
        return self.provide(request)


CallerDep = Annotated[str, Depends(Caller())]
TokenHeader = Annotated[str | None, Header(alias="X-Token", min_length=2, max_length=5)]


async def echo(
    caller: CallerDep,
    request: Request,
    payload: Annotated[Payload, Body()],
    x_trace: Annotated[int, Header(ge=1)],
    token: TokenHeader = None,
) -> Response:
    body = f'{{"caller":"{caller}","token":"{token}","trace":{x_trace},"path":"{request.url.path}",'
    content = body.encode() + payload.model_dump_json().encode() + b"}"
    return Response(content, media_type="application/json")


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    plain = APIRouter(route_class=GatedRoute)
    plain.post("/plain")(echo)
    lean = APIRouter(route_class=LeanRoute)
    lean.post("/lean")(echo)
    app.include_router(plain)
    app.include_router(lean)
    return app


CASES: list[dict[str, Any]] = [
    {"json": {"name": "ada", "inner": {"score": 1}}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"x-caller": "k1"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"X-Token": "abc"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"X-Token": "abcdefgh"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"x-refuse": "1"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"x-trace": "0"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"x-trace": "many"}},
    {"json": {"name": "ada", "inner": {"score": 1}}, "headers": {"x-trace": ""}},
    {"json": {"name": "", "inner": {"score": -1}, "tags": [1]}},
    {"json": {"inner": "no"}},
    {"json": [1, 2]},
    {"json": None},
    {"content": b""},
    {"content": b"{", "headers": {"content-type": "application/json"}},
    {
        "content": b'{"name": "a", "inner": {"score": NaN}}',
        "headers": {"content-type": "application/json"},
    },
    {"content": b'{"name": "a", "inner": {"score": 1}}'},
    {"content": b'{"name": "a", "inner": {"score": 1}}', "headers": {"content-type": "text/plain"}},
    {
        "content": b'{"name": "a", "inner": {"score": 1}}',
        "headers": {"content-type": "application/merge-patch+json; charset=utf-8"},
    },
    {"content": b"name=a", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    {"content": "\ufeff{}".encode(), "headers": {"content-type": "application/json"}},
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_a_lean_route_answers_as_a_plain_route(case: dict[str, Any]) -> None:
    case = {**case, "headers": {"x-trace": "7", **case.get("headers", {})}}
    with TestClient(make_app()) as client:
        plain = client.post("/plain", **case)
        lean = client.post("/lean", **case)
    assert lean.status_code == plain.status_code
    assert lean.headers["content-type"] == plain.headers["content-type"]
    assert lean.text.replace("/lean", "/plain") == plain.text


def test_a_lean_route_refuses_a_missing_header_as_a_plain_route() -> None:
    case = {"json": {"name": "ada", "inner": {"score": 1}}}
    with TestClient(make_app()) as client:
        plain = client.post("/plain", **case)
        lean = client.post("/lean", **case)
    assert plain.status_code == lean.status_code == 422
    assert lean.json()["errors"] == plain.json()["errors"]
    assert lean.json()["errors"][0]["field"] == "x-trace"


def test_a_lean_route_is_documented_as_a_plain_route() -> None:
    schema = make_app().openapi()
    assert schema["paths"]["/lean"]["post"] | {"operationId": None, "summary": None} == (
        schema["paths"]["/plain"]["post"] | {"operationId": None, "summary": None}
    )


def test_a_lean_route_refuses_what_it_does_not_solve() -> None:
    async def with_query(limit: int = 1) -> Response:
        return Response()

    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(TypeError, match="no path, query or cookie"):
        router.post("/query")(with_query)
