"""Where webhooks may go: https URLs (http in development) on public addresses only.

An endpoint URL is an instruction, from a partner, to make our servers send requests; left
unchecked it reaches the cloud metadata service, the database or an admin port on the private
network (server-side request forgery). So:

- `url_problem` refuses, when an endpoint is saved, URLs that are not https (http is allowed
  outside production), carry credentials, or name a refused address or `localhost` literally;
- at every attempt the worker resolves the host (`AddressGuard.checked_addresses`) and refuses
  the attempt if any address it resolves to is loopback, private, link-local, unique-local,
  shared, multicast, reserved or a cloud metadata address;
- the connection then goes to an address that was checked (`GuardedBackend`): the host is
  never resolved a second time between the check and the connect, so a DNS answer that
  changes in between (DNS rebinding) cannot get through. TLS still verifies the certificate
  against the host name.

PARTNERDESK_WEBHOOK_ALLOW_PRIVATE=true lets endpoints use private and loopback addresses (tests,
local development); the cloud metadata addresses stay refused even then.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    from config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (as text), in the order to try them
Resolver = Callable[[str, int], Awaitable[list[str]]]

URL_MAX_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
# Instance metadata services: they hand out cloud credentials to whoever asks from inside.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address!)
        "192.0.0.192",  # Oracle Cloud
    )
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
PRIVATE = "a private or reserved network address"
METADATA = "a cloud metadata address"


class BlockedAddress(Exception):
    """The endpoint's host is, or resolves to, an address we do not send to."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} is {reason}")
        self.reason = reason


class UnresolvableHost(OSError):
    """The endpoint's host name does not resolve (no such name, or no address)."""


def _embedded_ipv4(address: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):  # the well-known NAT64 prefix
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _candidates(address: IPAddress) -> Iterator[IPAddress]:
    yield address
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        yield embedded


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why we may not connect to `address` (METADATA, PRIVATE), or None when we may."""
    for candidate in _candidates(address):
        if candidate in METADATA_ADDRESSES:
            return METADATA
    if allow_private:
        return None
    for candidate in _candidates(address):
        if (
            not candidate.is_global
            or candidate.is_private
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
        ):
            return PRIVATE
    return None


def _literal_address(host: str) -> IPAddress | None:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]"))
    return None


def url_problem(url: str, *, production: bool, allow_private: bool) -> str | None:
    """Why `url` cannot be a webhook endpoint (a sentence for the user), or None."""
    if len(url) > URL_MAX_LENGTH:
        return f"The URL is longer than {URL_MAX_LENGTH} characters."
    if any(character.isspace() or ord(character) < 32 for character in url):
        return "The URL must not contain spaces or control characters."
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "This is not a valid URL."
    allowed = ("https",) if production else ("https", "http")
    if parsed.scheme not in allowed:
        if production:
            return "The URL must start with https://."
        return "The URL must start with https:// (or http:// outside production)."
    host = parsed.host
    if not host:
        return "The URL needs a host name."
    if parsed.userinfo:
        return "The URL must not contain a user name or password."
    if parsed.fragment:
        return "The URL must not contain a #fragment."
    if host.lower() in METADATA_HOSTS:
        return f"The URL names {METADATA}."
    literal = _literal_address(host)
    if literal is not None:
        reason = refusal(literal, allow_private)
        return f"The URL names {reason}." if reason else None
    if not allow_private and (host.lower() == "localhost" or host.lower().endswith(".localhost")):
        return f"The URL names {PRIVATE}."
    return None


@dataclass(frozen=True)
class UrlPolicy:
    """What the settings allow: http outside production, private addresses when told to."""

    production: bool
    allow_private: bool

    @classmethod
    def of(cls, settings: Settings) -> UrlPolicy:
        return cls(production=settings.production, allow_private=settings.webhook_allow_private)

    def problem(self, url: str) -> str | None:
        """Why `url` cannot be an endpoint under this policy, or None."""
        return url_problem(url, production=self.production, allow_private=self.allow_private)


def host_and_port(url: httpx.URL) -> tuple[str, int]:
    """The (host, port) httpcore connects to for `url`: the key its addresses are pinned under."""
    return url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS.get(url.scheme, 443)


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the operating system's resolver, IPv4 and IPv6 alike."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UnresolvableHost(f"cannot resolve {host}: {error}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class AddressGuard:
    """Resolves an endpoint's host and refuses it unless every address is one we send to."""

    def __init__(self, allow_private: bool, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or system_resolver

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for (host, port), all checked; BlockedAddress if any
        is refused (a name with one private address among public ones is refused as a whole)."""
        if host.lower() in METADATA_HOSTS:
            raise BlockedAddress(host, METADATA)
        literal = _literal_address(host)
        texts = [str(literal)] if literal is not None else await self.resolver(host, port)
        if not texts:
            raise UnresolvableHost(f"{host} has no address")
        for text in texts:
            reason = refusal(ipaddress.ip_address(text.split("%", 1)[0]), self.allow_private)
            if reason is not None:
                raise BlockedAddress(host, reason)
        return texts


# (host, port) -> the addresses this attempt checked. Set by the worker's task before it sends,
# read by GuardedBackend.connect_tcp in the same task (httpcore connects in the caller's task).
_checked: ContextVar[dict[tuple[str, int], list[str]] | None] = ContextVar(
    "partnerdesk_webhook_checked_addresses", default=None
)


@contextlib.contextmanager
def pinned(host: str, port: int, addresses: list[str]) -> Iterator[None]:
    """Within this block, a new connection to (host, port) goes to `addresses` and nowhere else."""
    token = _checked.set({(host, port): addresses})
    try:
        yield
    finally:
        _checked.reset(token)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses.

    It connects to the addresses the current attempt checked (see `pinned`) and, should a
    connection be opened outside an attempt, resolves and checks the host itself: no socket
    is ever opened to an address that was not checked.
    """

    def __init__(self, guard: AddressGuard, sockets: httpcore.AsyncNetworkBackend | None = None):
        self.guard = guard
        # What opens the sockets, to the addresses given: httpcore's own (a test's, in tests).
        self.inner = sockets or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = (_checked.get() or {}).get((host, port))
        if addresses is None:
            addresses = await self.guard.checked_addresses(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed  # try the host's next address
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "a local socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection GuardedBackend opens.

    httpx takes no network backend; its pool (httpcore's, whose documented option it is) does,
    so the pool is rebuilt with one. No proxy from the environment is used: a proxy would make
    the connection, to wherever the URL says, out of our sight.
    """

    def __init__(
        self,
        guard: AddressGuard,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
        sockets: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard, sockets),
        )
