"""Which editor bots run: one per bot token that has an enabled channel with ``editors:``."""

from __future__ import annotations

from dataclasses import dataclass, field

from distributor.channels.telegram.config import TelegramConfig
from distributor.channels.telegram.tokens import credential_key
from distributor.plugin import ChannelConfig


@dataclass
class BotGroup:
    """The channels that share one bot token, and the editors of that bot."""

    key: str
    token: str
    api_base_url: str
    timeout: float
    channels: list[TelegramConfig] = field(default_factory=list)
    editors: set[int] = field(default_factory=set)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def mode(self) -> str:
        """``webhook`` when a channel with editors on the token says ``editor_bot: webhook``
        (Telegram sends a token's updates one way only), else ``polling``."""
        return "webhook" if any(c.editors and c.editor_bot == "webhook"
                                for c in self.channels) else "polling"


def editor_bot_groups(channels: list[ChannelConfig]) -> list[BotGroup]:
    """One group per bot token that has at least one enabled channel with editors."""
    groups: dict[str, BotGroup] = {}
    for channel in channels:
        if not isinstance(channel, TelegramConfig):
            continue
        token = channel.token.get_secret_value()
        key = credential_key(token, channel.api_base_url)
        group = groups.setdefault(key, BotGroup(key, token, channel.api_base_url.rstrip("/"),
                                                channel.timeout))
        group.channels.append(channel)
        group.editors.update(channel.editors)
    return [g for g in groups.values() if g.editors]
