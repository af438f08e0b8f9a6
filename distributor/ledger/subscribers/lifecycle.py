"""A subscriber's life: subscribing (double opt-in), confirming, leaving, bouncing, erasure;
and reading the lists.

A subscriber is one address on one list channel, unique without regard to case. States:

- ``pending``: subscribed, waiting for the confirmation link (double opt-in); gets nothing else;
- ``confirmed``: receives the channel's mail;
- ``unsubscribed``: left (one click, or the page); gets nothing;
- ``bounced``: a hard bounce, or ``SOFT_BOUNCE_LIMIT`` soft ones; gets nothing, on any channel;
- ``complained``: marked a mail as spam; gets nothing, on any channel.

Every change is written down as a ``SubscriberEvent`` (the history an access request shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.ledger.subscribers.addresses import (
    BLOCKED,
    BOUNCE_KINDS,
    SOFT_BOUNCE_LIMIT,
    SubscriberError,
    normalize_email,
)
from distributor.ledger.subscribers.tokens import new_token_key
from distributor.store.models import EmailSend, Subscriber, SubscriberEvent

if TYPE_CHECKING:
    from distributor.store import Store

#: a pending subscriber gets a new confirmation mail at most this often
CONFIRM_RESEND_AFTER = timedelta(minutes=10)


def _event(session: Session, subscriber: Subscriber, kind: str, detail: str | None = None,
           at: datetime | None = None) -> None:
    session.add(SubscriberEvent(subscriber_id=subscriber.id, kind=kind, detail=detail,
                                at=at or utcnow()))


@dataclass
class AddResult:
    subscriber: Subscriber
    #: created | confirmed | pending | already-confirmed | already-pending | resubscribed
    what: str
    #: True when a confirmation mail should go out now
    needs_confirmation: bool = False


def add_subscriber(session: Session, channel: str, email: str, *, confirmed: bool = False,
                   source: str = "cli", detail: str | None = None) -> AddResult:
    """Subscribe ``email`` to ``channel``; confirmed at once only when ``confirmed``.

    An address that bounced or complained is refused (:class:`SubscriberError`); one that
    unsubscribed subscribes again (pending, or confirmed when ``confirmed``).
    """
    address, key = normalize_email(email)
    row = session.scalar(select(Subscriber).where(Subscriber.channel == channel,
                                                  Subscriber.email_key == key))
    now = utcnow()
    if row is None:
        blocked = session.scalar(select(Subscriber.state).where(
            Subscriber.email_key == key, Subscriber.state.in_(BLOCKED)).limit(1))
        if blocked is not None:
            raise SubscriberError(f"{address} {_blocked_words(blocked)} on another channel; "
                                  "nothing is sent to it any more")
        row = Subscriber(channel=channel, email=address, email_key=key,
                         state="confirmed" if confirmed else "pending",
                         token_key=new_token_key(), source=source, created_at=now,
                         updated_at=now, confirmed_at=now if confirmed else None,
                         confirmation_sent_at=None if confirmed else now)  # claimed
        session.add(row)
        session.flush()
        _event(session, row, "subscribed", detail or f"by {source}")
        if confirmed:
            _event(session, row, "confirmed", f"by {source} (--confirmed)")
        return AddResult(row, "confirmed" if confirmed else "created",
                         needs_confirmation=not confirmed)
    if row.state in BLOCKED:
        raise SubscriberError(f"{row.email} {_blocked_words(row.state)}; nothing is sent to it "
                              "any more (`subscribers remove` erases it completely)")
    if row.state == "confirmed":
        return AddResult(row, "already-confirmed")
    if confirmed:
        was = row.state
        row.state, row.confirmed_at, row.unsubscribed_at = "confirmed", now, None
        _event(session, row, "confirmed", f"by {source} (--confirmed)")
        return AddResult(row, "resubscribed" if was == "unsubscribed" else "confirmed")
    if row.state == "unsubscribed":
        changed = getattr(session.execute(  # one of two requests at once resubscribes
            update(Subscriber).where(Subscriber.id == row.id,
                                     Subscriber.state == "unsubscribed")
            .values(state="pending", unsubscribed_at=None, token_key=new_token_key(),
                    confirmation_sent_at=now)
            .execution_options(synchronize_session=False)), "rowcount", 0)
        session.refresh(row)
        if changed != 1:
            return AddResult(row, "already-pending")
        _event(session, row, "subscribed", detail or f"again, by {source}")
        return AddResult(row, "resubscribed", needs_confirmation=True)
    return AddResult(row, "already-pending",
                     needs_confirmation=claim_confirmation(session, row.id, now))


def claim_confirmation(session: Session, subscriber_id: int, now: datetime | None = None
                       ) -> bool:
    """Claim the sending of a confirmation mail to a pending subscriber: True for exactly one
    of any number of requests at once, and only when none went out in the last
    ``CONFIRM_RESEND_AFTER`` (one conditional UPDATE: the database decides)."""
    now = now or utcnow()
    claimed = getattr(session.execute(
        update(Subscriber).where(
            Subscriber.id == subscriber_id, Subscriber.state == "pending",
            (Subscriber.confirmation_sent_at.is_(None))
            | (Subscriber.confirmation_sent_at < now - CONFIRM_RESEND_AFTER))
        .values(confirmation_sent_at=now)
        .execution_options(synchronize_session=False)), "rowcount", 0)
    return bool(claimed == 1)


def release_confirmation(store: Store, subscriber_id: int) -> None:
    """The claimed confirmation mail did not go out: the next request may send it."""
    with store.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == subscriber_id)
                        .values(confirmation_sent_at=None))


def _blocked_words(state: str) -> str:
    return "bounced" if state == "bounced" else "complained (marked a mail as spam)"


def confirm_subscriber(session: Session, row: Subscriber, *, detail: str | None = None) -> bool:
    """pending -> confirmed. True when it changed."""
    if row.state != "pending":
        return False
    row.state, row.confirmed_at = "confirmed", utcnow()
    _event(session, row, "confirmed", detail or "confirmation link")
    return True


def unsubscribe(session: Session, row: Subscriber, *, detail: str | None = None) -> bool:
    """pending/confirmed -> unsubscribed, at once. True when it changed."""
    if row.state not in ("pending", "confirmed"):
        return False
    row.state, row.unsubscribed_at = "unsubscribed", utcnow()
    _event(session, row, "unsubscribed", detail)
    return True


def record_bounce(session: Session, email: str, kind: str, *, channel: str | None = None,
                  detail: str | None = None) -> list[Subscriber]:
    """A bounce or complaint for ``email``: ``hard`` and ``complaint`` stop all sending to
    the address (every channel); ``soft`` counts, and ``SOFT_BOUNCE_LIMIT`` of them make a
    hard one. Returns the rows changed (empty: the address is unknown)."""
    if kind not in BOUNCE_KINDS:
        raise SubscriberError(f"unknown bounce kind {kind!r}; use hard, soft or complaint")
    try:
        _, key = normalize_email(email)
    except SubscriberError:
        key = email.strip().lower()
    query = select(Subscriber).where(Subscriber.email_key == key)
    if kind == "soft" and channel:
        query = query.where(Subscriber.channel == channel)
    rows = list(session.scalars(query))
    now = utcnow()
    for row in rows:
        row.last_bounce_at, row.last_bounce = now, (detail or kind)[:2000]
        if kind == "soft":
            row.soft_bounces += 1
            _event(session, row, "bounce-soft", detail)
            if row.soft_bounces >= SOFT_BOUNCE_LIMIT and row.state not in BLOCKED:
                row.state = "bounced"
                _event(session, row, "bounced", f"{row.soft_bounces} soft bounces")
        elif kind == "hard":
            _event(session, row, "bounce-hard", detail)
            if row.state != "complained":
                row.state = "bounced"
        else:
            _event(session, row, "complaint", detail)
            row.state = "complained"
    return rows


def remove_subscriber(session: Session, email: str, *, channel: str | None = None) -> int:
    """Erase an address (every channel, or one): its rows, history and send rows. Returns
    the number of subscriber rows erased."""
    _, key = normalize_email(email) if "@" in email else (email, email.strip().lower())
    query = select(Subscriber.id).where(Subscriber.email_key == key)
    if channel:
        query = query.where(Subscriber.channel == channel)
    ids = list(session.scalars(query))
    if not ids:
        return 0
    session.execute(delete(EmailSend).where(EmailSend.subscriber_id.in_(ids)))
    session.execute(delete(SubscriberEvent).where(SubscriberEvent.subscriber_id.in_(ids)))
    session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
    return len(ids)


# --------------------------------------------------------------------------- reading


def find(session: Session, email: str, channel: str | None = None) -> list[Subscriber]:
    _, key = normalize_email(email)
    query = select(Subscriber).where(Subscriber.email_key == key).order_by(Subscriber.channel)
    if channel:
        query = query.where(Subscriber.channel == channel)
    return list(session.scalars(query))


def iter_subscribers(store: Store, *, channel: str | None = None, state: str | None = None,
                     page: int = 1000) -> Iterator[Subscriber]:
    """Every matching subscriber in id order, a page at a time (keyset pagination)."""
    after = 0
    while True:
        with store.session() as session:
            query = select(Subscriber).where(Subscriber.id > after).order_by(
                Subscriber.id).limit(page)
            if channel:
                query = query.where(Subscriber.channel == channel)
            if state:
                query = query.where(Subscriber.state == state)
            rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def counts(session: Session, channel: str | None = None) -> dict[str, dict[str, int]]:
    """``{channel: {state: n}}``."""
    query = select(Subscriber.channel, Subscriber.state, func.count()).group_by(
        Subscriber.channel, Subscriber.state)
    if channel:
        query = query.where(Subscriber.channel == channel)
    out: dict[str, dict[str, int]] = {}
    for name, state, n in session.execute(query):
        out.setdefault(name, {})[state] = n
    return out


def mark_confirmation_sent(store: Store, ids: list[int]) -> None:
    """The confirmation mail went out to these subscribers (now)."""
    if not ids:
        return
    now = utcnow()
    with store.session() as session:
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            session.execute(update(Subscriber).where(Subscriber.id.in_(part))
                            .values(confirmation_sent_at=now))
            session.execute(insert(SubscriberEvent), [
                {"subscriber_id": sid, "kind": "confirmation-sent", "detail": None, "at": now}
                for sid in part])
