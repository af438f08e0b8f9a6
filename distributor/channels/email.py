"""Email channel adapter: digests and single-article mails over SMTP (aiosmtplib)."""

from __future__ import annotations

import email.policy
import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from distributor.articles import Article
from distributor.channels.base import Adapter, Message, RenderContext
from distributor.config import ChannelConfig, SiteConfig, Strict, validate_cron


class SmtpConfig(Strict):
    host: str
    port: int = 587
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["none", "starttls", "tls"] = "starttls"
    timeout: float = 30.0


class EmailConfig(ChannelConfig):
    type: Literal["email"] = "email"
    from_: str = Field(alias="from")
    smtp: SmtpConfig
    schedule: str | None = Field(default=None, description="cron, in site.timezone (digests)")
    subject: str | None = None
    min_articles: int = Field(default=1, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    rate: float | None = Field(default=None, description="most messages a second")
    reply_to: str | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return validate_cron(value) if value is not None else None

    def check_with_site(self, site: SiteConfig) -> Iterator[tuple[tuple[Any, ...], str]]:
        if self.publish == "digest" and not self.schedule:
            yield ("publish",), ('a digest channel needs schedule: (a cron such as "0 6 * * *", '
                                 "in site.timezone)")


class EmailAdapter(Adapter):
    type_name = "email"
    config_model = EmailConfig
    supports_digest = True
    config: EmailConfig

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.email import render_article_email

        return render_article_email(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        from distributor.render.email import render_digest_email

        return render_digest_email(articles, ctx)

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """The first mail as a real ``.eml`` (placeholders kept), the messages as JSON and
        the plain-text part as ``.txt``."""
        from distributor.render.email import build_mime

        if not messages:
            return super().outbox_files(messages)
        first = messages[0]
        mime = build_mime(first, sender=self.config.from_)
        return {
            ".eml": mime.as_bytes(policy=email.policy.default),
            ".json": json.dumps(messages, ensure_ascii=False, indent=2).encode("utf-8") + b"\n",
            ".txt": str(first.get("text") or "").encode("utf-8"),
        }
