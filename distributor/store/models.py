"""Tables. Times are stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from distributor.clock import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime that always comes back timezone-aware UTC (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)




class Base(DeclarativeBase):
    pass


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("source", "key", name="uq_articles_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(2000), index=True)
    #: the URL was made from the source's url_template (never merges two articles)
    url_derived: Mapped[bool] = mapped_column(Boolean, default=False)
    #: why the URL differs from the one the template gave (it was another article's)
    url_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    title_derived: Mapped[bool] = mapped_column(Boolean, default=False)
    dateline: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lede: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str | None] = mapped_column(String(300), nullable=True)
    editor: Mapped[str | None] = mapped_column(String(300), nullable=True)
    related: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    backlog: Mapped[bool] = mapped_column(Boolean, default=False)

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="article")


class Delivery(Base):
    """One row per (article, channel): the ledger."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("article_id", "channel", name="uq_deliveries_article_channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    remote_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    article: Mapped[ArticleRow] = relationship(back_populates="deliveries")
    parts: Mapped[list[DeliveryPart]] = relationship(
        order_by="DeliveryPart.idx", cascade="all, delete-orphan"
    )


class DeliveryPart(Base):
    """A posted part of a multi-message delivery (an X thread), recorded as it goes."""

    __tablename__ = "delivery_parts"
    __table_args__ = (UniqueConstraint("delivery_id", "idx", name="uq_delivery_parts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    remote_id: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryEvent(Base):
    """The history of a delivery: every state change with its reason."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeliveryAction(Base):
    """A retraction or a correction of what was published: one row per (article, channel,
    action, revision), with the same states as a post (``pending -> sending -> sent``, ``retry``,
    ``failed``, ``unknown``). ``revision`` is empty for a retraction (an article is retracted
    once) and names the corrected content for a correction (the same correction twice is one
    row). ``targets`` are the remote ids the post had when the action was asked for; ``done``
    maps each one handled so far to what happened to it (``deleted``, ``marked``, ``edited``,
    ``gone``), recorded as it goes, so a resumed action touches only the rest."""

    __tablename__ = "delivery_actions"
    __table_args__ = (
        UniqueConstraint("article_id", "channel", "action", "revision",
                         name="uq_delivery_actions"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: the post's delivery; None on a digest channel (the notice goes into its next digest)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=True, index=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(20))
    revision: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    targets: Mapped[list[str]] = mapped_column(JSON, default=list)
    done: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: a correction's new messages (rendered when asked for: a resumed one sends the same)
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: the remote ids after the action (a correction's reply, the edited messages)
    result_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: an attempt stopped without an answer (a crash, a lost answer): look before repeating
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SourceStateRow(Base):
    __tablename__ = "source_state"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the server asked not to be polled before this (HTTP 429/503 with Retry-After)
    poll_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what the latest read of the source skipped (a malformed file, an entry without a link,
    #: a feed cut off), one line each, the first ``MAX_SOURCE_PROBLEMS``; kept while the
    #: source is not modified, replaced when it is read again
    problems: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ChannelState(Base):
    """Pacing and pauses per channel, kept across restarts."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Digest(Base):
    """One digest per (channel, period): the unique key stops a second scheduler."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("channel", "period", name="uq_digests_channel_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    article_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the rendered digest, kept once claimed, so a resumed digest sends the same messages
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: the remote ids of the parts posted so far (channels without a fan-out of their own)
    remote_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: the process sending it, until when: a second process leaves it alone
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ChannelKV(Base):
    """A channel's own small key-value state (``ctx.state`` of the plugin API), so no channel
    needs the ledger's tables."""

    __tablename__ = "channel_kv"

    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------- email subscribers


class Subscriber(Base):
    """One address on one email channel. ``email_key`` (the address in lower case) is unique
    per channel, so ``Ana@Example.org`` and ``ana@example.org`` are one subscriber.

    States: pending (waiting for the double opt-in) -> confirmed -> unsubscribed; bounced and
    complained stop all sending. ``token_key`` is a random value signed into the subscriber's
    links: erasing the row (or changing the key) makes every link it was given invalid.
    """

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("channel", "email_key", name="uq_subscribers_channel_email"),
        Index("ix_subscribers_channel_state_id", "channel", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    token_key: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_bounce: Mapped[str | None] = mapped_column(Text, nullable=True)


class SubscriberEvent(Base):
    """The history of a subscriber (consent, confirmation, unsubscribe, bounces): what
    ``subscribers export --email`` shows and ``subscribers remove`` erases."""

    __tablename__ = "subscriber_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class FanoutRun(Base):
    """One mail sent to every confirmed subscriber of a channel: a digest, or a single-article
    mail of an instant email channel (then keyed by its delivery). The rendered message is
    kept, so a resumed run sends exactly the same mail; the lease stops a second process."""

    __tablename__ = "fanout_runs"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_fanout_runs_channel_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), nullable=True, index=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    message_hash: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    nonce: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="sending")
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    starts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EmailSend(Base):
    """One row per (run, subscriber), written after the SMTP server answered for good:
    ``sent`` (accepted), ``bounced`` (5xx) or ``failed`` (4xx until the retries ran out).
    No foreign key to subscribers: erasing a subscriber deletes their rows explicitly."""

    __tablename__ = "email_sends"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("fanout_runs.id", ondelete="CASCADE"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


# --------------------------------------------------------------------------- the dashboard


class Editor(Base):
    """An editor account of the dashboard (``distributor editors add``). Only an argon2 hash
    of the password is kept."""

    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebSession(Base):
    """A logged-in browser. ``id`` is the SHA-256 of the cookie's value (a stolen database
    gives no usable cookie); ``csrf`` is the token every form of the session carries."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("editors.id", ondelete="CASCADE"),
                                           index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: one message for the next page (what the last action did)
    flash: Mapped[str | None] = mapped_column(Text, nullable=True)

    editor: Mapped[Editor] = relationship()


class DigestPick(Base):
    """An editor's choice for a channel's next digest: ``include`` adds the article even when
    it is older than the digest's period (once: a sent digest that held it uses the pick
    up), ``include=False`` leaves it out."""

    __tablename__ = "digest_picks"
    __table_args__ = (UniqueConstraint("channel", "article_id", name="uq_digest_picks"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"),
                                            index=True)
    include: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: the article's place in the digest as editors ordered it (0: the lead); None: by time
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
