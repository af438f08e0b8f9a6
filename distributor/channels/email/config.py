"""The email channel's configuration: the SMTP server and the channel's keys in channels.yaml
(``type: email``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from distributor.plugin import (
    ChannelConfig,
    Duration,
    Seconds,
    SiteConfig,
    Strict,
    validate_cron,
)


class SmtpConfig(Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535,
                      description="587 for STARTTLS, 465 for TLS, 25 for a local relay")
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["none", "starttls", "tls"] = "starttls"
    timeout: Seconds = 30.0
    verify: bool = Field(default=True, description="check the server's TLS certificate")
    ca_file: Path | None = Field(default=None, description="CA bundle for a private server")
    local_hostname: str | None = Field(default=None, description="the name said in EHLO")
    max_messages_per_connection: int | None = Field(
        default=None, ge=1, description="reconnect after this many messages (some servers "
        "limit it)")


class EmailConfig(ChannelConfig):
    type: Literal["email"] = "email"
    from_: str = Field(alias="from")
    title: str | None = Field(default=None, description="the list's public name on the "
                              "subscribe pages and in its mails (default: the channel's name)")
    description: str | None = Field(default=None, description="one sentence under the title "
                                    "on the subscribe page: what the list sends and how often")
    smtp: SmtpConfig
    schedule: str | None = Field(default=None, description="cron, in site.timezone (digests)")
    subject: str | None = None
    min_articles: int = Field(default=1, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    rate: float | None = Field(default=None, description="most messages a second")
    reply_to: str | None = None
    return_path: str | None = Field(
        default=None, description="envelope sender (where bounces go); default: the From "
        "address")
    retry_delays: list[Duration] = Field(
        default_factory=lambda: [timedelta(minutes=1), timedelta(minutes=5)],
        description="a recipient answered with a 4xx is tried again after each of these; "
        "then it counts as failed for this mail")
    confirm_ttl: Duration = Field(default=timedelta(days=7),
                                  description="how long a confirmation link works")
    unsubscribe_mailto: str | None = Field(
        default=None, description="an address for List-Unsubscribe by mail, besides the https "
        "link (mail to it with the subject 'unsubscribe TOKEN' is for you to process)")
    max_cards: int = Field(default=30, ge=1, le=200,
                           description="most article cards in one digest; the rest are linked "
                           "to the site (the HTML also stays under Gmail's 102 KB clip)")
    bounce_secret: SecretStr | None = Field(
        default=None, description="shared secret of POST /webhooks/bounce (Authorization: "
        "Bearer SECRET)")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return validate_cron(value) if value is not None else None

    @field_validator("from_", "reply_to", "return_path", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _, address = parseaddr(value)
        local, _, domain = address.rpartition("@")
        if not local or not domain.strip(".") or any(c.isspace() for c in address):
            raise ValueError(f"{value!r} has no email address; write it like "
                             '"RI News Portal <redaksi@rinews.example>" or redaksi@rinews.example')
        return value

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be more than zero messages a second (or leave it out)")
        return value

    def check_with_site(self, site: SiteConfig) -> Iterator[tuple[tuple[Any, ...], str]]:
        if self.publish == "digest" and not self.schedule:
            yield ("publish",), ('a digest channel needs schedule: (a cron such as "0 6 * * *", '
                                 "in site.timezone)")
