"""The public plugin API (Contract 5 of DESIGN.md; docs/plugins.md): all a channel imports from
the core. Third-party channels and the built-in ones are written against it alike."""

from __future__ import annotations

from distributor.articles import Article, RelatedLink
from distributor.clock import utcnow
from distributor.config import ChannelConfig, SiteConfig, Strict, WebConfig
from distributor.plugin.channel import (
    Adapter,
    AmbiguousError,
    ChannelError,
    PermanentError,
    TransientError,
    message_text,
)
from distributor.plugin.desk import (
    DeliveryView,
    Desk,
    DeskError,
    DeskStatus,
    NotFound,
    PickOutcome,
    Placement,
    PushKind,
    PushOutcome,
    Refusal,
    Refused,
    RetryKind,
    RetryOutcome,
)
from distributor.render.context import Message, RenderContext

#: the version of this API; a change that breaks a channel written against it raises the major
API_VERSION = "1.0"

Channel = Adapter

__all__ = [
    "API_VERSION",
    "Adapter",
    "AmbiguousError",
    "Article",
    "Channel",
    "ChannelConfig",
    "ChannelError",
    "DeliveryView",
    "Desk",
    "DeskError",
    "DeskStatus",
    "Message",
    "NotFound",
    "PermanentError",
    "PickOutcome",
    "Placement",
    "PushKind",
    "PushOutcome",
    "Refusal",
    "Refused",
    "RelatedLink",
    "RenderContext",
    "RetryKind",
    "RetryOutcome",
    "SiteConfig",
    "Strict",
    "TransientError",
    "WebConfig",
    "message_text",
    "utcnow",
]
