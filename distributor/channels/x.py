"""X (Twitter) channel adapter: threads through tweepy's Client (OAuth 1.0a user context)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from distributor.articles import Article
from distributor.channels.base import Adapter, Message, RenderContext
from distributor.config import ChannelConfig


class XConfig(ChannelConfig):
    type: Literal["x"] = "x"
    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr
    api_base_url: str = "https://api.twitter.com"
    max_posts: int = Field(default=4, ge=1, le=25)
    link_position: Literal["first", "last"] = "last"
    numbering: bool = False
    hashtags: bool = False
    max_posts_per_day: int | None = None
    image: bool = False
    timeout: float = 20.0


class XAdapter(Adapter):
    type_name = "x"
    config_model = XConfig
    body_maxlen = 280
    rate_per_minute = 30
    config: XConfig

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.x import render_x

        return render_x(article, ctx)
