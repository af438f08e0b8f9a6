"""The mailing lists readers subscribe to: the enabled list channels, and their public names."""

from __future__ import annotations

from typing import Any

from distributor.plugin import is_list_channel
from distributor.registry import get_adapter_class
from distributor.runtime import Runtime


def public_name(channel: Any) -> str:
    """A list's name for readers: its ``title`` in channels.yaml, else its channel name."""
    return str(getattr(channel, "title", None) or channel.name)


def email_channels(rt: Runtime) -> list[Any]:
    """The enabled list channels (those with subscribers: the email channel's type declares
    ``audience = True``); their configurations carry ``confirm_ttl`` and ``bounce_secret``."""
    return [c for c in rt.config.channels
            if c.enabled and is_list_channel(get_adapter_class(c.type))]
