"""Evaluate profiles against criteria sets: where the work runs, storing, retries.

A decision is made in `deciding` (checks, cost, engine, answer). This module chooses where
it runs: on the event loop when it is cheap, in a worker thread when it is not (an inline
draft, a costly profile, any batch), so that no request can keep the loop from answering
the others. At most `CPU_THREADS` such threads run at once: Python runs one at a time
anyway, and more would only take more turns from the loop. Then it hands the decisions to
the writer and, when a criteria version changed meanwhile, decides again.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio
from pydantic_core import to_json

from app.criteria.freshness import Freshness
from app.criteria.registry import CriteriaRegistry, NeedsLoading, ResolvedCriteria
from app.engine import OverBudget, check_budget
from app.errors import Conflict, InvalidInput, PayloadTooLarge, ReflexeError
from app.evaluations.batch_body import read_batch
from app.evaluations.deciding import Budget, Decided, Drafts, judge, parse, prepare
from app.evaluations.linking import Link
from app.evaluations.models import EvaluationRequest
from app.evaluations.writer import Answered, DecisionWriter, Refused, Step, Stored
from app.idempotency.service import Idempotent, Replay
from app.privacy import SubjectKeys

STALE_RETRIES = 3
CPU_THREADS = 2
# Below this cost (a few hundred microseconds of work) a decision runs on the event loop:
# a thread would cost more than it saves.
INLINE_COST = 20_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Evaluator:
    """What evaluating needs, built once per process at start-up."""

    registry: CriteriaRegistry
    writer: DecisionWriter
    budget: Budget
    threads: anyio.CapacityLimiter
    freshness: Freshness
    keys: SubjectKeys  # a ref's keyed hash, stored with every decision that has one
    # What other packages write with every stored unit, in its transaction, given its rows
    # (the review queue); they run last: they write, and never answer instead.
    stored_steps: tuple[Callable[[list[dict[str, Any]]], Step], ...] = ()

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(work, *args, limiter=self.threads)


@dataclass(frozen=True, slots=True)
class Answer:
    """What an evaluation request is answered: its status, its JSON, where it is stored."""

    status: int
    body: bytes
    location: str | None = None


@dataclass(frozen=True, slots=True)
class _Decided:
    """What deciding a request produced: its answer, and what storing it takes."""

    respond: Callable[[], Answer]  # the answer, as it is once the rows are linked
    keep: Callable[[], Answer]  # the answer as the log keeps it (its privacy allowing)
    checks: list[ResolvedCriteria]  # the versions it was decided with
    rows: list[dict[str, Any]]  # the decisions to store; none for a dry run


async def evaluate(
    request: EvaluationRequest,
    evaluator: Evaluator,
    api_key_id: str | None = None,
    idempotent: Idempotent | None = None,
) -> Answer:
    """Decide on a profile; unless it is a dry run, store the decision before answering.

    `api_key_id` is the caller's key, recorded with the decision; with `idempotent`, the
    answer is kept under the request's Idempotency-Key, in the same transaction.
    """

    async def decide() -> _Decided:
        resolved = await _resolve(request, evaluator.registry)
        if resolved is None:  # an inline draft: compiling it is work
            budget = evaluator.budget
            decided = await evaluator.in_thread(
                _decide, request, None, budget, api_key_id, evaluator.keys
            )
        else:
            prepared = prepare(request, resolved, evaluator.budget)
            if prepared.cost > INLINE_COST:
                decided = await evaluator.in_thread(judge, prepared, api_key_id, evaluator.keys)
            else:
                decided = judge(prepared, api_key_id, evaluator.keys)

        def respond() -> Answer:
            if decided.evaluation_id is None:
                return Answer(200, decided.answer)
            return Answer(201, decided.body(), f"/evaluations/{decided.evaluation_id}")

        def keep() -> Answer:
            if decided.evaluation_id is None:
                return Answer(200, decided.answer)
            return Answer(201, decided.kept(), f"/evaluations/{decided.evaluation_id}")

        rows = [] if decided.row is None else [decided.row]
        return _Decided(respond, keep, [] if resolved is None else [resolved], rows)

    return await _settle(evaluator, decide, idempotent)


async def evaluate_batch(
    body: bytes,
    content_type: str | None,
    evaluator: Evaluator,
    api_key_id: str | None = None,
    idempotent: Idempotent | None = None,
    *,
    on_items: Callable[[int], Awaitable[None]] | None = None,
) -> Answer:
    """Decide on every item of a batch body; store the valid ones in one transaction.

    The body is parsed, checked and decided in a worker thread. `on_items`, given the
    number of items once the body is read, may refuse the batch (the caller's rate limit).
    """
    batch = await evaluator.in_thread(read_batch, body, content_type)
    if on_items is not None:
        await on_items(len(batch.items))
    requests = await evaluator.in_thread(_parse_all, batch.items)
    compact = batch.answer == "compact"

    async def decide() -> _Decided:
        registry, budget = evaluator.registry, evaluator.budget
        return await evaluator.in_thread(
            _decide_batch, requests, registry, budget, api_key_id, compact, evaluator.keys
        )

    return await _settle(evaluator, decide, idempotent)


async def _settle(
    evaluator: Evaluator,
    decide: Callable[[], Awaitable[_Decided]],
    idempotent: Idempotent | None,
) -> Answer:
    """Decide, then store: how every evaluation request ends, a single one or a batch.

    The decisions go to the writer with the versions they were decided with, and the
    answer's idempotency key if any. A stale version means deciding again; a key that
    already held an answer means that answer. A dry run without a key stores nothing and
    skips the writer, but its versions must still be current.
    """
    for _ in range(STALE_RETRIES):
        decided = await decide()
        steps: list[Step] = []
        if decided.rows:
            steps.append(Link(decided.rows))
        if idempotent is not None:
            steps.append(idempotent.remember(partial(_kept, decided.keep)))
        if decided.rows:
            steps.extend(step(decided.rows) for step in evaluator.stored_steps)
        if not steps:
            if not decided.checks or await evaluator.freshness.are_current(decided.checks):
                return decided.respond()
            continue
        written = await evaluator.writer.store(decided.checks, decided.rows, steps)
        if isinstance(written, Stored):
            return decided.respond()
        if isinstance(written, Answered):
            replay: Replay = written.answer
            return Answer(replay.status, replay.response.encode(), replay.location)
        if isinstance(written, Refused):
            raise written.error
    raise Conflict("The criteria sets kept changing while deciding; retry.")


def _kept(respond: Callable[[], Answer]) -> Replay:
    """The answer to keep under an idempotency key."""
    answer = respond()
    return Replay(answer.status, answer.body.decode(), answer.location)


def _decide(
    request: EvaluationRequest,
    resolved: ResolvedCriteria | None,
    budget: Budget,
    api_key_id: str | None,
    keys: SubjectKeys,
) -> Decided:
    return judge(prepare(request, resolved, budget), api_key_id, keys)


def _parse_all(items: list[Any]) -> list[EvaluationRequest | ReflexeError]:
    return [parse(item) for item in items]


def _decide_batch(
    requests: list[EvaluationRequest | ReflexeError],
    registry: CriteriaRegistry,
    budget: Budget,
    api_key_id: str | None,
    compact: bool,
    keys: SubjectKeys,
) -> _Decided:
    """Prepare every item and check the batch's total cost before judging any (a thread)."""
    drafts: Drafts = {}
    planned: list[Any] = []
    total = 0
    for request in requests:
        if isinstance(request, ReflexeError):
            planned.append(request)
            continue
        try:
            prepared = prepare(request, _resolve_now(request, registry), budget, drafts)
        except ReflexeError as error:
            planned.append(error)
            continue
        total += prepared.cost
        try:
            check_budget(total, budget.request, "request")
        except OverBudget as exc:
            raise PayloadTooLarge(
                f"This batch would cost more than the budget of {budget.request:,} units per "
                "request (the characters its rules read, see the README); split it."
            ) from exc
        planned.append(prepared)
    outcomes = [p if isinstance(p, ReflexeError) else judge(p, api_key_id, keys) for p in planned]
    checks = [p.resolved for p in planned if not isinstance(p, ReflexeError) and p.resolved]
    rows = [o.row for o in outcomes if isinstance(o, Decided) and o.row is not None]
    return _Decided(
        lambda: Answer(200, _batch_result(outcomes, compact)),
        lambda: Answer(200, _batch_result(outcomes, compact, kept=True)),
        checks,
        rows,
    )


def _batch_result(
    outcomes: list[Decided | ReflexeError], compact: bool, *, kept: bool = False
) -> bytes:
    """The JSON of a `BatchResult`, assembled around each item's answer as it is.

    A compact result gives each decided item's id, decision and summary instead of its answer;
    `kept`, each item's answer as the log keeps it (`Decided.kept`).
    """
    items: list[bytes] = []
    stored = failed = 0
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ReflexeError):
            failed += 1
            problem = outcome.problem().model_dump_json(exclude_none=True).encode()
            head = b'{"index":%d,"status":%d,"problem":' % (index, outcome.status_code)
            items.append(head + problem + b"}")
        else:
            status = 200 if outcome.evaluation_id is None else 201
            stored += status == 201
            if compact:
                evaluation_id = (
                    b"null"
                    if outcome.evaluation_id is None
                    else b'"%s"' % (outcome.evaluation_id.encode())
                )
                decision, summary = outcome.decision.encode(), to_json(outcome.summary)
                items.append(
                    b'{"index":%d,"status":%d,"id":%s,"decision":"%s","summary":%s}'
                    % (index, status, evaluation_id, decision, summary)
                )
            else:
                head = b'{"index":%d,"status":%d,"evaluation":' % (index, status)
                body = outcome.kept() if kept else outcome.body()
                items.append(head + body + b"}")
    return b'{"items":[%s],"stored":%d,"failed":%d}' % (b",".join(items), stored, failed)


def _check_source(request: EvaluationRequest) -> bool:
    """Whether the request brings its own draft; 422 if it mixes a draft and a set."""
    if request.criteria is None:
        return False
    problems = []
    if request.criteria_set is not None or request.version is not None:
        problems.append(("criteria", "give either criteria or criteria_set, not both"))
    if not request.dry_run:
        problems.append(("dry_run", "inline criteria can only be tried with dry_run: true"))
    if problems:
        raise InvalidInput(problems)
    return True


async def _resolve(
    request: EvaluationRequest, registry: CriteriaRegistry
) -> ResolvedCriteria | None:
    try:
        return _resolve_from_memory(request, registry)
    except NeedsLoading:
        return await anyio.to_thread.run_sync(_resolve_now, request, registry)


def _resolve_now(request: EvaluationRequest, registry: CriteriaRegistry) -> ResolvedCriteria | None:
    """`_resolve` for a worker thread, where reading the database may block."""
    try:
        return _resolve_from_memory(request, registry)
    except NeedsLoading:
        return registry.load(request.criteria_set, request.version)


def _resolve_from_memory(
    request: EvaluationRequest, registry: CriteriaRegistry
) -> ResolvedCriteria | None:
    """The version to decide with (None for an inline draft); NeedsLoading if not in memory."""
    if _check_source(request):
        return None
    return registry.resolve(request.criteria_set, request.version)
