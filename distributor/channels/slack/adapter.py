"""The Slack channel: ``type: slack``, posting through an incoming webhook.

    - name: slk
      type: slack
      webhook_url: ${SLACK_WEBHOOK_URL}      # https://hooks.slack.com/services/T.../B.../...

Outcomes: Slack answers ``ok`` (published; Slack's webhooks give no message id, so the post's
idempotency key is recorded as its id); 429 waits Slack's Retry-After with the whole channel;
5xx and no connection are transient; ``invalid_token``, ``no_service``, ``channel_not_found``,
``channel_is_archived``, ``action_prohibited`` and the other 403/404/410 answers pause the
channel (the webhook is gone or disabled); another 400 (``invalid_blocks``, ...) fails the
delivery with Slack's reason; a timeout or a connection lost after the request went out is
ambiguous (Slack takes no idempotency key for webhooks: the delivery stays ``unknown`` for an
editor). The webhook URL (its secret) never reaches a log or an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr

from distributor.channels.slack.render import readable, render_slack, render_slack_digest
from distributor.plugin import (
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

USER_AGENT = "distributor (slack channel)"
_REDACTOR = SecretFilter(("httpx", "httpcore", __name__))
#: answers that say the webhook itself cannot post (every post would fail)
_WEBHOOK_GONE = ("invalid_token", "no_service", "no_service_id", "no_team",
                 "channel_not_found", "channel_is_archived", "action_prohibited",
                 "team_disabled", "posting_to_general_channel_denied")


class SlackConfig(DigestChannelConfig):
    type: Literal["slack"] = "slack"
    webhook_url: SecretStr = Field(description="the incoming webhook's URL (it is its secret)")
    timeout: Seconds = Field(default=15.0, description="seconds to wait for Slack's answer")

    def check_with_site(self, site: Any) -> Iterator[tuple[tuple[str, ...], str]]:
        """The URL is checked here, not by a validator, so that no error ever shows it (it
        holds the webhook's secret); an empty one is the missing variable's error already."""
        yield from super().check_with_site(site)
        url = self.webhook_url.get_secret_value()
        if url and not url.startswith(("https://", "http://")):
            yield ("webhook_url",), ("the webhook URL must start with https:// "
                                     "(copy it from your Slack app's Incoming Webhooks page)")


class SlackChannel(Channel):
    type_name = "slack"
    config_model = SlackConfig
    preview_style = "chat"
    body_maxlen = 3000          # a section block's text
    rate_per_minute = 60        # Slack: about one message a second per webhook
    config: SlackConfig

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        url = self.config.webhook_url.get_secret_value()
        _REDACTOR.guard([url, url.rstrip("/").rsplit("/", 1)[-1]])

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return render_slack(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        return render_slack_digest(articles, ctx)

    @classmethod
    def preview_text(cls, message: Message) -> str:
        return readable(message)

    @classmethod
    def preview_image(cls, message: Message) -> str | None:
        for block in message.get("blocks") or []:
            if block.get("type") == "image" and isinstance(block.get("image_url"), str):
                return str(block["image_url"])
        return None

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        files = super().outbox_files(messages)
        files[".txt"] = ("\n\n---\n\n".join(readable(m) for m in messages) + "\n").encode()
        return files

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        if not message.get("text") and not message.get("blocks"):
            raise PermanentError("a Slack message needs 'text' or 'blocks'")
        response = await self._post(message, sent=True)
        if 200 <= response.status_code < 300:
            ctx.log.debug("posted to Slack")
            return ctx.idempotency_key  # Slack's webhooks give no message id
        raise self._refusal(response)

    async def check_online(self) -> str:
        """Post an empty payload: Slack refuses it (``no_text``, nothing is posted) when the
        webhook exists, and answers ``no_service``/``invalid_token``/... when it does not."""
        response = await self._post({}, sent=False)
        said = _said(response)
        if response.status_code == 400 and said not in _WEBHOOK_GONE:
            return f"the incoming webhook answers (Slack said {said!r} to an empty test post)"
        if 200 <= response.status_code < 300:
            return "the incoming webhook answers"
        raise self._refusal(response)

    # -- HTTP -------------------------------------------------------------------------------
    async def _post(self, body: Message, *, sent: bool) -> httpx.Response:
        url = self.config.webhook_url.get_secret_value()
        async with http_client(self.config.timeout,
                               headers={"User-Agent": USER_AGENT}) as client:
            return await http_request(client, "POST", url, platform="Slack", sent=sent,
                                      timeout=self.config.timeout, clean=_REDACTOR.redact,
                                      json=body)

    def _refusal(self, response: httpx.Response) -> Exception:
        status, said = response.status_code, _said(response)
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            shown = f"{wait:g} s" if wait is not None else "a while"
            return TransientError(f"Slack rate limited the webhook (retry in {shown})",
                                  retry_after=wait, channel_wide=True)
        if status >= 500:
            return TransientError(f"Slack is unavailable ({status}: {said})",
                                  retry_after=retry_after_seconds(
                                      response.headers.get("retry-after")))
        if said in _WEBHOOK_GONE or status in (401, 403, 404, 410):
            return PermanentError(
                f"Slack refused the webhook ({status}: {said}); it was removed, disabled or "
                "its channel archived: create a new incoming webhook and put its URL into "
                "SLACK_WEBHOOK_URL (webhook_url)", pause_channel=True)
        return PermanentError(f"Slack refused the message ({status}: {said})")


def _said(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")[:200]
    return _REDACTOR.redact(text) or f"HTTP {response.status_code}"
