"""The per-process gate of every request: who is calling, and may they call again now.

`KeyGuard` lives on `app.state`. It recognises the bearer token of a request with no
query on the hot path: what it read of a key is kept for `key_cache_seconds` (revocations
made through this process take effect at once, those made elsewhere within that delay).
It then counts the request against the key's rate limits (the `limits` library, with a
moving window: exact, so a burst across a window boundary gets no extra allowance).
"""

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from cachetools import TTLCache
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.auth import repository
from app.auth.models import Role
from app.auth.service import key_id_of, matches
from app.errors import TooManyRequests, Unauthorized

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an API key, or the anonymous developer of development mode."""

    key_id: str | None
    role: Role

    @property
    def scope(self) -> str:
        """What the caller's idempotency keys and rate limits are counted under."""
        return self.key_id or "local"


DEVELOPER = Principal(key_id=None, role=Role.admin)


@dataclass(frozen=True, slots=True)
class _KnownKey:
    hash: str
    role: Role
    is_revoked: bool


class KeyGuard:
    def __init__(
        self,
        engine: Engine,
        secret: bytes,
        *,
        dev_mode: bool = False,
        cache_seconds: float = 5.0,
        rate_limit: str = "",
        rate_limit_storage: str = "async+memory://",
    ) -> None:
        self._engine = engine
        self._secret = secret
        self._dev_mode = dev_mode
        self._cache: TTLCache[str, _KnownKey | None] | None = (
            TTLCache(maxsize=10_000, ttl=cache_seconds) if cache_seconds > 0 else None
        )
        self._limits: list[RateLimitItem] = parse_many(rate_limit) if rate_limit else []
        self._limiter = None
        if self._limits:
            storage = storage_from_string(rate_limit_storage)
            assert isinstance(storage, Storage), "the settings admit async storages only"
            self._limiter = MovingWindowRateLimiter(storage)

    async def authenticate(self, request: Request) -> Principal:
        """The caller of `request`, or 401."""
        if "access_token" in request.query_params:
            raise Unauthorized(
                "API keys are accepted only in the Authorization header, never in the URL."
            )
        header = request.headers.get("authorization")
        if header is None:
            if self._dev_mode and request.client and is_loopback(request.client.host):
                return DEVELOPER
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "The Authorization header must read `Bearer <key>`.", invalid_token=True
            )
        key_id = key_id_of(token)
        known = None if key_id is None else await self._lookup(key_id)
        if known is None or not matches(self._secret, token, known.hash) or known.is_revoked:
            raise Unauthorized("The API key is unknown or revoked.", invalid_token=True)
        assert key_id is not None
        return Principal(key_id=key_id, role=known.role)

    def close(self) -> None:
        """Close the connections of the counters' store (Redis), if it has any."""
        if self._limiter is None:
            return
        # limits has no public close(): its Redis storage keeps the client on a bridge.
        client = getattr(getattr(self._limiter.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    def forget(self, key_id: str) -> None:
        """Drop what this process knows of a key, after it changed here."""
        if self._cache is not None:
            self._cache.pop(key_id, None)

    async def limit(self, principal: Principal) -> None:
        """Count a request against the caller's rate limits, or 429 when one is spent."""
        if self._limiter is None:
            return
        for item in self._limits:
            try:
                allowed = await self._limiter.hit(item, "reflexe", principal.scope)
                if allowed:
                    continue
                stats = await self._limiter.get_window_stats(item, "reflexe", principal.scope)
            except Exception as exc:  # the counters' store is down: serve rather than fail
                logger.warning("rate limit not applied: %s", exc.__class__.__name__)
                return
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise TooManyRequests(
                f"This key's rate limit of {item} is spent; retry in {retry_after} s.",
                retry_after=retry_after,
            )

    async def _lookup(self, key_id: str) -> _KnownKey | None:
        if self._cache is None:
            return await run_in_threadpool(self._load, key_id)
        try:
            return self._cache[key_id]
        except KeyError:
            known = await run_in_threadpool(self._load, key_id)
            self._cache[key_id] = known
            return known

    def _load(self, key_id: str) -> _KnownKey | None:
        with Session(self._engine) as session:
            key = repository.get(session, key_id)
            if key is None:
                return None
            return _KnownKey(key.hash, Role(key.role), key.revoked_at is not None)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address, or `localhost`) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
