"""Telegram channel adapter (Bot API through python-telegram-bot)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from distributor.articles import Article
from distributor.channels.base import Adapter, Message, RenderContext
from distributor.config import ChannelConfig


class TelegramConfig(ChannelConfig):
    type: Literal["telegram"] = "telegram"
    chat_id: str | int
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    hashtags: bool = False
    quiet_hours: str | None = Field(default=None, description='e.g. "22:00-06:00", site timezone')
    timeout: float = 20.0


class TelegramAdapter(Adapter):
    type_name = "telegram"
    config_model = TelegramConfig
    body_maxlen = 4096
    rate_per_minute = 20
    config: TelegramConfig

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.telegram import render_telegram

        return render_telegram(article, ctx)
