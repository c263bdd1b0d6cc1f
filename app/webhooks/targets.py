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


# Ranges that the standard library counts as global but that no public target lives in:
# IANA's special-purpose registries mark them not globally reachable (documentation, local
# NAT64, SRv6 identifiers, the IETF protocol block) or deprecated (site-local).
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",
        "64:ff9b:1::/48",
        "3fff::/20",
        "5f00::/16",
        "fec0::/10",
    )
)
# IPv6 forms that carry an IPv4 address in their last 32 bits, which a translator or a
# dual-stack host may reach: NAT64's well-known prefix, IPv4-compatible and IPv4-translated
# addresses. An address in one is as public as the IPv4 address it carries.
_CARRIES_IPV4 = tuple(
    ipaddress.ip_network(network) for network in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)


def is_public(address: Address) -> bool:
    """Whether `address`, and every IPv4 address it carries (mapped, NAT64, 6to4,
    Teredo), is globally reachable unicast."""
    return all(
        each.is_global
        and not each.is_multicast
        and not any(each in network for network in _NOT_GLOBAL)
        for each in _carried(address)
    )


def _carried(address: Address) -> list[Address]:
    """The address itself and the IPv4 addresses an IPv6 address embeds."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    found: list[Address] = [address]
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _CARRIES_IPV4):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


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
