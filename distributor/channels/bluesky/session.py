"""The AT Protocol side through the ``atproto`` SDK (its ``AsyncClient``): a session from
``com.atproto.server.createSession`` (refreshed by the SDK before it expires, created again
when the server says it expired), and what the SDK's errors mean for a post."""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import TYPE_CHECKING, Any

import httpx

from distributor.plugin import (
    AmbiguousError,
    ChannelError,
    PermanentError,
    SecretFilter,
    TransientError,
    tls_context,
)

REDACTOR = SecretFilter(("atproto", "atproto_client", "atproto_core", "httpx", "httpcore",
                         "distributor.channels.bluesky"))
# The SDK is imported at the first post, not with the channel: importing it takes about a
# second of CPU, which every command that only reads channels.yaml would pay.
if TYPE_CHECKING:
    from atproto import AsyncClient

INSTALL = "install it: pip install 'distributor[bluesky]'"
_PASSWORD_HINT = ("check BSKY_APP_PASSWORD (app_password) and handle: create an app password "
                  "under Settings > Privacy and security > App passwords "
                  "(docs/channels/bluesky.md)")


class Session:
    """One logged-in client per channel, made on first use."""

    def __init__(self, service: str, handle: str, password: str, timeout: float):
        self.service, self.handle, self.password, self.timeout = (service, handle, password,
                                                                  timeout)
        self.client: AsyncClient | None = None
        self.did = ""
        REDACTOR.guard([password])

    async def ready(self) -> AsyncClient:
        if self.client is None:
            await _import_sdk()
            from atproto import AsyncClient
            from atproto_client import exceptions as sdk
            from atproto_client.request import AsyncRequest

            request = AsyncRequest(timeout=httpx.Timeout(self.timeout,
                                                         connect=min(self.timeout, 10.0)),
                                   verify=tls_context())  # not a new one (80 ms) per login
            client = AsyncClient(base_url=self.service, request=request)
            client.on_session_change(self._guard)  # the tokens are secrets from the start
            try:
                await client.login(self.handle, self.password, fetch_bsky_profile=False)
            except sdk.AtProtocolError as exc:
                raise translate(exc, sent=False, what="logging in") from None
            self.client = client
        return self.client

    async def _guard(self, event: Any, session: Any) -> None:
        REDACTOR.guard([session.access_jwt, session.refresh_jwt])
        self.did = str(session.did)

    async def call(self, fn: Any, *, sent: bool, what: str = "the post") -> Any:
        """``await fn(client)``; an expired session is created again once."""
        from atproto_client import exceptions as sdk

        for attempt in (1, 2):
            client = await self.ready()
            try:
                return await fn(client)
            except sdk.AtProtocolError as exc:
                if attempt == 1 and _error_name(exc) in ("ExpiredToken", "InvalidToken"):
                    self.client = None  # log in again, then try once more
                    continue
                raise translate(exc, sent=sent, what=what) from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.request.close()


def _error_name(exc: BaseException) -> str:
    content = getattr(getattr(exc, "response", None), "content", None)
    return str(getattr(content, "error", "") or "")


def _said(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    error, message = getattr(content, "error", None), getattr(content, "message", None)
    if error or message:
        text = f"{error or ''}: {message or ''}".strip(": ")
    else:
        text = f"HTTP {getattr(response, 'status_code', '?')}"
    return REDACTOR.redact(text)


def reset_in(exc: BaseException) -> float | None:
    """Seconds until a rate limit resets (``ratelimit-reset``: epoch seconds)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name in ("ratelimit-reset", "RateLimit-Reset"):
        if name in headers:
            try:
                return max(0.0, float(headers[name]) - time.time())
            except ValueError:
                return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def _import_sdk() -> None:
    """Import the SDK in a thread (about a second of CPU: not on the event loop); a missing
    one pauses the channel with what to install (nothing is lost meanwhile)."""
    try:
        await asyncio.to_thread(importlib.import_module, "atproto")
    except ImportError as exc:
        raise PermanentError(f"the Bluesky channel needs the atproto package ({exc}); "
                             f"{INSTALL}, restart, then resume the channel",
                             pause_channel=True) from None


def translate(exc: BaseException, *, sent: bool, what: str = "the post") -> ChannelError:
    """The channel error an SDK failure becomes."""
    from atproto_client import exceptions as sdk

    cause = exc.__cause__
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(exc, sdk.RateLimitExceededError):
        wait = reset_in(exc)
        shown = f"{wait:.0f} s" if wait is not None else "a while"
        return TransientError(f"Bluesky rate limit reached ({_said(exc)}); next try in {shown}",
                              retry_after=wait, channel_wide=True)
    if isinstance(exc, sdk.UnauthorizedError):
        return PermanentError(f"Bluesky refused the login ({_said(exc)}); {_PASSWORD_HINT}",
                              pause_channel=True)
    if isinstance(exc, sdk.BadRequestError):
        if what == "logging in":
            return PermanentError(f"Bluesky refused the login ({_said(exc)}); "
                                  f"{_PASSWORD_HINT}", pause_channel=True)
        return PermanentError(f"Bluesky refused {what} ({_said(exc)})")
    if isinstance(exc, sdk.InvokeTimeoutError):
        if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout) or not sent:
            return TransientError("Bluesky did not answer in time")
        return AmbiguousError("no answer from Bluesky in time: the post may have been "
                              "published")
    if isinstance(exc, sdk.NetworkError) and response is None:
        if isinstance(cause, httpx.ConnectError) or not sent:
            return TransientError(f"cannot reach Bluesky: {REDACTOR.redact(repr(cause))}")
        return AmbiguousError(f"the connection to Bluesky broke after the post went out "
                              f"({REDACTOR.redact(repr(cause))}): it may have been published")
    if status is not None and (status >= 500 or status in (408, 409)):
        return TransientError(f"Bluesky is unavailable ({status}: {_said(exc)})")
    if status is not None:
        return PermanentError(f"Bluesky refused {what} ({status}: {_said(exc)})")
    return PermanentError(f"Bluesky error: {REDACTOR.redact(str(exc))}")
