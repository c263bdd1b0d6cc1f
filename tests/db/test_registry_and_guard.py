"""The criteria registry and the key guard as units, against each backend."""

import asyncio

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session
from starlette.requests import Request

from app.auth import service as auth_service
from app.auth.guard import DEVELOPER, KeyGuard, Principal
from app.auth.models import ApiKeyCreate, Role
from app.criteria import service as criteria_service
from app.criteria.freshness import Freshness
from app.criteria.models import CriteriaSetReplace
from app.criteria.registry import CriteriaRegistry, NeedsLoading, ResolvedCriteria
from app.errors import CriteriaSetArchived, InvalidInput, NotFound, TooManyRequests, Unauthorized
from tests.conftest import SECRET_KEY
from tests.factories import make_criteria_set

SECRET = SECRET_KEY.encode()


def are_current(registry: CriteriaRegistry, checks: list[ResolvedCriteria]) -> bool:
    """What a dry run is told: whether its versions are current, read from the database."""

    async def ask() -> bool:
        return await Freshness(registry).are_current(checks)

    return asyncio.run(ask())


def count_queries(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


# --- registry ------------------------------------------------------------------------


def test_the_registry_reads_once_then_answers_from_memory(engine: Engine) -> None:
    registry = CriteriaRegistry(engine)
    with pytest.raises(NeedsLoading):
        registry.resolve(None, None)

    loaded = registry.load(None, None)
    queries = count_queries(engine)
    again = registry.resolve("pipu", 1)

    assert (loaded.slug, loaded.version, loaded.via_default) == ("pipu", 1, True)
    assert again.definition is loaded.definition  # compiled once
    assert queries == []


def test_a_version_replaced_elsewhere_is_no_longer_current(engine: Engine) -> None:
    registry = CriteriaRegistry(engine)
    current = registry.load("pipu", None)
    pinned = registry.load("pipu", 1)
    with Session(engine) as session:
        body = make_criteria_set("pipu")
        body.pop("slug")
        criteria_service.replace_set(session, "pipu", CriteriaSetReplace(**body), '"v1"')

    assert are_current(registry, [current]) is False
    assert are_current(registry, [pinned]) is True  # a pinned version stays usable
    assert registry.load("pipu", None).version == 2


def test_an_archived_set_cannot_be_resolved(engine: Engine) -> None:
    registry = CriteriaRegistry(engine)
    with Session(engine) as session:
        criteria_service.create_set(
            session, criteria_service.CriteriaSetCreate(**make_criteria_set("old"))
        )
        criteria_service.archive_set(session, "old", "*")
    registry.refresh()

    with pytest.raises(CriteriaSetArchived):
        registry.resolve("old", None)
    with pytest.raises(NotFound):
        registry.load("nowhere", None)


def test_a_set_made_the_default_elsewhere_makes_defaults_stale(engine: Engine) -> None:
    registry = CriteriaRegistry(engine)
    by_default = registry.load(None, None)
    with Session(engine) as session:
        criteria_service.create_set(
            session, criteria_service.CriteriaSetCreate(**make_criteria_set("next"))
        )
        criteria_service.make_default(session, "next")

    assert are_current(registry, [by_default]) is False
    assert registry.load(None, None).slug == "next"


def test_dry_runs_waiting_together_share_one_read_begun_after_they_asked(
    engine: Engine,
) -> None:
    registry = CriteriaRegistry(engine)
    current = registry.load("pipu", None)
    freshness = Freshness(registry)
    reads = count_queries(engine)

    async def at_once() -> list[bool]:
        return await asyncio.gather(*(freshness.are_current([current]) for _ in range(50)))

    assert asyncio.run(at_once()) == [True] * 50
    # One read started at once; the others asked while it ran, so share the next one.
    assert 1 <= len(reads) <= 2

    with Session(engine) as session:
        body = make_criteria_set("pipu")
        body.pop("slug")
        criteria_service.replace_set(session, "pipu", CriteriaSetReplace(**body), '"v1"')

    async def after_the_change() -> bool:
        return await freshness.are_current([current])

    assert asyncio.run(after_the_change()) is False  # never an earlier read


def test_a_failed_read_fails_every_dry_run_waiting_for_it(engine: Engine) -> None:
    registry = CriteriaRegistry(engine)
    current = registry.load("pipu", None)
    freshness = Freshness(registry)
    engine.dispose()

    def broken(*args: object) -> None:
        raise RuntimeError("the database is gone")

    event.listen(engine, "before_cursor_execute", broken)

    async def at_once() -> list[object]:
        asks = (freshness.are_current([current]) for _ in range(5))
        return await asyncio.gather(*asks, return_exceptions=True)

    try:
        outcomes = asyncio.run(at_once())
    finally:
        event.remove(engine, "before_cursor_execute", broken)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert asyncio.run(at_once()) == [True] * 5  # and the next read works again


# --- guard ---------------------------------------------------------------------------


def new_token(engine: Engine, role: Role = Role.evaluator) -> str:
    with Session(engine, expire_on_commit=False) as session:
        return auth_service.create_key(session, SECRET, ApiKeyCreate(name="t", role=role)).key


def request(token: str | None = None, host: str = "203.0.113.1", query: bytes = b"") -> Request:
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/criteria",
        "headers": headers,
        "query_string": query,
        "client": (host, 1234),
    }
    return Request(scope)


def authenticate(guard: KeyGuard, incoming: Request) -> Principal:
    return asyncio.run(guard.authenticate(incoming))


def test_a_key_is_recognised_and_then_costs_no_query(engine: Engine) -> None:
    token = new_token(engine)
    guard = KeyGuard(engine, SECRET, cache_seconds=60)

    first = authenticate(guard, request(token))
    queries = count_queries(engine)
    second = authenticate(guard, request(token))

    assert first == second == Principal(key_id=token[4:16], role=Role.evaluator)
    assert queries == []


def test_a_forgotten_key_is_read_again(engine: Engine) -> None:
    token = new_token(engine)
    guard = KeyGuard(engine, SECRET, cache_seconds=60)
    authenticate(guard, request(token))
    with engine.begin() as connection:
        connection.execute(text("UPDATE api_key SET revoked_at = created_at"))

    still = authenticate(guard, request(token))  # cached: revoked elsewhere, known later
    guard.forget(token[4:16])

    assert still.role == Role.evaluator
    with pytest.raises(Unauthorized):
        authenticate(guard, request(token))


@pytest.mark.parametrize(
    "incoming",
    [request(None), request("not-a-key"), request("rfx_0123456789ab_" + "x" * 43)],
)
def test_no_key_or_a_bad_one_is_unauthorized(engine: Engine, incoming: Request) -> None:
    with pytest.raises(Unauthorized):
        authenticate(KeyGuard(engine, SECRET), incoming)


def test_development_mode_admits_loopback_without_a_key(engine: Engine) -> None:
    guard = KeyGuard(engine, None, dev_mode=True)

    assert authenticate(guard, request(None, host="127.0.0.1")) == DEVELOPER
    with pytest.raises(Unauthorized):
        authenticate(guard, request(None, host="203.0.113.1"))


def test_a_key_in_the_query_string_is_refused(engine: Engine) -> None:
    token = new_token(engine)

    with pytest.raises(Unauthorized, match="never in the URL"):
        authenticate(KeyGuard(engine, SECRET), request(token, query=f"q={token}".encode()))


def test_failures_are_limited_per_address_and_known_keys_still_pass(engine: Engine) -> None:
    token = new_token(engine)
    guard = KeyGuard(engine, SECRET, cache_seconds=60, auth_failure_limit="2/minute")
    authenticate(guard, request(token, host="198.51.100.9"))
    for _ in range(2):
        with pytest.raises(Unauthorized):
            authenticate(guard, request("bad", host="198.51.100.9"))

    with pytest.raises(TooManyRequests):
        authenticate(guard, request("bad", host="198.51.100.9"))
    assert authenticate(guard, request(token, host="198.51.100.9")).key_id == token[4:16]


def test_rate_limits_count_requests_and_batch_items(engine: Engine) -> None:
    guard = KeyGuard(engine, SECRET, rate_limit="5/minute")
    caller = Principal(key_id="0123456789ab", role=Role.evaluator)

    async def run() -> None:
        await guard.limit(caller)
        await guard.limit_batch(caller, 5)  # counted as 4 more: the request was one
        with pytest.raises(TooManyRequests):
            await guard.limit(caller)
        with pytest.raises(InvalidInput, match="at most 5 items"):
            await guard.limit_batch(caller, 6)

    asyncio.run(run())
