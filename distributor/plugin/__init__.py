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
from distributor.plugin.actions import ActionContext, ActionKind, ActionOutcome
from distributor.plugin.audience import (
    RECIPIENT_PLACEHOLDER,
    Audience,
    Confirmation,
    ListChannel,
    ListRun,
    Recipient,
    RecipientResult,
    is_list_channel,
)
from distributor.plugin.capabilities import (
    Correcting,
    PostAddresses,
    Reconciling,
    Retracting,
    TestSending,
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
    retry_after_seconds,
)
from distributor.plugin.http import http_client, http_request, tls_context
from distributor.plugin.media import ImageError, download_image
from distributor.plugin.rendering import (
    ELLIPSIS,
    Gap,
    Templates,
    Words,
    channel_template,
    choose_end,
    cut,
    cut_tokens,
    day_and_month,
    hashtags,
    headline,
    hostname,
    language_of,
    lead_and_rest,
    lede_excerpt,
    local_now,
    site_date,
    teaser,
    templates_for,
    title_repeats_lede,
    tokenize,
    words,
)
from distributor.plugin.state import MemoryState, PeriodicPrune, StateStore
from distributor.plugin.version import API_VERSION
from distributor.render.context import Message, RenderContext
from distributor.render.web_words import web_words
from distributor.text import slugify

__all__ = [
    "API_VERSION",
    "ELLIPSIS",
    "RECIPIENT_PLACEHOLDER",
    "ActionContext",
    "ActionKind",
    "ActionOutcome",
    "Adapter",
    "AmbiguousError",
    "Article",
    "Audience",
    "Channel",
    "ChannelBusy",
    "ChannelConfig",
    "ChannelEnv",
    "ChannelError",
    "ChannelLog",
    "Confirmation",
    "Correcting",
    "DeliveryView",
    "Desk",
    "DeskError",
    "DeskStatus",
    "DigestChannel",
    "DigestChannelConfig",
    "DigestContext",
    "Duration",
    "Gap",
    "ImageError",
    "ListChannel",
    "ListRun",
    "MemoryState",
    "Message",
    "NotFound",
    "PeriodicPrune",
    "PermanentError",
    "PickOutcome",
    "Placement",
    "PostAddresses",
    "PushKind",
    "PushOutcome",
    "Recipient",
    "RecipientResult",
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
    "TestSending",
    "TransientError",
    "WebConfig",
    "Words",
    "capabilities",
    "channel_template",
    "choose_end",
    "cut",
    "cut_tokens",
    "day_and_month",
    "download_image",
    "hashtags",
    "headline",
    "hostname",
    "http_client",
    "http_request",
    "is_list_channel",
    "language_of",
    "lead_and_rest",
    "lede_excerpt",
    "local_now",
    "message_text",
    "retry_after_seconds",
    "sends_digests",
    "site_date",
    "slugify",
    "teaser",
    "templates_for",
    "title_repeats_lede",
    "tls_context",
    "tokenize",
    "utcnow",
    "validate_cron",
    "web_words",
    "words",
]
