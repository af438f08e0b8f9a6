"""What a renderer is given besides the article: the site, the channel, the web address and
the templates. Part of the plugin API (re-exported by :mod:`distributor.plugin`)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    #: a digest's notices (API 1.1): retractions and corrections of articles of earlier
    #: digests, each a dict with ``action`` (retract | correct), ``title``, ``url``,
    #: ``reason``, ``note``; a digest opens with them
    notices: list[dict[str, Any]] = field(default_factory=list)
