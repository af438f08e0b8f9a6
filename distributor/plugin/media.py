"""Images for channels: one downloader for every platform (part of the plugin API).

A channel whose platform cannot fetch an article's image by its URL (or takes images only as
uploads) gets the bytes here::

    from distributor.plugin.media import ImageError, download_image

    try:
        data, media_type = await download_image(url, max_bytes=10 * 1024 * 1024, timeout=20)
    except ImageError as exc:
        ...  # post without the image; str(exc) says why, for the log

The image's type is judged by its first bytes (servers often label images wrongly), and only
the types in ``accept`` are taken. The size cap holds while the body streams in: a larger
image is never read whole.

Image URLs come from feeds and article files, so from strangers: the downloader never connects
to a loopback, private, link-local, multicast or reserved address. It checks the addresses a
host name resolves to, connects to the very address it checked (a second DNS answer cannot
slip in), and does so on every redirect hop (at most ``MAX_REDIRECTS``). A newsroom whose
images live on its own network (an intranet CMS) names those hosts in ``allow_hosts``: host
names (``cms.intranet``), addresses or networks (``10.20.0.0/16``): channels pass
``self.site.image_allow_hosts`` (channels.yaml's ``site.image_allow_hosts``). Proxy variables
of the environment are not used for these downloads.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection, Iterable
from typing import Any

import anyio
import httpcore
import httpx

from distributor.plugin.http import tls_context

#: media types :func:`download_image` recognises by their first bytes
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp",
                         "image/tiff"})

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"BM", "image/bmp"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))

#: declared types that are certainly no image: the body is not read
_NOT_IMAGES = ("text/", "application/json", "application/xml", "application/xhtml")


#: redirects followed at most, each hop checked like the first
MAX_REDIRECTS = 5

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ImageError(Exception):
    """The image could not be had: unreachable, refused, too large, or not an image of the
    accepted types. The message says which, in words for a log line."""


class _Refused(Exception):
    """A connection the policy forbids (raised before any packet is sent)."""


def address_problem(address: str) -> str | None:
    """Why a server may not fetch from ``address`` ("a loopback address", ...), else None."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, words in (("is_loopback", "a loopback address"),
                        ("is_link_local", "a link-local address"),
                        ("is_multicast", "a multicast address"),
                        ("is_unspecified", "an unspecified address"),
                        ("is_reserved", "a reserved address"),
                        ("is_private", "a private address")):
        if getattr(ip, test):
            return words
    return None if ip.is_global else "not a public address"


class HostPolicy:
    """Which hosts a download may reach: every public address, plus ``allow_hosts`` (names,
    addresses or networks) however private."""

    def __init__(self, allow_hosts: Iterable[str] = ()):
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in allow_hosts:
            text = entry.strip().lower().strip("[]")
            if not text:
                continue
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self.names.add(text.rstrip("."))

    def problem(self, host: str, address: str) -> str | None:
        """Why ``host`` at ``address`` is refused, else None."""
        if host.lower().strip("[]").rstrip(".") in self.names:
            return None
        why = address_problem(address)
        if why is None:
            return None
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.networks):
            return None
        return why


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses forbidden addresses, connects to a checked one."""

    def __init__(self, policy: HostPolicy):
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no DNS answer for {host}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc.strerror or exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        refused = []
        for address in addresses:
            why = self.policy.problem(host, address)
            if why is None:
                return await self.inner.connect_tcp(address, port, timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            refused.append((address, why))
        address, why = refused[0] if refused else ("no address", "unresolvable")
        shown = host if host == address else f"{host} ({address})"
        raise _Refused(f"refused to fetch from {shown}: {why}; a newsroom's own image "
                       "server goes in site.image_allow_hosts")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise _Refused("refused to fetch from a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport on a connection pool whose connections go through
    :class:`_GuardedBackend` (httpx takes no network backend of its own)."""

    def __init__(self, policy: HostPolicy):  # the pool is all the parent keeps
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(), max_connections=4,
            network_backend=_GuardedBackend(policy))


def image_type(data: bytes) -> str | None:
    """The media type of an image by its first bytes ("image/png", ...), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def _names(types: Collection[str]) -> str:
    return ", ".join(sorted(t.removeprefix("image/").upper() for t in types))


async def download_image(url: str, *, max_bytes: int, timeout: float,
                         accept: Collection[str] = IMAGE_TYPES,
                         user_agent: str = "distributor (+image for a post)",
                         allow_hosts: Iterable[str] = ()) -> tuple[bytes, str]:
    """The image at ``url`` (http or https, redirects followed): its bytes and media type.

    Raises :class:`ImageError` when it cannot be fetched (no answer, an HTTP error status),
    when a hop leads to an address a server must not fetch from (loopback, private,
    link-local, reserved; unless its host or network is in ``allow_hosts``), when it is
    larger than ``max_bytes`` (said by Content-Length, or found while streaming), or when it
    is not an image of a type in ``accept``.
    """
    if not url.startswith(("http://", "https://")):
        raise ImageError(f"{url!r} is not an http(s) URL")
    transport = _GuardedTransport(HostPolicy(allow_hosts))
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True,
                                     max_redirects=MAX_REDIRECTS, transport=transport,
                                     trust_env=False, headers={"User-Agent": user_agent}
                                     ) as client, \
                client.stream("GET", url) as answer:
            if answer.status_code >= 400:
                raise ImageError(f"the server answered {answer.status_code} "
                                 f"{answer.reason_phrase}".rstrip())
            declared_type = answer.headers.get("content-type", "").lower()
            if declared_type.startswith(_NOT_IMAGES):
                raise ImageError(f"not an image but {declared_type.split(';')[0]}")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ImageError(f"{declared} bytes, more than the {max_bytes} bytes allowed")
            data = bytearray()
            async for chunk in answer.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ImageError(f"larger than the {max_bytes} bytes allowed")
    except _Refused as exc:
        raise ImageError(str(exc)) from None
    except httpx.TooManyRedirects:
        raise ImageError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.HTTPError as exc:
        raise ImageError(f"cannot fetch it: {str(exc) or type(exc).__name__}") from exc
    media_type = image_type(bytes(data[:16]))
    if media_type is None or media_type not in accept:
        found = media_type or declared_type.split(";")[0] or "unknown type"
        raise ImageError(f"not an image of a type taken here ({_names(accept)}): {found}")
    return bytes(data), media_type
