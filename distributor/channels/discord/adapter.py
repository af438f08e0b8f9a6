"""The Discord channel: ``type: discord``, posting through a channel's webhook.

    - name: disc
      type: discord
      webhook_url: ${DISCORD_WEBHOOK_URL}     # Server Settings > Integrations > Webhooks
      username: RI News Portal                 # optional: the name the posts show

Every post is ``POST {webhook_url}?wait=true``, so Discord answers with the message and its id
is recorded. Outcomes: 2xx is published; 429 waits Discord's ``retry_after`` (JSON body, else
the Retry-After header) with the whole channel; 5xx and no connection are transient; 401, 403
and 404 (a deleted webhook, a wrong token) pause the channel; any other 4xx is permanent with
Discord's own message; a timeout or a connection lost after the request went out is ambiguous
(Discord webhooks take no idempotency key and cannot list what they posted, so such a post
stays ``unknown`` for an editor). The webhook URL (its token) never reaches a log or an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr

from distributor.channels.discord.render import (
    readable,
    render_discord,
    render_discord_digest,
)
from distributor.plugin import (
    AmbiguousError,
    Article,
    Channel,
    ChannelConfig,
    DigestChannelConfig,
    Message,
    PermanentError,
    RenderContext,
    Seconds,
    SecretFilter,
    SendContext,
    TransientError,
    http_client,
    http_request,
    retry_after_seconds,
)

USER_AGENT = "distributor (+https://github.com/distributor; discord channel)"
_REDACTOR = SecretFilter(("httpx", "httpcore", __name__))


class DiscordConfig(DigestChannelConfig):
    type: Literal["discord"] = "discord"
    webhook_url: SecretStr = Field(description="the channel's webhook URL (it holds its token)")
    username: str | None = Field(default=None, max_length=80,
                                 description="the name the posts show (default: the webhook's)")
    timeout: Seconds = Field(default=15.0, description="seconds to wait for Discord's answer")

    def check_with_site(self, site: Any) -> Iterator[tuple[tuple[str, ...], str]]:
        """The URL is checked here, not by a validator, so that no error ever shows it (it
        holds the webhook's secret); an empty one is the missing variable's error already."""
        yield from super().check_with_site(site)
        url = self.webhook_url.get_secret_value()
        if url and not url.startswith(("https://", "http://")):
            yield ("webhook_url",), ("the webhook URL must start with https:// (copy it from "
                                     "the channel's Integrations > Webhooks > Copy Webhook "
                                     "URL)")


class DiscordChannel(Channel):
    type_name = "discord"
    config_model = DiscordConfig
    preview_style = "chat"
    body_maxlen = 4096          # an embed's description
    title_maxlen = 256          # an embed's title
    rate_per_minute = 30        # Discord: 30 messages a minute per channel through webhooks
    config: DiscordConfig

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        url = self.config.webhook_url.get_secret_value()
        _REDACTOR.guard([url, url.rstrip("/").rsplit("/", 1)[-1]])

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return self._named(render_discord(article, ctx))

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        return self._named(render_discord_digest(articles, ctx))

    def _named(self, messages: list[Message]) -> list[Message]:
        if self.config.username:
            return [{**m, "username": self.config.username} for m in messages]
        return messages

    @classmethod
    def preview_text(cls, message: Message) -> str:
        return readable(message)

    @classmethod
    def preview_image(cls, message: Message) -> str | None:
        for embed in message.get("embeds") or []:
            url = (embed.get("image") or {}).get("url")
            if isinstance(url, str):
                return url
        return None

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        files = super().outbox_files(messages)
        files[".txt"] = ("\n\n---\n\n".join(readable(m) for m in messages) + "\n").encode()
        return files

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        if not message.get("embeds") and not message.get("content"):
            raise PermanentError("a Discord message needs 'content' or 'embeds'")
        response = await self._request("POST", message, params={"wait": "true"}, sent=True)
        if 200 <= response.status_code < 300:
            answer = _json(response)
            message_id = answer.get("id") if isinstance(answer, dict) else None
            if not message_id:
                raise AmbiguousError("Discord accepted the post but returned no message id")
            ctx.log.debug("posted to Discord as message %s", message_id)
            return str(message_id)
        raise self._refusal(response)

    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        """Delete the posted messages (``DELETE {webhook_url}/messages/{id}``)."""
        for remote_id in remote_ids:
            response = await self._request("DELETE", None, path=f"/messages/{remote_id}",
                                           sent=False)
            if response.status_code == 404 and _code(response) == 10008:
                continue  # deleted already
            if not 200 <= response.status_code < 300:
                raise self._refusal(response)

    async def check_online(self) -> str:
        """``GET {webhook_url}``: the webhook's name and channel."""
        response = await self._request("GET", None, sent=False)
        if response.status_code != 200:
            raise self._refusal(response)
        answer = _json(response)
        if not isinstance(answer, dict):
            raise PermanentError("Discord answered the webhook URL with something else than "
                                 "a webhook: check webhook_url")
        return (f"webhook {answer.get('name')!r} posts to channel {answer.get('channel_id')} "
                f"of server {answer.get('guild_id')}")

    # -- HTTP -------------------------------------------------------------------------------
    async def _request(self, method: str, body: Any, *, sent: bool, path: str = "",
                       params: dict[str, str] | None = None) -> httpx.Response:
        url = self.config.webhook_url.get_secret_value().rstrip("/") + path
        async with http_client(self.config.timeout,
                               headers={"User-Agent": USER_AGENT}) as client:
            return await http_request(client, method, url, platform="Discord", sent=sent,
                                      timeout=self.config.timeout, clean=_REDACTOR.redact,
                                      json=body, params=params)

    def _refusal(self, response: httpx.Response) -> Exception:
        status = response.status_code
        said = _said(response)
        if status == 429:
            answer = _json(response)
            wait = None
            if isinstance(answer, dict) and isinstance(answer.get("retry_after"), int | float):
                wait = float(answer["retry_after"])
            if wait is None:
                wait = retry_after_seconds(response.headers.get("retry-after"))
            scope = "globally " if isinstance(answer, dict) and answer.get("global") else ""
            shown = f"{wait:g} s" if wait is not None else "a while"
            return TransientError(f"Discord rate limited the webhook {scope}(retry in {shown})",
                                  retry_after=wait, channel_wide=True)
        if status >= 500:
            return TransientError(f"Discord is unavailable ({status}): {said}",
                                  retry_after=retry_after_seconds(
                                      response.headers.get("retry-after")))
        if status in (401, 403, 404):
            return PermanentError(
                f"Discord refused the webhook ({status}: {said}); it was deleted or its URL is "
                "wrong: copy the webhook URL again into DISCORD_WEBHOOK_URL (webhook_url)",
                pause_channel=True)
        return PermanentError(f"Discord refused the message ({status}): {said}")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _code(response: httpx.Response) -> int | None:
    answer = _json(response)
    return answer.get("code") if isinstance(answer, dict) else None


def _said(response: httpx.Response) -> str:
    """Discord's own words: ``message`` and the first field errors, one line."""
    answer = _json(response)
    if not isinstance(answer, dict):
        return _REDACTOR.redact(response.text.strip().replace("\n", " ")[:200]) or "no reason"
    text = str(answer.get("message") or "")
    problems: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for error in node.get("_errors", []) or []:
                if isinstance(error, dict):
                    problems.append(f"{where}: {error.get('message')}")
            for key, value in node.items():
                if key != "_errors":
                    walk(value, f"{where}.{key}" if where else str(key))

    walk(answer.get("errors"), "")
    if problems:
        text += " (" + "; ".join(problems[:3]) + ")"
    return _REDACTOR.redact(text) or "no reason"
