"""Is a sourceIPAddress inside the known networks? One definition for every engine."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

SERVICE_NAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")


@lru_cache(maxsize=65536)
def _networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@lru_cache(maxsize=262144)
def _ip_status(ip: str, cidrs: tuple[str, ...]) -> str:
    text = ip.strip()
    # AWS services call with their service name; "AWS Internal" is an AWS-side caller
    if SERVICE_NAME.match(text) or text in ("AWS Internal", "&AWS; Internal"):
        return "service"
    nets = _networks(cidrs)
    status = "known"
    for part in (p.strip() for p in text.split(",")):
        try:
            addr = ipaddress.ip_address(part.split("%", 1)[0])
        except ValueError:
            return "malformed"
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        if not any(addr.version == n.version and addr in n for n in nets):
            status = "unknown"
    return status


def ip_status(ip: str | None, cidrs: list[str] | None) -> str | None:
    """'known', 'unknown', 'malformed' or 'service' for a sourceIPAddress value."""
    if ip is None:
        return None
    return _ip_status(ip, tuple(cidrs or ()))


# the network a learned baseline keys on: the /24 of an IPv4 address, the /48 of an IPv6 one
LEARNED_PREFIX = {4: 24, 6: 48}


@lru_cache(maxsize=262144)
def _network(text: str) -> str | None:
    nets = []
    for part in (p.strip() for p in text.split(",")):
        try:
            addr = ipaddress.ip_address(part.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        nets.append(str(ipaddress.ip_network(f"{addr}/{LEARNED_PREFIX[addr.version]}", strict=False)))
    return ", ".join(sorted(set(nets)))


def network_of(ip: str | None) -> str | None:
    """'203.0.113.0/24', '2001:db8:1234::/48' (a list: each, joined); None for a service or
    a malformed address."""
    if ip is None or _ip_status(ip, ()) in ("service", "malformed"):
        return None
    return _network(ip.strip())
