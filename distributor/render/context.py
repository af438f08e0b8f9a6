"""What a renderer is given besides the article: the site, the channel, the web address and
the templates. Part of the plugin API (re-exported by :mod:`distributor.plugin`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distributor.config import ChannelConfig, SiteConfig, WebConfig

#: one message as a channel sends it (Contract 3 of DESIGN.md shows each channel's keys)
Message = dict[str, Any]


@dataclass
class RenderContext:
    """What a renderer may look at besides the article."""

    site: SiteConfig
    channel: ChannelConfig
    web: WebConfig
    templates: Any  # distributor.render.Templates
    now: datetime | None = None
