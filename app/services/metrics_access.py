"""Who may read `/metrics`: clients whose address is in `api.metrics_allow`.

The series name every route, status and rate and cost gauge: useful to an attacker mapping the
service, and each scrape costs the server a full exposition. The default list is this host and
the private networks a scraper sits in (compose, Kubernetes); `[]` turns the endpoint off.

A request that a proxy forwarded (it carries `X-Forwarded-For` or `Forwarded`) while no proxy
is trusted (`api.trusted_proxies` empty) is refused: the socket peer is then the proxy (often
127.0.0.1), not the client, whose address is unknown. With trusted proxies, uvicorn has already
replaced the peer by the forwarded client address, and that address is what the list checks.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from app.core.errors import Forbidden
from app.core.settings import Settings

FORWARDING_HEADERS = ("x-forwarded-for", "forwarded")


@lru_cache(maxsize=32)
def _networks(allow: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allow)


def address_allowed(address: str, allow: tuple[str, ...]) -> bool:
    """Whether `address` (an IP; anything else is refused) is in one of the `allow` networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(ip in net for net in _networks(allow) if net.version == ip.version)


def check_metrics_access(*, settings: Settings, client_ip: str, forwarded: bool) -> None:
    """Forbidden unless the client may read the metrics."""
    api = settings.api
    if forwarded and not api.trusted_proxies:
        raise Forbidden(
            "/metrics is not served through an untrusted proxy; scrape it directly, or list "
            "the proxy in api.trusted_proxies"
        )
    if not address_allowed(client_ip, tuple(api.metrics_allow)):
        raise Forbidden("/metrics is served only to the addresses in api.metrics_allow")
