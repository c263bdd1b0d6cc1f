"""The in-process moving window: exact at window boundaries, costs, Retry-After, memory."""

import asyncio
import math
import types
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import parse
from limits.aio.storage import memory as limits_memory

from app.auth.counters import MemoryCounters, counters_from
from app.auth.window import FORGET_AT_ONCE, FORGET_EVERY, MovingWindow


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, moment: float) -> None:
        self.now = 1000.0 + moment


def make_window(amount: int, seconds: float) -> tuple[MovingWindow, Clock]:
    clock = Clock()
    return MovingWindow(amount, seconds, clock), clock


def hits_at(window: MovingWindow, clock: Clock, moments: list[float], cost: int = 1) -> list[bool]:
    """Whether each hit of `cost` was allowed, made at each moment in turn."""
    allowed = []
    for moment in moments:
        clock.at(moment)
        allowed.append(window.hit("k", cost))
    return allowed


def test_a_hit_counts_for_exactly_the_window_span() -> None:
    window, clock = make_window(3, 10)

    allowed = hits_at(window, clock, [0, 1, 2, 3, 9.99, 10, 10.5, 11])

    # 10: the hit of 0 has expired; 10.5: those of 1, 2 and 10 remain; 11: that of 1 expired.
    assert allowed == [True, True, True, False, False, True, False, True]


def test_a_burst_across_a_window_boundary_gets_no_extra_allowance() -> None:
    window, clock = make_window(5, 60)

    before = hits_at(window, clock, [59] * 5)
    after = hits_at(window, clock, [61, 90, 118.9, 119])  # a fixed window would reset at 60

    assert before == [True] * 5
    assert after == [False, False, False, True]


def test_a_cost_counts_as_that_many_hits() -> None:
    window, _clock = make_window(10, 60)

    allowed = [window.hit("k", cost) for cost in (4, 4, 4, 2, 1)]

    assert allowed == [True, True, False, True, False]  # 4 + 4 + 2 = 10; a refusal counts 0
    assert window.retry_after("k") == pytest.approx(60)


def test_a_cost_larger_than_the_amount_never_fits_and_counts_nothing() -> None:
    window, _clock = make_window(5, 60)

    refused = window.hit("k", 6)

    assert not refused
    assert len(window) == 0
    assert window.retry_after("k", 6) == 0
    assert window.hit("k", 5)


def test_each_caller_has_a_window_of_its_own() -> None:
    window, _clock = make_window(1, 60)

    assert [window.hit(who) for who in ("a", "b", "a", "b", "c")] == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_retry_after_is_none_while_the_cost_fits() -> None:
    window, _clock = make_window(10, 60)
    window.hit("k", 9)

    assert window.retry_after("k") is None
    assert window.retry_after("unknown", 10) is None
    assert window.retry_after("k", 2) == pytest.approx(60)


@pytest.mark.parametrize(
    ("cost", "seconds"),
    [
        (1, 10 - 9),  # the hits of 0 expire at 10
        (3, 10 - 9),
        (4, 15 - 9),  # those of 0 and of 5 must both expire
        (6, 15 - 9),
        (7, 18 - 9),
        (10, 18 - 9),
        (11, 18 - 9),  # never fits: until the window is empty
    ],
)
def test_retry_after_waits_until_enough_hits_expire(cost: int, seconds: float) -> None:
    window, clock = make_window(10, 10)
    for moment, hits in ((0, 3), (5, 3), (8, 4)):
        assert hits_at(window, clock, [moment], hits) == [True]
    clock.at(9)

    retry = window.retry_after("k", cost)

    assert retry == pytest.approx(seconds)
    clock.at(9 + seconds)
    assert window.hit("k", cost) == (cost <= 10)


def test_callers_whose_hits_expired_are_forgotten() -> None:
    window, clock = make_window(5, 60)
    for who in ("a", "b", "c"):
        window.hit(who)
    clock.at(30)
    window.hit("b")  # b hit later: it outlives a and c

    clock.at(61)
    window.hit("d")

    assert len(window) == 2  # b and d
    assert window.retry_after("a", 5) is None
    clock.at(91)
    window.hit("e")
    assert len(window) == 2  # d and e


def test_memory_stays_bounded_by_the_callers_of_one_window_span() -> None:
    window, clock = make_window(30, 10)
    remembered = 0
    for caller in range(200_000):  # a new address every 10 ms, for 2,000 s
        clock.at(caller / 100)
        window.hit(f"203.0.113.{caller}")
        remembered = max(remembered, len(window))

    # The callers of the last 10 s, those since the last round of forgetting, the new one.
    assert remembered <= (10 + FORGET_EVERY) * 100 + 1


def test_a_burst_of_callers_is_forgotten_a_bounded_batch_per_hit() -> None:
    window, clock = make_window(1_000_000, 10)
    for caller in range(3 * FORGET_AT_ONCE):
        window.hit(f"caller-{caller}")
    assert len(window) == 3 * FORGET_AT_ONCE

    clock.at(11)
    window.hit("steady")
    after_one = len(window)
    for _ in range(3):
        window.hit("steady")

    assert after_one == 2 * FORGET_AT_ONCE + 1  # no hit waits for all of them
    assert len(window) == 1


def test_memory_counters_answer_whole_seconds_of_at_least_one() -> None:
    counters = MemoryCounters()
    limit, elsewhere_limit = (counters.limit(parse("2/minute"), ns) for ns in ("ns", "other"))

    async def run() -> list[object]:
        results: list[object] = [await limit.hit("k") for _ in range(3)]
        results.append(await limit.retry_after("k"))
        results.append(await elsewhere_limit.retry_after("k"))
        return results

    first, second, third, retry, elsewhere = asyncio.run(run())

    assert [first, second, third] == [True, True, False]
    assert retry == 60
    assert elsewhere is None


def test_a_limit_named_twice_is_counted_once_per_namespace() -> None:
    counters = MemoryCounters()
    first, again = (counters.limit(parse("2/minute"), "ns") for _ in range(2))

    async def run() -> list[bool]:
        return [await first.hit("k"), await again.hit("k"), await first.hit("k")]

    assert asyncio.run(run()) == [True, True, False]  # one counter, as `limits` keys it


@pytest.mark.parametrize("uri", ["memory://", "async+memory://"])
def test_memory_uris_select_the_in_process_window(uri: str) -> None:
    assert isinstance(counters_from(uri), MemoryCounters)


STEPS = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["a", "b"]), st.integers(1, 4)),
    max_size=40,
)


@settings(database=None, deadline=None, max_examples=150)
@given(amount=st.integers(1, 5), seconds=st.sampled_from([2.5, 4.5]), steps=STEPS)
def test_the_window_decides_as_the_limits_memory_storage_did(
    amount: int, seconds: float, steps: list[tuple[int, str, int]]
) -> None:
    """Same hits allowed, and for a cost of 1 the same Retry-After, as `limits` (the old
    in-memory storage). Hits are whole seconds apart, windows are not: no hit expires at
    the very moment of another, where the two differ in which side the instant falls."""
    clock = Clock()
    window = MovingWindow(amount, seconds, clock)
    storage = limits_memory.MemoryStorage()

    async def run() -> list[tuple[bool, int | None]]:
        decisions = []
        for pause, who, cost in steps:
            clock.now += pause
            allowed = await storage.acquire_entry(who, amount, seconds, amount=cost)  # type: ignore[arg-type]
            start, count = await storage.get_moving_window(who, amount, seconds)  # type: ignore[arg-type]
            retry = None if count < amount else max(1, math.ceil(start + seconds - clock.now))
            decisions.append((allowed, retry))
        return decisions

    with mock.patch.object(limits_memory, "time", types.SimpleNamespace(time=clock)):
        expected = asyncio.run(run())
    clock.now = 1000.0
    actual = []
    for pause, who, cost in steps:
        clock.now += pause
        allowed = window.hit(who, cost)
        seconds_left = window.retry_after(who)
        actual.append((allowed, None if seconds_left is None else max(1, math.ceil(seconds_left))))

    assert actual == expected
