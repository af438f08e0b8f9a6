"""The receiving side of webhook editor bots in ``distributor serve``: one Starlette route per
receiver (``POST {prefix}{secret_path}``), handing the request to the channel's own code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route


class WebhookReceiver(Protocol):
    prefix: str

    @property
    def active(self) -> bool: ...

    async def receive(self, path: str, headers: Mapping[str, str],
                      body: bytes) -> tuple[int, str]: ...


def webhook_routes(receiver: WebhookReceiver) -> list[BaseRoute]:
    """``POST {prefix}{secret_path}`` for a receiver with bots to feed (none without)."""
    if not receiver.active:
        return []

    async def receive(request: Request) -> Response:
        status, text = await receiver.receive(str(request.path_params.get("secret_path", "")),
                                              request.headers, await request.body())
        if status == 200 and not text:
            return Response(status_code=200)
        return PlainTextResponse(text, status_code=status)

    return [Route(receiver.prefix + "{secret_path}", receive, methods=["POST"],
                  name="editor_webhook")]
