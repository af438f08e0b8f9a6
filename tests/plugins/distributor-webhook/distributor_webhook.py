"""A third-party channel adapter, as a newsroom would write one: POST JSON to a URL.

It is installed by the tests as a separate package and found through the entry-point group
``distributor.channels``, exactly like the built-in adapters.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from distributor.config import ChannelConfig
from distributor.plugin import Adapter, AmbiguousError, PermanentError, TransientError
from distributor.render.context import Message, RenderContext


class WebhookConfig(ChannelConfig):
    type: Literal["webhook"] = "webhook"
    url: str
    timeout: float = 5.0
    parts: int = 1  # >1 sends the article as a small "thread" of that many messages


class WebhookAdapter(Adapter):
    type_name = "webhook"
    config_model = WebhookConfig
    config: WebhookConfig

    def render(self, article: Any, ctx: RenderContext) -> list[Message]:
        return [{"text": f"{article.title} ({i + 1}/{self.config.parts})", "url": article.url,
                 "part": i} for i in range(self.config.parts)]

    async def send(self, message: Message, *, previous_id: str | None = None) -> str:
        body = {**message, "reply_to": previous_id}
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout) as client:
                response = await client.post(self.config.url, json=body)
        except httpx.ConnectError as exc:
            raise TransientError(f"cannot connect: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise AmbiguousError(f"no answer: {exc!r}") from exc
        if response.status_code == 429:
            raise TransientError("rate limited",
                                 retry_after=float(response.headers.get("retry-after", "1")))
        if response.status_code >= 500:
            raise TransientError(f"server error {response.status_code}")
        if response.status_code == 401:
            raise PermanentError("bad credentials", pause_channel=True)
        if response.status_code >= 400:
            raise PermanentError(f"refused: {response.text}")
        return str(response.json()["id"])
