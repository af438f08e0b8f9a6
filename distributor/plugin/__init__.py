"""The public plugin API (Contract 5 of DESIGN.md; docs/plugins.md): all a channel imports
from the core. Third-party channels and the built-in ones are written against it alike.

Versioned: :data:`API_VERSION` is ``MAJOR.MINOR``; minor releases only add.
"""

from __future__ import annotations

from distributor.articles import Article, RelatedLink
from distributor.clock import utcnow
from distributor.config import (
    ChannelConfig,
    Duration,
    Seconds,
    SiteConfig,
    Strict,
    WebConfig,
    validate_cron,
)
from distributor.logs import SecretFilter
from distributor.plugin.capabilities import (
    Correcting,
    PostAddresses,
    Reconciling,
    Retracting,
    capabilities,
    sends_digests,
)
from distributor.plugin.channel import Adapter, Channel, message_text
from distributor.plugin.context import ChannelLog, DigestContext, SendContext
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
from distributor.plugin.digest import DigestChannel, DigestChannelConfig
from distributor.plugin.env import ChannelEnv
from distributor.plugin.errors import (
    AmbiguousError,
    ChannelBusy,
    ChannelError,
    PermanentError,
    TransientError,
)
from distributor.plugin.state import MemoryState, StateStore
from distributor.plugin.version import API_VERSION
from distributor.render import (
    Templates,
    channel_template,
    hashtags,
    language_of,
    lead_and_rest,
    templates_for,
    title_repeats_lede,
    words,
)
from distributor.render.context import Message, RenderContext
from distributor.text import slugify
from distributor.text.cuts import cut, lede_excerpt

__all__ = [
    "API_VERSION",
    "Adapter",
    "AmbiguousError",
    "Article",
    "Channel",
    "ChannelBusy",
    "ChannelConfig",
    "ChannelEnv",
    "ChannelError",
    "ChannelLog",
    "Correcting",
    "DeliveryView",
    "Desk",
    "DeskError",
    "DeskStatus",
    "DigestChannel",
    "DigestChannelConfig",
    "DigestContext",
    "Duration",
    "MemoryState",
    "Message",
    "NotFound",
    "PermanentError",
    "PickOutcome",
    "Placement",
    "PostAddresses",
    "PushKind",
    "PushOutcome",
    "Reconciling",
    "Refusal",
    "Refused",
    "RelatedLink",
    "RenderContext",
    "Retracting",
    "RetryKind",
    "RetryOutcome",
    "Seconds",
    "SecretFilter",
    "SendContext",
    "SiteConfig",
    "StateStore",
    "Strict",
    "Templates",
    "TransientError",
    "WebConfig",
    "capabilities",
    "channel_template",
    "cut",
    "hashtags",
    "language_of",
    "lead_and_rest",
    "lede_excerpt",
    "message_text",
    "sends_digests",
    "slugify",
    "templates_for",
    "title_repeats_lede",
    "utcnow",
    "validate_cron",
    "words",
]
