"""The webhook channel: ``type: webhook`` in channels.yaml.

    - name: hook
      type: webhook
      url: https://cms.example/hooks/news     # required
      secret: ${HOOK_SECRET}                   # optional: signs every body
      publish: digest                          # instant (default) | digest | manual
      schedule: "0 6 * * *"                    # for publish: digest

Every request is one JSON object (``Content-Type: application/json``) with the headers
``Idempotency-Key`` (the same for a retry of the same post, so a receiver can drop a repeat)
and, with ``secret``, ``X-Distributor-Signature: sha256=<hex HMAC-SHA256 of the body>``.

Outcomes: 2xx is published (the answer's ``{"id": ...}`` is kept as the post's id); 429 and
5xx are transient (Retry-After honoured); 401 pauses the channel (bad credentials: a wrong
secret or URL); any other 4xx is permanent; no connection is transient; a timeout or a
connection lost after the request went out is ambiguous (the post may have arrived).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from distributor.plugin import (
    Article,
    Channel,
    DigestChannelConfig,
    Message,
    PermanentError,
    RenderContext,
    Seconds,
    SendContext,
    TransientError,
    http_client,
    http_request,
    retry_after_seconds,
)

SIGNATURE_HEADER = "X-Distributor-Signature"
USER_AGENT = "distributor-webhook/1.0"


class WebhookConfig(DigestChannelConfig):
    type: Literal["webhook"] = "webhook"
    url: str = Field(description="where to POST (http or https)")
    secret: SecretStr | None = Field(
        default=None, description="signs every body: X-Distributor-Signature: sha256=<hex>")
    timeout: Seconds = Field(default=10.0, description="seconds to wait for the answer")
    connect_timeout: Seconds = Field(default=5.0, description="seconds to connect")
    parts: int = Field(default=1, ge=1, le=10,
                       description="post each article as this many numbered parts (a receiver "
                       "that builds threads; each part names the one before in reply_to)")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for this body: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class WebhookChannel(Channel):
    type_name = "webhook"
    api_version = "1.2"  # it uses http_client and http_request
    config_model = WebhookConfig
    config: WebhookConfig

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        post = {"type": "article", "channel": self.config.name, "site": ctx.site.name,
                "id": article.id, "title": article.title, "url": article.url,
                "lede": article.lede, "published": _iso(article.published),
                "author": article.author, "image": article.image, "tags": list(article.tags)}
        parts = self.config.parts
        if parts == 1:
            return [{**post, "text": article.title}]
        return [{**post, "part": i + 1, "parts": parts,
                 "text": f"{article.title} ({i + 1}/{parts})"} for i in range(parts)]

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        """One object listing every article of the digest, in order."""
        when = _iso(ctx.now)
        items = [{"id": a.id, "title": a.title, "url": a.url, "lede": a.lede,
                  "published": _iso(a.published)} for a in articles]
        text = "\n\n".join(f"{a.title}\n{a.url}" for a in articles)
        return [{"type": "digest", "channel": self.config.name, "site": ctx.site.name,
                 "until": when, "count": len(items), "articles": items, "text": text}]

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        body = json.dumps({**message, "reply_to": ctx.previous_id}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "Idempotency-Key": ctx.idempotency_key}
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.config.secret.get_secret_value(), body)
        async with http_client(self.config.timeout,
                               connect=self.config.connect_timeout) as client:
            # the receiver by its host alone: a webhook URL often carries its secret
            response = await http_request(client, "POST", self.config.url,
                                          platform=urlsplit(self.config.url).hostname or "webhook",
                                          sent=True, timeout=self.config.timeout,
                                          what="the post", clean=self._without_url,
                                          content=body, headers=headers)
        return self._outcome(response, ctx)

    def _without_url(self, text: str) -> str:
        return text.replace(self.config.url, "<the webhook url>")

    def _outcome(self, response: httpx.Response, ctx: SendContext) -> str:
        status = response.status_code
        said = response.text.strip().replace("\n", " ")[:200]
        if 200 <= status < 300:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            remote = answer.get("id") if isinstance(answer, dict) else None
            ctx.log.debug("posted (HTTP %s)", status)
            return str(remote) if remote not in (None, "") else ctx.idempotency_key
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            reason = "rate limited (429)" if status == 429 else f"server error {status}"
            raise TransientError(reason, retry_after=wait)
        if status == 401:  # the receiver does not know us: every post would fail
            raise PermanentError("bad credentials", pause_channel=True)
        raise PermanentError(f"refused: {said}" if said else f"refused ({status})")

