"""The configuration of a Telegram channel (its keys in channels.yaml) and its quiet hours."""

from __future__ import annotations

import re
from datetime import time as clock_time
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from distributor.plugin import DigestChannelConfig, Seconds

_QUIET_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def parse_quiet_hours(value: str) -> tuple[clock_time, clock_time]:
    """``"22:00-06:00"`` -> (22:00, 06:00); the window may cross midnight."""
    match = _QUIET_HOURS.fullmatch(value)
    if match is not None:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return clock_time(h1, m1), clock_time(h2, m2)
    raise ValueError(f'{value!r} is not a time window; write it like "22:00-06:00" (24-hour '
                     "clock, site timezone; start and end must differ)")


def in_window(now: clock_time, window: tuple[clock_time, clock_time]) -> bool:
    """True when ``now`` is in [start, end) (a window across midnight wraps)."""
    start, end = window
    if start < end:
        return start <= now < end
    return now >= start or now < end


class TelegramConfig(DigestChannelConfig):  # + schedule, min_articles: publish: digest
    type: Literal["telegram"] = "telegram"
    chat_id: str | int
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    hashtags: bool = False
    quiet_hours: str | None = Field(
        default=None, description='e.g. "22:00-06:00" (site timezone): posts in this window '
                                  "go out without a notification sound")
    timeout: Seconds = 20.0
    editors: list[int] = Field(
        default_factory=list,
        description="Telegram user ids of the editors who may push articles by talking to this "
                    "channel's bot (the bot then runs inside `distributor run`)")
    editor_bot: Literal["polling", "webhook"] = Field(
        default="polling",
        description="how the editor bot receives messages: `polling` (getUpdates long polling "
                    "inside `distributor run`) or `webhook` (`distributor serve` registers "
                    "web.base_url + /telegram/<secret path> with setWebhook at startup and "
                    "answers there; needs web.secret_key and a base_url Telegram can reach "
                    "over HTTPS; `distributor run` then does not poll this token). Channels "
                    "sharing a token share the bot: one of them saying webhook is enough")
    observer_token: SecretStr | None = Field(
        default=None,
        description="token of a second bot that is an administrator of the channel: Telegram "
                    "shows it the channel's posts, which finds a post whose answer was lost "
                    "(Telegram does not send a bot updates about its own posts)")
    reconcile_wait: Seconds = Field(
        default=2.0, ge=0,
        description="seconds to look for a post among the channel's posts when Telegram did "
                    "not answer the request that sent it (0: one look, no waiting)")

    @field_validator("quiet_hours")
    @classmethod
    def _valid_window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value
