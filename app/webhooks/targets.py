"""Which webhook targets are refused: loopback, link-local, private and other reserved
addresses, unless the deployment allows them (`REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS`).

A target is checked when a subscription is saved and again before every attempt, on every
address its host resolves to, so that a name moved to an internal address since is refused
too; a delivery worker keeps a host's verdict a few seconds (`TargetChecks`), so that a
subscription's burst of attempts resolves its host once. Redirects are never followed
(webhooks.delivery), so a public target cannot bounce a delivery inward.
"""

import ipaddress
import socket
import time
from urllib.parse import urlsplit

import anyio

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
VERDICT_SECONDS = 5.0  # how long a worker keeps a host's verdict
MAX_HOSTS = 1000


class RefusedTarget(Exception):
    """The target's host is, or resolves to, an address that is not public."""


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def check_addresses(host: str, infos: list[tuple[object, ...]]) -> None:
    """Refuse unless every address the host resolved to is public."""
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}  # type: ignore[index]
    if not addresses:
        raise RefusedTarget(f"the host '{host}' does not resolve")
    private = sorted(str(address) for address in addresses if not is_public(address))
    if private:
        raise RefusedTarget(
            f"the host '{host}' is a private, loopback or link-local address "
            f"({', '.join(private)}); set REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS=true to "
            "allow internal targets"
        )


def check_target(url: str) -> None:
    """RefusedTarget if the URL's host is not public; blocking (DNS)."""
    host, port = host_port(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedTarget(f"the host '{host}' does not resolve") from None
    check_addresses(host, list(infos))


async def check_target_async(url: str) -> None:
    """As check_target, without blocking the event loop."""
    host, port = host_port(url)
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedTarget(f"the host '{host}' does not resolve") from None
    check_addresses(host, list(infos))


class TargetChecks:
    """check_target_async, each host's verdict (public, or why not) kept `ttl` seconds."""

    def __init__(self, ttl: float = VERDICT_SECONDS) -> None:
        self._ttl = ttl
        self._verdicts: dict[tuple[str, int], tuple[float, str | None]] = {}

    async def check(self, url: str) -> None:
        key = host_port(url)
        now = time.monotonic()
        found = self._verdicts.get(key)
        if found is not None and found[0] > now:
            if found[1] is not None:
                raise RefusedTarget(found[1])
            return
        if len(self._verdicts) >= MAX_HOSTS:
            self._verdicts.clear()
        try:
            await check_target_async(url)
        except RefusedTarget as exc:
            self._verdicts[key] = (now + self._ttl, str(exc))
            raise
        self._verdicts[key] = (now + self._ttl, None)
