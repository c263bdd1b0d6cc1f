"""Where the rate-limit counters live: this process's memory, or a store shared by replicas.

`counters_from(uri)` reads the `rate_limit_storage` setting. `memory://` and
`async+memory://` count in this process with `app.auth.window` (synchronous, no thread, no
task: a hit costs about a microsecond). Any other URI, Redis above all, is a storage of the
`limits` library, counted by its moving-window strategy; when that store is unreachable,
requests are served and a warning is logged, rather than refused.

Both count exactly over a moving window. Retry-After is the whole number of seconds, at
least 1, until enough hits have expired for the refused cost (in memory) or until the
oldest hit of the window expires (in `limits`, the same for a cost of 1).
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


class Counters(Protocol):
    async def hit(self, item: RateLimitItem, namespace: str, who: str, cost: int = 1) -> bool:
        """Count `cost` hits if they fit in `item`: whether they did."""

    async def retry_after(
        self, item: RateLimitItem, namespace: str, who: str, cost: int = 1
    ) -> int | None:
        """Whole seconds until `cost` more hits fit in `item`; None if they fit now."""

    def close(self) -> None:
        """Let go of the store's connections, if it has any."""


def counters_from(uri: str) -> Counters:
    """The counters that the `rate_limit_storage` setting `uri` names."""
    if uri in MEMORY_STORAGES:
        return MemoryCounters()
    return LimitsCounters(uri)


class MemoryCounters:
    """Exact moving windows in this process: each process counts alone."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, RateLimitItem], MovingWindow] = {}

    def _window(self, item: RateLimitItem, namespace: str) -> MovingWindow:
        try:
            return self._windows[namespace, item]
        except KeyError:
            window = self._windows[namespace, item] = MovingWindow(item.amount, item.get_expiry())
            return window

    async def hit(self, item: RateLimitItem, namespace: str, who: str, cost: int = 1) -> bool:
        return self._window(item, namespace).hit(who, cost)

    async def retry_after(
        self, item: RateLimitItem, namespace: str, who: str, cost: int = 1
    ) -> int | None:
        seconds = self._window(item, namespace).retry_after(who, cost)
        return None if seconds is None else max(1, math.ceil(seconds))

    def close(self) -> None:
        pass


class LimitsCounters:
    """A `limits` storage (Redis: shared by every replica), through its moving window."""

    def __init__(self, uri: str) -> None:
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage), "the settings admit async storages only"
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem, namespace: str, who: str, cost: int = 1) -> bool:
        """Whether the hits fit; True when the store is down (serve rather than fail)."""
        try:
            return await self._limiter.hit(item, namespace, who, cost=cost)
        except Exception as exc:
            logger.warning("rate limit not applied: %s", exc.__class__.__name__)
            return True

    async def retry_after(
        self, item: RateLimitItem, namespace: str, who: str, cost: int = 1
    ) -> int | None:
        """Seconds until the window's oldest hit expires; None when the store is down."""
        try:
            if await self._limiter.test(item, namespace, who, cost=cost):
                return None
            stats = await self._limiter.get_window_stats(item, namespace, who)
        except Exception as exc:
            logger.warning("rate limit not applied: %s", exc.__class__.__name__)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def close(self) -> None:
        # limits has no public close(): its Redis storage keeps the client on a bridge.
        client = getattr(getattr(self._limiter.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
