"""Which webhook targets are refused: loopback, link-local, private and other reserved
addresses, unless the deployment allows them (`REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS`).

A target is checked when a subscription is saved and again before every attempt, on every
address its host resolves to, so that a name moved to an internal address since is refused
too. Redirects are never followed (webhooks.delivery), so a public target cannot bounce a
delivery inward.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import anyio

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


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
