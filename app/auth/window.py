"""An exact moving window of hits, counted per caller in this process's memory.

A `MovingWindow` allows `amount` hits in any span of `seconds`: a hit counts until `seconds`
after it was made, so a burst across a window boundary gets no extra allowance. Each
caller's hits are a deque of (time, cost) entries, oldest first, and their running total:
a hit of any cost is one entry, and checking it costs O(1) once the expired entries are
dropped, each once.

Memory is bounded by the callers of one window span: callers are kept in the order of
their last hit, and each hit forgets up to `FORGET_PER_HIT` callers whose hits have all
expired, from the front. Callers added and callers forgotten are both at most one per hit
on average, so millions of distinct callers (addresses that fail to authenticate, say)
leave no trace once their window has passed.

Everything is synchronous and lock-free: a window is used from one event loop, where no
other code runs between two statements. The clock is injectable for tests.
"""

import time
from collections import OrderedDict, deque
from collections.abc import Callable

Clock = Callable[[], float]

FORGET_PER_HIT = 4  # more than the one caller a hit may add, so forgetting keeps up


class _Hits:
    """One caller's hits in the window: (time, cost) entries oldest first, and their sum."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def expire(self, before: float) -> None:
        """Drop the entries made at or before `before`."""
        entries = self.entries
        while entries and entries[0][0] <= before:
            self.total -= entries.popleft()[1]


class MovingWindow:
    """`amount` hits per `seconds` for each caller, exactly."""

    def __init__(self, amount: int, seconds: float, clock: Clock = time.monotonic) -> None:
        self.amount = amount
        self.seconds = seconds
        self._clock = clock
        self._callers: OrderedDict[str, _Hits] = OrderedDict()

    def __len__(self) -> int:
        """How many callers the window remembers."""
        return len(self._callers)

    def hit(self, who: str, cost: int = 1) -> bool:
        """Count `cost` hits for `who` if they fit in the window: whether they did."""
        now = self._clock()
        before = now - self.seconds
        self._forget_idle(before)
        if cost > self.amount:
            return False
        hits = self._callers.get(who)
        if hits is None:
            hits = self._callers[who] = _Hits()
        else:
            hits.expire(before)
            if hits.total + cost > self.amount:
                return False
            self._callers.move_to_end(who)
        hits.entries.append((now, cost))
        hits.total += cost
        return True

    def retry_after(self, who: str, cost: int = 1) -> float | None:
        """Seconds until `cost` more hits of `who` fit in the window; None if they fit now.

        A cost larger than the window's amount never fits: the answer is then the time
        until the window is empty.
        """
        now = self._clock()
        hits = self._callers.get(who)
        if hits is None:
            return None if cost <= self.amount else 0.0
        hits.expire(now - self.seconds)
        excess = hits.total + cost - self.amount  # how many hits must expire first
        if excess <= 0:
            return None
        freed = 0
        for made, count in hits.entries:
            freed += count
            if freed >= excess:
                return made + self.seconds - now
        return hits.entries[-1][0] + self.seconds - now if hits.entries else 0.0

    def _forget_idle(self, before: float) -> None:
        """Forget up to FORGET_PER_HIT callers whose last hit was at or before `before`."""
        callers = self._callers
        for _ in range(FORGET_PER_HIT):
            if not callers:
                return
            who = next(iter(callers))
            entries = callers[who].entries
            if entries and entries[-1][0] > before:
                return  # the callers behind it hit later still
            del callers[who]
