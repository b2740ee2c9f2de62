"""The caller's IP address, as the per-IP rate limits key it.

Behind a trusted proxy (PARTNERDESK_TRUSTED_PROXIES) the address comes from
X-Forwarded-For, whose entries proxies write in several shapes: `1.2.3.4`,
`1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`. An entry that is
none of these (`unknown`, junk) falls back to the peer's address: a client must not be
able to switch its rate limits off by sending a header we cannot read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
    return address


def parse_forwarded_address(entry: str) -> IPAddress | None:
    """The IP address in one X-Forwarded-For entry (port and brackets removed), or None."""
    text = entry.strip()
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or not (rest == "" or (rest.startswith(":") and _port(rest[1:]))):
            return None
        address = _address(host)
        return address if isinstance(address, ipaddress.IPv6Address) else None
    if text.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        host, _, port = text.partition(":")
        address = _address(host) if _port(port) else None
        return address if isinstance(address, ipaddress.IPv4Address) else None
    return _address(text)


def resolve_client_ip(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IPNetwork]
) -> str | None:
    """The peer, or, when the peer is a trusted proxy, the nearest X-Forwarded-For entry
    that is not itself a trusted proxy; an unreadable entry gives the peer.

    None only without a peer (no TCP connection) and without a readable entry.
    """

    def trusted(address: IPAddress) -> bool:
        return any(address in network for network in trusted_proxies)

    peer_address = _address(peer) if peer else None
    if peer is not None and peer_address is None:
        return peer  # not an IP (a test client's name): the best key there is
    if peer_address is not None and not trusted(peer_address):
        return str(peer_address)
    fallback = str(peer_address) if peer_address is not None else None
    entries = [entry for entry in (forwarded_for or "").split(",") if entry.strip()]
    nearest = fallback
    for entry in reversed(entries):
        address = parse_forwarded_address(entry)
        if address is None:
            return fallback
        nearest = str(address)
        if not trusted(address):
            return nearest
    return nearest  # every hop is a trusted proxy: the farthest one


def client_ip(connection: HTTPConnection, trusted_proxies: Sequence[IPNetwork]) -> str | None:
    """The caller's address for a request or websocket (see resolve_client_ip)."""
    peer = connection.client.host if connection.client else None
    return resolve_client_ip(peer, connection.headers.get("x-forwarded-for"), trusted_proxies)


def trusted_networks(entries: Sequence[str]) -> list[IPNetwork]:
    """PARTNERDESK_TRUSTED_PROXIES (IPs or CIDRs, validated at start) as networks."""
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]
