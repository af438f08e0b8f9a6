"""Retractions and corrections of what a delivery published: the context a channel's
``retract`` / ``correct`` is given (:class:`ActionContext`), and the typed outcomes every
interface (command line, dashboard, editor bot) formats (:class:`ActionOutcome`).

A channel implements the optional capabilities :class:`~distributor.plugin.Retracting` and
:class:`~distributor.plugin.Correcting`; the core records one ledger row per (article, channel,
action), sends it through the dispatcher like a post (same states, same retries) and hands the
channel an :class:`ActionContext`: the remote ids the post has, what is done of them already
(after a crash, only the rest is touched), the article as it is now, the reason or the note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from distributor.articles import Article
from distributor.plugin.context import SendContext
from distributor.render.context import Message, RenderContext

#: what happened to one remote id (``ActionContext.record``)
DELETED = "deleted"  # it is gone from the platform
MARKED = "marked"  # it could not be deleted: it now says it was retracted
EDITED = "edited"  # edited in place
GONE = "gone"  # it was not there any more (deleted by hand, or by an earlier attempt)
REPLIED = "replied"  # a correction follows it (a reply; ``record(reply_id, REPLIED)``)
LEFT = "left"  # nothing was needed (the same content)


@dataclass(frozen=True)
class ActionContext(SendContext):
    """Passed to ``retract(remote_ids, ctx)`` and ``correct(remote_ids, messages, ctx)``; a
    :class:`SendContext` (``channel``, ``attempt``, ``idempotency_key``, ``log``, ``state``;
    ``delivery_id`` is the post's delivery) with:

    - ``action``: ``retract`` or ``correct``; ``action_id``: its ledger row;
    - ``reason`` (a retraction's), ``note`` (a correction's, may be None);
    - ``article``: the article as it is now; ``render``: its render context (templates, site);
    - ``posted``: the messages the post was sent as, in order (parallel to ``remote_ids``);
    - ``done``: remote id -> what was done to it by an earlier attempt (``deleted``, ``marked``,
      ``edited``, ``gone``, ``replied``): skip those;
    - ``interrupted``: an earlier attempt stopped without an answer (a crash): a channel whose
      action is not repeatable (a reply) looks for it before doing it again;
    - :meth:`record`: call it after each remote id is handled; the core stores it at once.
    """

    action: str = "retract"
    action_id: int | None = None
    reason: str | None = None
    note: str | None = None
    article: Article | None = None
    render: RenderContext | None = None
    posted: tuple[Message, ...] = ()
    done: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    on_record: Callable[[str, str], None] | None = None

    def record(self, remote_id: str, what: str) -> None:
        """``remote_id`` was handled (``what``: :data:`DELETED`, :data:`MARKED`, ...)."""
        self.done[str(remote_id)] = what
        if self.on_record is not None:
            self.on_record(str(remote_id), what)


class ActionKind(StrEnum):
    """What a retract or correct request did on one channel."""

    DONE = "done"  # carried out now (see the outcome's state and detail)
    ALREADY_DONE = "already-done"  # the same action was carried out before: nothing changed
    QUEUED = "queued"  # asked for; the workers (or a later pass) carry it out
    IN_FLIGHT = "in-flight"  # being carried out right now by another process
    NOT_SUPPORTED = "not-supported"  # the channel cannot retract / correct
    NOT_PUBLISHED = "not-published"  # nothing was published there (a pending post is held)
    WOULD = "would"  # --dry-run: what would be done, nothing was


@dataclass(frozen=True)
class ActionOutcome:
    """One channel's answer to a retract or correct request, for every interface."""

    channel: str
    action: str  # retract | correct
    kind: ActionKind
    state: str | None = None  # the action's ledger state: sent | retry | failed | unknown ...
    action_id: int | None = None
    delivery_id: int | None = None
    #: remote id -> what was done to it
    done: dict[str, str] = field(default_factory=dict)
    detail: str | None = None
    at: datetime | None = None

    @property
    def problem(self) -> bool:
        """True when an editor has something to look at (failed, unknown)."""
        return self.state in ("failed", "unknown")
