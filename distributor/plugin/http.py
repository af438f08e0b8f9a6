"""HTTP for channels: one client recipe and one reading of what a failed request means.

* :func:`http_client` makes an ``httpx.AsyncClient`` that shares the process's one TLS context.
  Building a TLS context reads the whole CA bundle (80 ms of CPU here); a client made per post
  paid that for every post.
* :func:`http_request` sends one request and turns a failure before an answer into the
  plugin API's errors: nothing went out (cannot connect) is transient; no answer or a
  connection that broke after the request went out is ambiguous when the request may have
  been carried out (``sent``), so the core checks before it sends again.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import httpx

from distributor.plugin.errors import AmbiguousError, TransientError

#: a platform's connection attempt never waits longer than this, whatever ``timeout`` says
CONNECT_TIMEOUT_MAX = 10.0


@cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for clients, as httpx makes it by default (certifi's CA
    bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set); made once."""
    return httpx.create_ssl_context()


def http_client(timeout: float, *, connect: float | None = None,
                headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with ``timeout`` seconds per request (``connect``: for the
    connection, at most :data:`CONNECT_TIMEOUT_MAX` by default) and the shared TLS context.
    Further keyword arguments go to httpx."""
    limit = connect if connect is not None else min(timeout, CONNECT_TIMEOUT_MAX)
    kwargs.setdefault("verify", tls_context())
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=limit),
                             headers=dict(headers or {}), **kwargs)


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def http_request(client: httpx.AsyncClient, method: str, url: str, *, platform: str,
                       sent: bool, timeout: float, what: str = "the message",
                       clean: Callable[[str], str] = str, **kwargs: Any) -> httpx.Response:
    """``client.request(method, url, **kwargs)``. A failure before an answer raises
    :class:`~distributor.plugin.TransientError` (nothing went out), or, when ``sent`` (the
    request may have been carried out: a post), :class:`~distributor.plugin.AmbiguousError`
    naming ``what`` may have been posted. ``platform`` names the other side in the message;
    ``clean`` removes secrets from the transport's own words (a token in a URL)."""
    try:
        return await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransientError(f"cannot connect to {platform}: {clean(_said(exc))}") from None
    except httpx.TimeoutException:
        if not sent:
            raise TransientError(f"{platform} did not answer in time") from None
        raise AmbiguousError(f"no answer from {platform} within {timeout:g} s: {what} may have "
                             "been posted") from None
    except httpx.HTTPError as exc:
        if not sent:
            raise TransientError(f"{platform} did not answer: {clean(_said(exc))}") from None
        raise AmbiguousError(f"the connection to {platform} broke after {what} went out "
                             f"({clean(_said(exc))}): it may have been posted") from None
