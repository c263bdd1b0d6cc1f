"""The per-process gate of every request: who is calling, and may they call again now.

`KeyGuard` is part of the runtime (app.runtime). It recognises the bearer token of a request with no
query on the hot path: what it read of a key is kept for `key_cache_seconds` (revocations
made through this process take effect at once, those made elsewhere within that delay).
It then counts the request against the key's rate limits, and failed authentications
against the client address's allowance, over exact moving windows (a burst across a window
boundary gets no extra allowance): in this process's memory (app.auth.window), or in Redis
for replicas (app.auth.counters).
"""

from dataclasses import dataclass

import anyio
from cachetools import TTLCache
from limits import parse_many
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.requests import Request

from app.auth import repository
from app.auth.counters import Counters, MemoryCounters, counters_from
from app.auth.models import Role
from app.auth.service import KEY_SHAPE, is_loopback, key_id_of, matches
from app.errors import InvalidInput, TooManyRequests, Unauthorized
from app.monitoring.metrics import RATE_LIMITED_AUTH, RATE_LIMITED_KEY


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
# The bearer of REFLEXE_METRICS_TOKEN, on GET /metrics only (app.auth.middleware).
SCRAPER = Principal(key_id=None, role=Role.auditor)


@dataclass(frozen=True, slots=True)
class _KnownKey:
    hash: str
    role: Role
    is_revoked: bool


class KeyGuard:
    def __init__(
        self,
        engine: Engine,
        secret: bytes | None,
        *,
        dev_mode: bool = False,
        cache_seconds: float = 5.0,
        rate_limit: str = "",
        rate_limit_storage: str = "async+memory://",
        auth_failure_limit: str = "",
    ) -> None:
        self._engine = engine
        self._secret = secret
        self._dev_mode = dev_mode
        self._cache: TTLCache[str, _KnownKey | None] | None = (
            TTLCache(maxsize=10_000, ttl=cache_seconds) if cache_seconds > 0 else None
        )
        items = parse_many(rate_limit) if rate_limit else []
        failure_items = parse_many(auth_failure_limit) if auth_failure_limit else []
        # Without limits, nothing is counted: no connection to a store is opened.
        self._counters: Counters = (
            counters_from(rate_limit_storage) if items or failure_items else MemoryCounters()
        )
        self._limits = [self._counters.limit(item, "reflexe") for item in items]
        self._failure_limits = [
            self._counters.limit(item, "reflexe-auth-failures") for item in failure_items
        ]

    async def authenticate(self, request: Request) -> Principal:
        """The caller of `request`; 401, or 429 for an address that failed too often."""
        if request.scope["query_string"] and any(
            KEY_SHAPE.search(part) for item in request.query_params.multi_items() for part in item
        ):
            raise Unauthorized(
                "API keys are accepted only in the Authorization header, never in the URL."
            )
        address = request.client.host if request.client else ""
        header = request.headers.get("authorization")
        if header is None:
            if self._dev_mode and is_loopback(address):
                return DEVELOPER
            await self._check_failures(address)
            raise await self._failed(address, "Send an API key as `Authorization: Bearer <key>`.")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        key_id = key_id_of(token) if scheme.lower() == "bearer" else None
        cached = None if key_id is None or self._cache is None else self._cache.get(key_id)
        if key_id is not None and cached is not None and self._verifies(token, cached):
            return Principal(key_id=key_id, role=cached.role)  # the hot path: no lookup
        # Only keys this process has verified pass an address that failed too often:
        # anything else would cost a lookup.
        await self._check_failures(address)
        if scheme.lower() != "bearer" or not token:
            raise await self._failed(
                address, "The Authorization header must read `Bearer <key>`.", invalid_token=True
            )
        known = None if key_id is None else await self._lookup(key_id)
        if known is None or not self._verifies(token, known):
            raise await self._failed(
                address, "The API key is unknown or revoked.", invalid_token=True
            )
        assert key_id is not None
        return Principal(key_id=key_id, role=known.role)

    def _verifies(self, token: str, known: _KnownKey) -> bool:
        return (
            self._secret is not None
            and not known.is_revoked
            and matches(self._secret, token, known.hash)
        )

    async def _check_failures(self, address: str) -> None:
        """429 when `address` has spent its allowance of failed authentications."""
        for limit in self._failure_limits:
            retry_after = await limit.retry_after(address)
            if retry_after is not None:
                RATE_LIMITED_AUTH.inc()
                raise TooManyRequests(
                    f"Too many failed authentications from this address ({limit.item}); "
                    f"retry in {retry_after} s.",
                    retry_after=retry_after,
                )

    async def _failed(
        self, address: str, detail: str, *, invalid_token: bool = False
    ) -> Unauthorized:
        """The 401 to raise, once the failure is counted against the caller's address."""
        for limit in self._failure_limits:
            await limit.hit(address)
        return Unauthorized(detail, invalid_token=invalid_token)

    def close(self) -> None:
        """Close the connections of the counters' store (Redis), if it has any."""
        self._counters.close()

    def forget(self, key_id: str) -> None:
        """Drop what this process knows of a key, after it changed here."""
        if self._cache is not None:
            self._cache.pop(key_id, None)

    async def limit_batch(self, principal: Principal, items: int) -> None:
        """Count a batch as its number of items; its request was already counted as one."""
        for limit in self._limits:
            if items > limit.item.amount:
                raise InvalidInput(
                    [
                        (
                            "items",
                            f"a batch counts each item against the rate limit of {limit.item}: "
                            f"send at most {limit.item.amount} items at once",
                        )
                    ]
                )
        if items > 1:
            await self.limit(principal, items - 1)

    async def limit(self, principal: Principal, cost: int = 1) -> None:
        """Count `cost` requests against the caller's rate limits, or 429 when one is spent."""
        for limit in self._limits:
            if await limit.hit(principal.scope, cost):
                continue
            retry_after = await limit.retry_after(principal.scope, cost) or 1
            RATE_LIMITED_KEY.inc()
            raise TooManyRequests(
                f"This key's rate limit of {limit.item} is spent; retry in {retry_after} s.",
                retry_after=retry_after,
            )

    async def _lookup(self, key_id: str) -> _KnownKey | None:
        if self._cache is None:
            return await anyio.to_thread.run_sync(self._load, key_id)
        try:
            return self._cache[key_id]
        except KeyError:
            known = await anyio.to_thread.run_sync(self._load, key_id)
            self._cache[key_id] = known
            return known

    def _load(self, key_id: str) -> _KnownKey | None:
        with Session(self._engine) as session:
            key = repository.get(session, key_id)
            if key is None:
                return None
            return _KnownKey(key.hash, Role(key.role), key.revoked_at is not None)
