"""Optional capabilities, each a small protocol a channel may implement. The core asks
:func:`capabilities` (or ``isinstance``) instead of knowing any channel's class."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from distributor.plugin.channel import Channel, implements_digests
from distributor.plugin.context import SendContext
from distributor.render.context import Message


@runtime_checkable
class Reconciling(Protocol):
    """Finds out whether a delivery whose outcome is unknown was published after all."""

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """The remote id of the first message not in ``sent_ids`` if the platform has it (when
        all are in it: the first one's), else None."""
        ...


@runtime_checkable
class Retracting(Protocol):
    """Deletes (or marks as withdrawn) what a delivery published: every remote id of
    ``remote_ids`` not in ``ctx.done``, calling ``ctx.record(remote_id, what)`` after each.
    ``ctx`` is an :class:`~distributor.plugin.ActionContext` (the reason, the article).
    Raises the three error kinds like ``send``. Used by ``distributor retract`` (API 1.1)."""

    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        ...


@runtime_checkable
class Correcting(Protocol):
    """Edits what a delivery published in place (or follows it with a correction) with
    ``messages`` (the article rendered as it is now), recording each remote id handled with
    ``ctx.record``; returns the remote ids as they are afterwards. ``ctx`` is an
    :class:`~distributor.plugin.ActionContext` (the note). Used by ``distributor correct``
    (API 1.1)."""

    async def correct(self, remote_ids: list[str], messages: list[Message],
                      ctx: SendContext) -> list[str]:
        ...


@runtime_checkable
class PostAddresses(Protocol):
    """Gives a published post's public address."""

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        ...


@runtime_checkable
class TestSending(Protocol):
    """Sends rendered messages to one address as a test, outside the ledger and the audience
    (a list channel's "send a test to me" before a digest goes out); returns a remote id."""

    async def send_test(self, messages: list[Message], address: str) -> str:
        ...


_NAMES = {"digest": ("render_digest",), "reconcile": ("reconcile",), "retract": ("retract",),
          "correct": ("correct",), "post_url": ("post_url",), "test": ("send_test",)}


def capabilities(channel: type | object) -> set[str]:
    """What a channel class (or instance) implements beyond the base: a subset of
    ``digest``, ``reconcile``, ``retract``, ``correct``, ``post_url``, ``test``."""
    cls = channel if isinstance(channel, type) else type(channel)
    found = set()
    for name, methods in _NAMES.items():
        if all(callable(getattr(cls, m, None)) and getattr(cls, m) is not getattr(Channel, m, None)
               for m in methods):
            found.add(name)
    return found


def sends_digests(channel: type | object) -> bool:
    """True when the channel (class or instance) implements the digest protocol."""
    if isinstance(channel, type):
        return implements_digests(channel)
    return bool(getattr(channel, "supports_digest", implements_digests(type(channel))))
