"""What stands before every route of ``distributor serve``: the request body's size cap and
the reverse proxies whose forwarded headers are believed.

- :class:`BodyLimit`: a body larger than the cap (``web.max_body``; webhooks get
  ``WEBHOOK_BODY``) is answered 413 as soon as that is known: at once when Content-Length
  says so, else while the body streams in. No route ever holds more than the cap in memory.
- :class:`GuardedApp`: the Starlette app behind both; forwarded headers (``X-Forwarded-For``,
  ``X-Forwarded-Proto``) count only from the addresses in ``web.trusted_proxies`` (default:
  none), read by uvicorn's own proxy middleware.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the cap of the webhook routes (a mail provider's batch of bounces)
WEBHOOK_BODY = 1024 * 1024


class BodyLimit:
    """At most ``max_body`` bytes of request body (``webhook_body`` under ``webhooks``)."""

    def __init__(self, app: ASGIApp, *, max_body: int, webhooks: Sequence[str] = (),
                 webhook_body: int = WEBHOOK_BODY):
        self.app = app
        self.max_body = max_body
        self.webhooks = tuple(webhooks)
        self.webhook_body = max(webhook_body, max_body)

    def cap(self, path: str) -> int:
        return self.webhook_body if path.startswith(self.webhooks) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = cap + 1
                if declared > cap:
                    await _too_large(send, cap)
                    return
        seen = 0
        started = answered = False

        async def counted() -> Message:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap and not started:
                    # answer now; the route sees a client that went away
                    answered = True
                    await _too_large(send, cap)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 is the answer; whatever the route says after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not answered:
                raise


async def _too_large(send: Send, cap: int) -> None:
    body = json.dumps({"error": f"the request body is larger than the {cap} bytes allowed"}
                      ).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def guarded(app: ASGIApp, *, max_body: int, trusted_proxies: Sequence[str] = (),
            webhooks: Sequence[str] = ()) -> Any:
    """``app`` behind the body cap, and behind the proxy headers of ``trusted_proxies``
    (none: forwarded headers are ignored, the client is who connected)."""
    wrapped: Any = BodyLimit(app, max_body=max_body, webhooks=webhooks)
    if trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        wrapped = ProxyHeadersMiddleware(wrapped, trusted_hosts=list(trusted_proxies))
    return wrapped


class GuardedApp(Starlette):
    """A Starlette app whose whole stack (its error pages included) sits behind
    :func:`guarded`."""

    def __init__(self, *, max_body: int, trusted_proxies: Sequence[str] = (),
                 webhooks: Sequence[str] = (), **options: Any):
        self.guards: dict[str, Any] = {"max_body": max_body, "webhooks": tuple(webhooks),
                                       "trusted_proxies": tuple(trusted_proxies)}
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return guarded(super().build_middleware_stack(), **self.guards)
