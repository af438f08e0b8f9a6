"""What the core tells a channel with every send: :class:`SendContext` for a post,
:class:`DigestContext` for a digest. The core builds them; tests build them with
:mod:`distributor.plugin.testing`."""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from distributor.articles import Article
from distributor.plugin.audience import Audience
from distributor.plugin.state import StateStore


class ChannelLog(logging.LoggerAdapter):
    """A logger whose lines name the channel and what it is sending
    (``x (delivery 12): ...``)."""

    def __init__(self, channel: str, what: str | None = None):
        super().__init__(logging.getLogger(f"distributor.channel.{channel}"),
                         {"channel": channel, "sending": what})
        self.prefix = f"{channel} ({what})" if what else channel

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"{self.prefix}: {msg}", kwargs


@dataclass(frozen=True)
class SendContext:
    """Passed to every :meth:`Channel.send`.

    - ``channel``: the channel's name (as in channels.yaml);
    - ``delivery_id``: the ledger's delivery this message belongs to (None for a digest's
      part: see ``digest_id``);
    - ``attempt``: 1 for the first try of this delivery, 2 for the next, ...;
    - ``part``, ``parts``: this message's index in the delivery and how many it has;
    - ``remote_ids``: the ids the platform gave the parts already posted (recorded by the
      core as they went out); :attr:`previous_id` is the last of them (the previous post of a
      thread, the one to reply to);
    - ``idempotency_key``: stable for this (delivery, part) across retries and processes, new
      after an editor's ``--force``; a platform that takes one can drop a repeated request;
    - ``log``: a logger naming the channel and the delivery;
    - ``state``: the channel's key-value store (:class:`~distributor.plugin.StateStore`);
    - ``audience``: for a list channel (``audience = True``), the core's subscribers and runs
      (:class:`~distributor.plugin.Audience`); None for the others;
    - :meth:`request_sent` (API 1.3): call it when the request that counts against the
      channel's rate leaves for the platform; the core paces the channel's next post from then.
    """

    channel: str
    idempotency_key: str
    log: logging.LoggerAdapter
    state: StateStore
    attempt: int = 1
    delivery_id: int | None = None
    digest_id: int | None = None
    part: int = 0
    parts: int = 1
    remote_ids: tuple[str, ...] = ()
    audience: Audience | None = None
    #: set by the core: what :meth:`request_sent` tells it (None: nobody listens)
    on_request: Callable[[datetime], None] | None = field(default=None, repr=False,
                                                          compare=False)

    def request_sent(self, at: datetime | None = None) -> None:
        """The request that counts against the channel's rate (the post itself: not a login,
        a lookup or an upload) left for the platform now, or at ``at`` (without a zone: UTC).

        The core paces the channel's next post from the first time a delivery reports, so the
        post's own round trip and the core's bookkeeping do not add to the spacing: posts run
        at ``rate_per_minute`` exactly. A channel that never calls it is paced from the moment
        its :meth:`Channel.send` returned (as before API 1.3), a little slower than its rate.
        """
        if self.on_request is not None:
            at = at if at is not None else datetime.now(UTC)
            self.on_request(at if at.tzinfo is not None else at.replace(tzinfo=UTC))

    @property
    def previous_id(self) -> str | None:
        """The remote id of the part before this one in the same delivery, if any."""
        return self.remote_ids[-1] if self.remote_ids else None


@dataclass
class DigestContext:
    """Passed to :meth:`DigestChannel.send_digest`.

    - ``channel``, ``digest_id``, ``period`` (the cron time it is for, or ``manual:...``),
      ``since``/``until`` (the articles first seen in between) and ``articles`` (what it
      holds, in order);
    - ``idempotency_key``: stable for this digest; :meth:`send_context` derives one per part;
    - ``remote_ids``: the parts of this digest already posted (by an earlier, interrupted
      attempt): send only the rest, and :meth:`record` each part as it goes out;
    - ``log``, ``state``, ``audience``: as in :class:`SendContext`;
    - :meth:`progress`: call it as the work goes on (``done`` of ``total``): it keeps this
      process's hold on the digest and feeds the progress display;
    - ``observer``: the interface's own progress display, as is (None when nobody watches);
    - ``stats``: numbers a channel may fill for the summary (e.g. ``sent``, ``bounced``).
    """

    channel: str
    digest_id: int
    period: str
    until: datetime
    articles: list[Article]
    idempotency_key: str
    log: logging.LoggerAdapter
    state: StateStore
    since: datetime | None = None
    attempt: int = 1
    remote_ids: list[str] = field(default_factory=list)
    observer: Any = None
    stats: dict[str, float] = field(default_factory=dict)
    on_record: Callable[[list[str]], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    audience: Audience | None = None

    def record(self, remote_id: str) -> None:
        """A part of the digest was posted: the core stores its id at once, so a resumed
        digest does not post it again."""
        self.remote_ids.append(str(remote_id))
        if self.on_record is not None:
            self.on_record(list(self.remote_ids))

    def progress(self, done: int, total: int) -> None:
        """``done`` of ``total`` (parts, recipients, ...) are through."""
        if self.on_progress is not None:
            self.on_progress(done, total)

    def send_context(self, part: int, parts: int) -> SendContext:
        """The :class:`SendContext` for posting part ``part`` of ``parts`` through ``send``."""
        return SendContext(channel=self.channel, idempotency_key=f"{self.idempotency_key}-{part}",
                           log=self.log, state=self.state, attempt=self.attempt,
                           digest_id=self.digest_id, part=part, parts=parts,
                           remote_ids=tuple(self.remote_ids[:part]), audience=self.audience)
