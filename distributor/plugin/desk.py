"""What an editor can ask for, as every interface sees it: typed outcomes, typed refusals, and
the :class:`Desk` protocol a channel's editor bot (Telegram's) is handed at start.

The core implements :class:`Desk` (``distributor.services.desk``); an editor bot calls it and
only formats what comes back, so the command line, the dashboard and a chat answer the same
request the same way, and no interface matches strings in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from distributor.articles import Article
from distributor.config import ChannelConfig, SiteConfig, WebConfig
from distributor.plugin.actions import ActionOutcome
from distributor.render.context import Message


class PushKind(StrEnum):
    """What an editor's push (or scheduled push) did to one (article, channel)."""

    QUEUED = "queued"  # due now: it is being sent
    SCHEDULED = "scheduled"  # due at a later time
    ALREADY_SENT = "already-sent"  # published before; only a forced push posts it again
    IN_FLIGHT = "in-flight"  # another process is sending it right now
    UNKNOWN = "unknown"  # it may already be published: check, then force or resolve
    HELD = "held"  # an editor's hold: nothing publishes it until a push releases it


class RetryKind(StrEnum):
    QUEUED = "queued"  # due again now
    ALREADY_QUEUED = "already-queued"  # it was due already: nothing changed


class Refusal(StrEnum):
    """Why a request on a delivery was refused (the interface words it)."""

    MAYBE_PUBLISHED = "maybe-published"  # unknown: force it, or resolve it
    ALREADY_SENT = "already-sent"  # sent: force it to send again
    SENDING_NOW = "sending-now"  # a process is sending it right now
    TOO_LATE = "too-late"  # sent, sending or unknown: it cannot be held any more
    NOT_RESOLVABLE = "not-resolvable"  # sent or sending: there is nothing to decide
    NO_DIGEST = "no-digest"  # the channel sends no digests


class DeskError(Exception):
    """A request an editor made that cannot be done; ``str()`` is a plain sentence."""


class NotFound(DeskError, LookupError):
    """No such article or delivery."""

    def __init__(self, what: str, key: int | str):
        self.what, self.key = what, key
        super().__init__(f"no {what} {key}")


class Refused(DeskError, ValueError):
    """The request does not fit the delivery's state: ``reason`` says why."""

    def __init__(self, reason: Refusal, *, delivery_id: int | None = None,
                 channel: str | None = None, article_id: int | None = None,
                 state: str | None = None):
        self.reason, self.delivery_id, self.channel = reason, delivery_id, channel
        self.article_id, self.state = article_id, state
        super().__init__(f"{reason.value}: delivery {delivery_id} on {channel} is {state}")


@dataclass(frozen=True)
class DeliveryView:
    """One delivery as an interface shows it (a snapshot, detached from the store)."""

    id: int
    article_id: int
    channel: str
    state: str  # pending | sending | retry | sent | failed | unknown | held
    remote_id: str | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None
    last_error: str | None = None
    title: str = ""

    @property
    def settled(self) -> bool:
        """No process has it in hand any more (it is sent, failed, waits, or needs a human)."""
        return self.state not in ("pending", "sending")


@dataclass(frozen=True)
class PushOutcome:
    """An editor's push on one channel: what it did, and the delivery as it stands after
    the wait for the send (``delivery.state``: the final state, or pending/sending when the
    workers still have it)."""

    channel: str
    kind: PushKind
    delivery: DeliveryView
    at: datetime | None = None  # SCHEDULED: when
    #: QUEUED on a paused channel: why it is paused (it goes out once an editor resumes it)
    channel_paused: str | None = None
    #: QUEUED on a channel held back (its pacing, a Retry-After, an outage): until when
    channel_waits_until: datetime | None = None


@dataclass(frozen=True)
class RetryOutcome:
    kind: RetryKind
    delivery: DeliveryView


@dataclass(frozen=True)
class PickOutcome:
    channel: str
    article_id: int
    include: bool | None  # True: added, False: left out, None: the pick was forgotten
    changed: bool = True


@dataclass(frozen=True)
class Placement:
    """Is an article in a digest channel's next digest, and when does that go out."""

    channel: str
    included: bool
    next_at: datetime | None


@dataclass(frozen=True)
class DeskStatus:
    recent: list[DeliveryView] = field(default_factory=list)
    waiting: list[DeliveryView] = field(default_factory=list)  # unknown or failed
    paused: dict[str, str] = field(default_factory=dict)  # channel -> reason


class Desk(Protocol):
    """The editor services a channel's editor bot receives at start (implemented by the core).

    Every method that touches the store runs in the caller's thread; the async ones send (or
    hand to the workers) and wait up to ``wait`` seconds for the outcome.
    """

    site: SiteConfig
    web: WebConfig
    dry_run: bool

    def channels(self) -> list[ChannelConfig]:
        """The enabled channels."""

    def publishable(self) -> list[ChannelConfig]:
        """The channels a push may go to (instant and manual)."""

    def digest_channels(self) -> list[ChannelConfig]:
        """The channels that send digests on a schedule."""

    def find_article(self, ref: str) -> Article:
        """A stored article by id or URL; raises :class:`NotFound`."""

    def read_pasted(self, text: str, *, now: datetime) -> Article:
        """An article from text an editor pasted: its first http(s) link is the URL, the rest
        is read like an article file (source ``editor``). Stores nothing; raises
        :class:`DeskError` (a sentence for the editor) without a link or without a story."""

    def take_pasted(self, article: Article, *, by: str) -> tuple[Article, bool]:
        """Store an article an editor pasted, held back from automatic publishing; returns
        (the stored article, whether it was there already under another source)."""

    def article(self, article_id: int) -> tuple[Article, bool]:
        """(the article, held back from automatic publishing?); raises :class:`NotFound`."""

    def render(self, channel: str, article: Article) -> list[Message]:
        """The article's messages on a channel, as they would be sent."""

    def deliveries_of(self, article_id: int) -> dict[str, DeliveryView]:
        """Channel -> the article's delivery there."""

    def placement(self, article_id: int, now: datetime) -> list[Placement]:
        """One entry per digest channel."""

    def status(self, *, last: int = 10) -> DeskStatus:
        """The last deliveries, those waiting for a decision, the paused channels."""

    async def push(self, article_id: int, channels: list[str], *, by: str, force: bool = False,
                   wait: float = 30.0) -> list[PushOutcome]:
        """Push an article to channels (sent at once) and wait for the outcome."""

    async def retry(self, delivery_id: int, *, force: bool = False,
                    wait: float = 30.0) -> RetryOutcome:
        """Send a delivery again; raises :class:`NotFound` or :class:`Refused`."""

    def resolve(self, delivery_id: int, *, sent: bool,
                remote_id: str | None = None) -> DeliveryView:
        """Close a delivery checked by hand; raises :class:`NotFound` or :class:`Refused`."""

    def pick(self, channel: str, article_id: int, *, include: bool, by: str) -> PickOutcome:
        """An editor's choice for a channel's next digest; raises :class:`NotFound`."""

    async def retract(self, article_id: int, channels: list[str] | None = None, *,
                      reason: str, by: str, wait: float = 30.0) -> list[ActionOutcome]:
        """Retract an article (default: on every channel it went to) and wait for the
        outcome; raises :class:`NotFound`, or :class:`DeskError` without a reason (API 1.1)."""

    async def correct(self, article_id: int, channels: list[str] | None = None, *,
                      note: str | None = None, by: str,
                      wait: float = 30.0) -> list[ActionOutcome]:
        """Correct an article's posts with the article as it is now (API 1.1)."""
