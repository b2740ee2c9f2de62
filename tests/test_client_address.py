"""The caller's address behind trusted proxies: every shape of X-Forwarded-For entry that
proxies write is read, and anything unreadable falls back to the peer, never to None."""

from __future__ import annotations

import ipaddress

import pytest

from schema.client_address import parse_forwarded_address, resolve_client_ip

PROXY = "10.0.0.1"
TRUSTED = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
    ],
)
def test_every_shape_of_forwarded_address_is_read(entry: str, address: str) -> None:
    assert str(parse_forwarded_address(entry)) == address


@pytest.mark.parametrize(
    "entry",
    [
        "unknown",
        "garbage",
        "",
        "1.2.3.4:",
        "1.2.3.4:99999",
        "1.2.3.4:port",
        "[2001:db8::1",
        "[2001:db8::1]443",
        "[2001:db8::1]:",
        "[1.2.3.4]",
        "2001:db8::1:443:extra:bits:too:many",
        "_hidden",
    ],
)
def test_anything_else_is_not_an_address(entry: str) -> None:
    assert parse_forwarded_address(entry) is None


@pytest.mark.parametrize(
    "forwarded_for", ["unknown", "garbage", "1.2.3.4:99999", "[2001:db8::1", "203.0.113.9, junk"]
)
def test_an_unreadable_entry_from_a_trusted_proxy_gives_the_peer(forwarded_for: str) -> None:
    # given: our proxy forwards a header whose nearest entry we cannot read
    # when
    found = resolve_client_ip(PROXY, forwarded_for, TRUSTED)
    # then: the per-IP limits still have a key
    assert found == PROXY


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("198.51.100.7, 1.2.3.4", "1.2.3.4"),
        ("1.2.3.4, 10.0.0.2", "1.2.3.4"),
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),
    ],
)
def test_the_nearest_untrusted_hop_is_the_client(forwarded_for: str, client: str) -> None:
    assert resolve_client_ip(PROXY, forwarded_for, TRUSTED) == client


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert resolve_client_ip("203.0.113.5", "1.2.3.4", TRUSTED) == "203.0.113.5"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert resolve_client_ip(PROXY, None, TRUSTED) == PROXY
