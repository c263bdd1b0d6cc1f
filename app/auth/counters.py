"""Where the rate-limit counters live: this process's memory, or a store shared by replicas.

`counters_from(uri)` reads the `rate_limit_storage` setting. `memory://` and
`async+memory://` count in this process with `app.auth.window` (synchronous, no thread, no
task). Any other URI, Redis above all, is a storage of the `limits` library, counted by its
moving-window strategy; when that store is unreachable, requests are served and a warning
is logged, rather than refused. Each rate limit is bound to its namespace once, when the
guard is built (`Counters.limit`), so that a hit looks nothing up but the caller.

Both count exactly over a moving window. Retry-After is the whole number of seconds, at
least 1, until enough hits have expired for the refused cost (in memory) or until the
oldest hit of the window expires (in `limits`; the same for a cost of 1).
"""

import logging
import math
import time
from typing import Protocol

from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.auth.window import MovingWindow
from app.settings import MEMORY_STORAGES

logger = logging.getLogger(__name__)


class Limit(Protocol):
    """One rate limit, counted per caller under one namespace."""

    @property
    def item(self) -> RateLimitItem: ...

    async def hit(self, who: str, cost: int = 1) -> bool:
        """Count `cost` hits of `who` if they fit: whether they did."""

    async def retry_after(self, who: str, cost: int = 1) -> int | None:
        """Whole seconds until `cost` more hits of `who` fit; None if they fit now."""


class Counters(Protocol):
    def limit(self, item: RateLimitItem, namespace: str) -> Limit:
        """`item`, counted under `namespace`."""

    def close(self) -> None:
        """Let go of the store's connections, if it has any."""


def counters_from(uri: str) -> Counters:
    """The counters that the `rate_limit_storage` setting `uri` names."""
    if uri in MEMORY_STORAGES:
        return MemoryCounters()
    return LimitsCounters(uri)


class MemoryLimit:
    """A rate limit counted in this process, by a moving window."""

    def __init__(self, item: RateLimitItem, window: MovingWindow) -> None:
        self.item = item
        self._window = window

    async def hit(self, who: str, cost: int = 1) -> bool:
        return self._window.hit(who, cost)

    async def retry_after(self, who: str, cost: int = 1) -> int | None:
        seconds = self._window.retry_after(who, cost)
        return None if seconds is None else max(1, math.ceil(seconds))


class MemoryCounters:
    """Exact moving windows in this process: each process counts alone."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, RateLimitItem], MovingWindow] = {}

    def limit(self, item: RateLimitItem, namespace: str) -> Limit:
        # One window per namespace and limit, as `limits` keys its counters.
        window = self._windows.setdefault(
            (namespace, item), MovingWindow(item.amount, item.get_expiry())
        )
        return MemoryLimit(item, window)

    def close(self) -> None:
        pass


class LimitsLimit:
    """A rate limit counted in a `limits` storage, by its moving window."""

    def __init__(
        self, limiter: MovingWindowRateLimiter, item: RateLimitItem, namespace: str
    ) -> None:
        self.item = item
        self._limiter = limiter
        self._namespace = namespace

    async def hit(self, who: str, cost: int = 1) -> bool:
        """Whether the hits fit; True when the store is down (serve rather than fail)."""
        try:
            return await self._limiter.hit(self.item, self._namespace, who, cost=cost)
        except Exception as exc:
            logger.warning("rate limit not applied: %s", exc.__class__.__name__)
            return True

    async def retry_after(self, who: str, cost: int = 1) -> int | None:
        """Seconds until the window's oldest hit expires; None when the store is down."""
        try:
            if await self._limiter.test(self.item, self._namespace, who, cost=cost):
                return None
            stats = await self._limiter.get_window_stats(self.item, self._namespace, who)
        except Exception as exc:
            logger.warning("rate limit not applied: %s", exc.__class__.__name__)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))


class LimitsCounters:
    """A `limits` storage (Redis: shared by every replica)."""

    def __init__(self, uri: str) -> None:
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage), "the settings admit async storages only"
        self._limiter = MovingWindowRateLimiter(storage)

    def limit(self, item: RateLimitItem, namespace: str) -> Limit:
        return LimitsLimit(self._limiter, item, namespace)

    def close(self) -> None:
        # limits has no public close(): its Redis storage keeps the client on a bridge.
        client = getattr(getattr(self._limiter.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
