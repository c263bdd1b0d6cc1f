"""Evaluating a file's rows through POST /evaluate/batch: on a server, or in this process.

Rows are cut into batches (at most `--batch-size` items and a body under the server's
limit), each sent with an Idempotency-Key derived from the file's digest, the options and
the batch's position: a rerun of the same file with the same options sends the same bodies
under the same keys, and the server answers what it stored the first time instead of
deciding again. `--local` runs the application itself, lifespan and all, behind httpx's
ASGI transport: the same batch route, writer and idempotency as a server, on the database
of the settings. A few batches are in flight at once; their outcomes come back in order.
"""

import asyncio
import hashlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.invitations import BadRow, Item, Row, Skipped
from app.setclient import Server, Unreachable
from app.settings import Settings, get_settings

# The server's default limit on a batch body, less room for the envelope.
MAX_BODY_BYTES = Settings.model_fields["max_batch_body_bytes"].default - 64 * 1024
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
BUSY = (429, 503)  # come back later: a rate limit, or every batch slot taken
MAX_WAITS = 60
# Each decided row's id, decision and summary: all the results need, a fraction of a full
# answer to send and to parse.
ANSWER = b"compact"
LOCAL_URL = "http://reflexe.local"


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive rows of the file; its items (the rows to send) are the body's."""

    index: int
    rows: list[Row]
    body: bytes | None  # None: no item to send (bad or skipped rows only)
    key: str


@dataclass(frozen=True, slots=True)
class Decided:
    row: int
    decision: str
    summary: str
    id: str | None


@dataclass(frozen=True, slots=True)
class Failed:
    row: int
    error: str


Outcome = Decided | Failed


class Refused(Exception):
    """The server refuses every batch (a missing or insufficient key): no use going on."""


def plan_batches(
    rows: Iterable[Row], size: int, digest: str, options: str, max_bytes: int = MAX_BODY_BYTES
) -> Iterator[Batch]:
    """The rows cut into batches of at most `size` items and `max_bytes` of body.

    Deterministic for a file (its `digest`) and the `options` that shape the bodies, so
    that a rerun sends the same bytes under the same keys.
    """
    index, held, encoded, length = 0, list[Row](), list[bytes](), 0
    for row in rows:
        piece = _encoded(row.request) if isinstance(row, Item) else None
        if (
            piece is not None
            and encoded
            and (len(encoded) >= size or length + len(piece) > max_bytes)
        ):
            yield _batch(index, held, encoded, digest, options)
            index, held, encoded, length = index + 1, [], [], 0
        held.append(row)
        if piece is not None:
            encoded.append(piece)
            length += len(piece) + 1
    if held:
        yield _batch(index, held, encoded, digest, options)


def _encoded(request: dict[str, Any]) -> bytes:
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()


def _batch(index: int, rows: list[Row], items: list[bytes], digest: str, options: str) -> Batch:
    body = b'{"answer":"%s","items":[%s]}' % (ANSWER, b",".join(items)) if items else None
    seed = f"{digest}\n{options}\n{index}".encode()
    return Batch(index, rows, body, f"reflexe-evaluate-{hashlib.sha256(seed).hexdigest()}")


def options_of(**options: object) -> str:
    """The options that shape the bodies, as one stable text for the keys (the answer
    asked for among them: a body of another shape is another request)."""
    return json.dumps({"answer": ANSWER.decode(), **options}, sort_keys=True, default=str)


@asynccontextmanager
async def remote_client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.key}"} if server.key else {}
    async with httpx.AsyncClient(
        base_url=server.url.rstrip("/"), headers=headers, timeout=TIMEOUT
    ) as client:
        yield client


@asynccontextmanager
async def local_client() -> AsyncIterator[httpx.AsyncClient]:
    """The application of the settings, started in this process, as a client's server.

    No socket: only this process can call it, so it runs in development mode (no key, no
    rate limit) and its banner, meant for a listening server, is kept quiet.
    """
    from app.main import create_app

    settings = get_settings().model_copy(update={"dev_mode": True, "rate_limit": ""})
    app = create_app(settings)
    quiet = logging.getLogger("reflexe")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url=LOCAL_URL, timeout=TIMEOUT
            ) as client:
                yield client
    finally:
        quiet.setLevel(level)


async def send_batch(client: httpx.AsyncClient, batch: Batch) -> list[Outcome]:
    """The batch's outcomes, one per row but skipped ones, in the rows' order."""
    items: list[dict[str, Any]] = []
    if batch.body is not None:
        answer = await _post(client, batch)
        if answer.status_code >= 400:
            error = _problem_text(_json_or_none(answer), f"HTTP {answer.status_code}")
            if answer.status_code in (401, 403):
                raise Refused(f"the server answered {answer.status_code}: {error}")
            return [_failed(row, error) for row in batch.rows if not isinstance(row, Skipped)]
        items = answer.json()["items"]
    found = iter(items)
    return [_outcome(row, found) for row in batch.rows if not isinstance(row, Skipped)]


async def _post(client: httpx.AsyncClient, batch: Batch) -> httpx.Response:
    """The server's answer to the batch, waiting as told while it is busy."""
    headers = {"Idempotency-Key": batch.key, "Content-Type": "application/json"}
    for _ in range(MAX_WAITS):
        try:
            answer = await client.post("/evaluate/batch", content=batch.body, headers=headers)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {client.base_url}: {exc}") from exc
        if answer.status_code not in BUSY:
            return answer
        await asyncio.sleep(_retry_after(answer))
    return answer


def _retry_after(answer: httpx.Response) -> float:
    try:
        return min(max(float(answer.headers.get("Retry-After", "1")), 0.1), 30.0)
    except ValueError:
        return 1.0


def _outcome(row: Row, items: Iterator[dict[str, Any]]) -> Outcome:
    if isinstance(row, BadRow):
        return Failed(row.row, row.error)
    item = next(items)
    if item.get("decision") is None:
        return Failed(row.row, _problem_text(item.get("problem"), f"HTTP {item['status']}"))
    return Decided(row.row, item["decision"], item["summary"], item["id"])


def _failed(row: Row, error: str) -> Failed:
    return Failed(row.row, row.error if isinstance(row, BadRow) else error)


def _problem_text(problem: Any, otherwise: str) -> str:
    """A problem document in one line: each faulty field, or its detail."""
    if not isinstance(problem, dict):
        return otherwise
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    if errors:
        return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
    return str(problem.get("detail") or otherwise)


def _json_or_none(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


async def evaluate_batches(
    client: httpx.AsyncClient,
    batches: Iterable[Batch],
    concurrency: int,
    on_done: Callable[[Batch, list[Outcome]], None],
) -> None:
    """Send the batches, `concurrency` at a time; `on_done` sees each one's outcomes in the
    file's order, whichever answer comes first."""
    pending: deque[tuple[Batch, asyncio.Task[list[Outcome]]]] = deque()
    try:
        for batch in batches:
            pending.append((batch, asyncio.create_task(send_batch(client, batch))))
            if len(pending) >= concurrency:
                done, task = pending.popleft()
                on_done(done, await task)
        while pending:
            done, task = pending.popleft()
            on_done(done, await task)
    finally:
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
