"""The delivery ledger: which article goes to which channel, and its state machine.

States: ``pending -> sending -> sent``; ``sending -> retry -> sending`` (transient failure);
``-> failed`` (permanent, with the platform's reason); ``-> unknown`` (the request may have
reached the platform, but no answer came). The ledger, not memory, decides what still has to
be sent, so a restart continues exactly where the last process stopped.

The dispatcher owns pacing, retries and progress; adapters only push (listmonk's split).
Every posted part is recorded right after the platform accepted it, never before.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.plugin.desk import NotFound, PushKind, Refusal, Refused, RetryKind
from distributor.runtime import Runtime
from distributor.store.models import (
    ArticleRow,
    Delivery,
    DeliveryEvent,
)

log = logging.getLogger("distributor.delivery")

STATES = ("pending", "sending", "retry", "sent", "failed", "unknown", "held")
DUE_STATES = ("pending", "retry")
BACKOFF_BASE = 30.0  # seconds; doubles per attempt
BACKOFF_MAX = 6 * 3600.0
DEFAULT_WINDOW = timedelta(days=2)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait: exponential with full jitter, never less than retry_after."""
    base = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    delay = base / 2 + random.uniform(0, base / 2)
    return max(delay, retry_after or 0.0)


def record(session: Session, delivery: Delivery, state: str, detail: str | None = None) -> None:
    delivery.state = state
    session.add(DeliveryEvent(delivery_id=delivery.id, state=state, detail=detail))


def _insert_ignore(session: Session, rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Delivery).values(rows).on_conflict_do_nothing().returning(Delivery.id)
    return len(session.execute(stmt).all())


# --------------------------------------------------------------------------- planning


def plan_deliveries(rt: Runtime, *, now: datetime | None = None) -> int:
    """Create a pending delivery for each (recent article, instant channel) not in the ledger.

    Articles that were older than their source's ``max_age`` when first seen (the backlog)
    are never planned; neither are articles first seen longer than ``max_age`` ago, so a
    channel added later does not post old news.
    """
    now = now or utcnow()
    windows = {s.name: s.max_age for s in rt.config.sources}
    widest = max([*windows.values(), DEFAULT_WINDOW])
    channels = [c.name for c in rt.channels() if c.publish == "instant"]
    if not channels:
        return 0
    rows: list[dict[str, object]] = []
    with rt.store.session() as session:
        for name in channels:
            missing = session.execute(
                select(ArticleRow.id, ArticleRow.source, ArticleRow.first_seen).where(
                    ArticleRow.backlog.is_(False), ArticleRow.first_seen >= now - widest,
                    ~select(Delivery.id).where(Delivery.article_id == ArticleRow.id,
                                               Delivery.channel == name).exists())
            ).all()
            rows.extend(
                {"article_id": article_id, "channel": name, "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now, "updated_at": now}
                for article_id, source, first_seen in missing
                if first_seen >= now - windows.get(source, DEFAULT_WINDOW))
        created = _insert_ignore(session, rows)
    if created:
        log.info("planned %d new deliveries", created)
    return created


def _the_delivery(session: Session, article_id: int, channel: str, state: str,
                  requested_by: str | None, now: datetime) -> Delivery:
    """The (article, channel) row, created in ``state`` if there was none; locked."""
    _insert_ignore(session, [{"article_id": article_id, "channel": channel, "state": state,
                              "attempts": 0, "next_attempt_at": now, "created_at": now,
                              "updated_at": now, "requested_by": requested_by}])
    return session.scalars(
        select(Delivery).where(Delivery.article_id == article_id, Delivery.channel == channel)
        .with_for_update()
    ).one()


def request_delivery(
    session: Session, article_id: int, channel: str, *, force: bool = False,
    requested_by: str | None = None, now: datetime | None = None, at: datetime | None = None,
) -> tuple[Delivery, PushKind]:
    """An editor's push: make the delivery due now (or at ``at``). Returns (delivery, what
    happened): QUEUED, SCHEDULED, ALREADY_SENT, IN_FLIGHT or UNKNOWN.

    A held delivery is released by a push.
    """
    now = now or utcnow()
    delivery = _the_delivery(session, article_id, channel, "pending", requested_by, now)
    if delivery.state == "sending" and delivery.lease_until and delivery.lease_until > now:
        return delivery, PushKind.IN_FLIGHT
    if delivery.state == "sent" and not force:
        return delivery, PushKind.ALREADY_SENT
    if delivery.state == "unknown" and not force:
        return delivery, PushKind.UNKNOWN
    if delivery.state in ("sent", "unknown", "failed", "held") or force:
        if delivery.state == "sent" or force:
            _forget_sent(delivery)
        delivery.attempts = 0
        record(session, delivery, "pending", f"pushed by {requested_by or 'an editor'}"
               + (" (forced)" if force else ""))
    delivery.next_attempt_at = at if at is not None and at > now else now
    delivery.requested_by = requested_by or delivery.requested_by
    if at is not None and at > now:
        delivery.last_error = None
        session.add(DeliveryEvent(delivery_id=delivery.id, state=delivery.state,
                                  detail=f"scheduled for {at.isoformat(timespec='minutes')}"))
        return delivery, PushKind.SCHEDULED
    return delivery, PushKind.QUEUED


def _forget_sent(delivery: Delivery) -> None:
    delivery.parts.clear()
    delivery.messages = None
    delivery.remote_id = None
    delivery.sent_at = None


def hold_delivery(session: Session, article_id: int, channel: str, *,
                  requested_by: str | None = None, now: datetime | None = None) -> Delivery:
    """An editor's hold: the article is not published on this channel until released (a push
    or ``deliveries retry``). Raises :class:`Refused` (TOO_LATE) when it is too late."""
    now = now or utcnow()
    delivery = _the_delivery(session, article_id, channel, "held", requested_by, now)
    if delivery.state == "held":
        if not session.scalar(select(DeliveryEvent.id).where(
                DeliveryEvent.delivery_id == delivery.id).limit(1)):
            record(session, delivery, "held", f"held by {requested_by or 'an editor'}")
        return delivery
    if delivery.state in ("sent", "sending", "unknown"):
        raise Refused(Refusal.TOO_LATE, delivery_id=delivery.id, channel=channel,
                      article_id=article_id, state=delivery.state)
    record(session, delivery, "held", f"held by {requested_by or 'an editor'}")
    return delivery


def _get(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("delivery", delivery_id)
    return delivery


def _refused(reason: Refusal, delivery: Delivery) -> Refused:
    return Refused(reason, delivery_id=delivery.id, channel=delivery.channel,
                   article_id=delivery.article_id, state=delivery.state)


def retry_delivery(session: Session, delivery_id: int, *, force: bool = False,
                   now: datetime | None = None) -> tuple[Delivery, RetryKind]:
    """An editor's retry: the delivery is due again now. Raises :class:`NotFound` or
    :class:`Refused` (MAYBE_PUBLISHED, ALREADY_SENT without ``force``; SENDING_NOW)."""
    now = now or utcnow()
    delivery = _get(session, delivery_id)
    if delivery.state == "unknown" and not force:
        raise _refused(Refusal.MAYBE_PUBLISHED, delivery)
    if delivery.state == "sent" and not force:
        raise _refused(Refusal.ALREADY_SENT, delivery)
    if delivery.state == "sending":
        raise _refused(Refusal.SENDING_NOW, delivery)
    if delivery.state in ("pending", "retry") and delivery.next_attempt_at <= now:
        return delivery, RetryKind.ALREADY_QUEUED
    if delivery.state == "sent":
        _forget_sent(delivery)
    delivery.attempts = 0
    delivery.next_attempt_at = now
    record(session, delivery, "pending", "retry requested" + (" (forced)" if force else ""))
    return delivery, RetryKind.QUEUED


RESOLVABLE = ("unknown", "failed", "retry", "pending", "held")


def resolve_delivery(session: Session, delivery_id: int, *, sent: bool,
                     remote_id: str | None = None) -> Delivery:
    """An editor closes a delivery checked by hand: ``sent`` or failed. Raises
    :class:`NotFound` or :class:`Refused` (NOT_RESOLVABLE: it is sent or being sent)."""
    delivery = _get(session, delivery_id)
    if delivery.state not in RESOLVABLE:
        raise _refused(Refusal.NOT_RESOLVABLE, delivery)
    if sent:
        delivery.sent_at = utcnow()
        delivery.remote_id = remote_id or delivery.remote_id
        record(session, delivery, "sent", "resolved by an editor")
    else:
        record(session, delivery, "failed", "closed by an editor")
    return delivery
