"""An exact moving window of hits, counted per caller in this process's memory.

A `MovingWindow` allows `amount` hits in any span of `seconds`: a hit counts until `seconds`
after it was made, so a burst across a window boundary gets no extra allowance. Each
caller's hits are a deque, oldest first, of their times (a hit of cost 1) or (time, cost)
pairs, with their running total: a hit of any cost is one entry, and checking it costs
O(1) once the expired entries are dropped, each once.

Memory is bounded by the callers of one window span. Callers are kept in the order of
their last hit; about once a second, a hit forgets the callers whose hits have all expired,
from the front, at most `FORGET_AT_ONCE` of them (the next hit goes on if more remain). So
millions of distinct callers (addresses that fail to authenticate, say) leave no trace once
their window has passed, and no hit waits for more than a few milliseconds of forgetting.

Everything is synchronous and lock-free: a window is used from one event loop, where no
other code runs between two statements. The clock is injectable for tests. A hit touches
few objects (no tuple for a hit of cost 1, no forgetting on most hits): in a busy server,
what the limiter costs is mostly the memory it reads.
"""

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

Clock = Callable[[], float]
Entry = float | tuple[float, int]  # the time of a hit of cost 1, or (time, cost)

FORGET_EVERY = 1.0  # seconds between two rounds of forgetting
FORGET_AT_ONCE = 10_000  # callers at most per hit, so that no hit waits long


class _Hits(deque[Entry]):
    """One caller's hits in the window, oldest first, and their total cost."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def expire(self, before: float) -> None:
        """Drop the hits made at or before `before`."""
        while self:
            first = self[0]
            if isinstance(first, float):
                if first > before:
                    return
                self.total -= 1
            else:
                if first[0] > before:
                    return
                self.total -= first[1]
            self.popleft()


class MovingWindow:
    """`amount` hits per `seconds` for each caller, exactly."""

    def __init__(self, amount: int, seconds: float, clock: Clock = time.monotonic) -> None:
        self.amount = amount
        self.seconds = seconds
        self._clock = clock
        self._callers: OrderedDict[str, _Hits] = OrderedDict()
        self._forget_at = -math.inf

    def __len__(self) -> int:
        """How many callers the window remembers."""
        return len(self._callers)

    def hit(self, who: str, cost: int = 1) -> bool:
        """Count `cost` hits for `who` if they fit in the window: whether they did."""
        now = self._clock()
        before = now - self.seconds
        if now >= self._forget_at:
            self._forget_idle(now, before)
        if cost > self.amount:
            return False
        callers = self._callers
        hits = callers.get(who)
        if hits is None:
            hits = callers[who] = _Hits()
        else:
            hits.expire(before)
            if hits.total + cost > self.amount:
                return False
            callers.move_to_end(who)
        hits.append(now if cost == 1 else (now, cost))
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
        made = now - self.seconds
        for entry in hits:
            made, count = (entry, 1) if isinstance(entry, float) else entry
            excess -= count
            if excess <= 0:
                break
        return made + self.seconds - now  # when the last of the hits needed expires

    def _forget_idle(self, now: float, before: float) -> None:
        """Forget callers whose last hit was made at or before `before`, from the front."""
        callers = self._callers
        for _ in range(FORGET_AT_ONCE):
            if not callers:
                break
            who = next(iter(callers))
            hits = callers[who]
            if hits:
                last = hits[-1]
                if (last if isinstance(last, float) else last[0]) > before:
                    break  # the callers behind it hit later still
            del callers[who]
        else:
            return  # more may remain: the next hit goes on
        self._forget_at = now + FORGET_EVERY
