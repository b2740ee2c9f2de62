"""The caller's IP address, for per-IP rate limits: the peer, or behind trusted proxies the
nearest X-Forwarded-For entry that is not itself a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def client_ip(connection: HTTPConnection, trusted_proxies: Sequence[Network]) -> str | None:
    """The caller's address: the peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For entry that is not itself a trusted proxy."""
    peer = connection.client.host if connection.client else None
    chain = [peer] if peer else []
    forwarded = connection.headers.get("x-forwarded-for")
    if forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()] + chain
    for address in reversed(chain):
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address if address == peer else None
        if not any(ip in network for network in trusted_proxies):
            return str(ip)
    return chain[0] if chain else None
