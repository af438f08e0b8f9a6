"""Retractions and corrections in the ledger: one row per (article, channel, action, revision)
(:class:`~distributor.store.models.DeliveryAction`), with the states of a post.

Asking twice changes nothing: an action that was carried out is ``already-done``; one being
carried out is ``in-flight``; one that failed (or whose outcome is unknown) is queued again,
flagged ``interrupted`` when it may have been carried out, so the channel looks before repeating
what cannot be repeated (a reply). A retraction of a post not published yet holds it instead.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.ledger.deliveries import hold_delivery
from distributor.plugin.actions import ActionKind
from distributor.store.models import (
    ArticleRow,
    Delivery,
    DeliveryAction,
    DeliveryEvent,
    Digest,
)

ACTIONS = ("retract", "correct")
#: an action in these states is still to be carried out by the dispatcher
DUE_ACTION_STATES = ("pending", "retry")


def revision_of(messages: list[dict[str, Any]] | None, note: str | None) -> str:
    """The revision a correction is known by: its content (the same correction twice is one)."""
    data = json.dumps({"messages": messages or [], "note": note or ""}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


def posted_ids(delivery: Delivery) -> list[str]:
    """The remote ids a delivery published, in order (a thread's parts)."""
    ids = [p.remote_id for p in delivery.parts]
    if not ids and delivery.remote_id:
        ids = [delivery.remote_id]
    return ids


def _with_corrections(session: Session, delivery: Delivery, ids: list[str]) -> list[str]:
    """``ids`` and what the delivery's corrections left published besides (their result
    ids: an X or Bluesky correction's reply), in order: a retraction takes them down too,
    the replies first (it deletes last first)."""
    corrected = session.scalars(select(DeliveryAction.result_ids).where(
        DeliveryAction.delivery_id == delivery.id, DeliveryAction.action == "correct",
        DeliveryAction.state == "sent").order_by(DeliveryAction.id))
    return list(dict.fromkeys([*ids, *(str(r) for found in corrected for r in found or [])]))


def _insert_ignore(session: Session, row: dict[str, Any]) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    session.execute(insert(DeliveryAction).values([row]).on_conflict_do_nothing())


def _the_action(session: Session, article_id: int, channel: str, action: str, revision: str,
                values: dict[str, Any], now: datetime) -> tuple[DeliveryAction, bool]:
    """The action's row, created with ``values`` if there was none; locked. (row, created)."""
    wanted = (DeliveryAction.article_id == article_id, DeliveryAction.channel == channel,
              DeliveryAction.action == action, DeliveryAction.revision == revision)
    existing = session.scalar(select(DeliveryAction.id).where(*wanted))
    if existing is None:
        _insert_ignore(session, {"article_id": article_id, "channel": channel, "action": action,
                                 "revision": revision, "state": "pending", "attempts": 0,
                                 "next_attempt_at": now, "created_at": now, "updated_at": now,
                                 "done": {}, "result_ids": [], "targets": [],
                                 "interrupted": False} | values)
    row = session.scalars(select(DeliveryAction).where(*wanted).with_for_update()).one()
    return row, existing is None


def request_action(session: Session, article_id: int, channel: str, action: str, *,
                   reason: str | None = None, note: str | None = None,
                   messages: list[dict[str, Any]] | None = None, requested_by: str = "cli",
                   now: datetime | None = None,
                   ) -> tuple[DeliveryAction | None, ActionKind, str | None]:
    """Record an editor's retraction or correction of an article on an instant channel.

    Returns (the action's row or None, what happened, a detail): QUEUED (due now),
    ALREADY_DONE, IN_FLIGHT, or NOT_PUBLISHED (nothing to act on; a retraction holds a post
    that was still waiting). Sends nothing."""
    assert action in ACTIONS
    now = now or utcnow()
    delivery = session.scalar(select(Delivery).where(
        Delivery.article_id == article_id, Delivery.channel == channel).with_for_update())
    targets = posted_ids(delivery) if delivery is not None else []
    if delivery is not None and targets and action == "retract":
        targets = _with_corrections(session, delivery, targets)
    if delivery is None or not targets:
        return None, ActionKind.NOT_PUBLISHED, _not_published(
            session, delivery, action, article_id, channel, requested_by)
    if action == "correct" and session.scalar(select(DeliveryAction.id).where(
            DeliveryAction.article_id == article_id, DeliveryAction.channel == channel,
            DeliveryAction.action == "retract", DeliveryAction.state != "failed")):
        return None, ActionKind.NOT_PUBLISHED, "it was retracted there; nothing to correct"
    revision = "" if action == "retract" else revision_of(messages, note)
    row, created = _the_action(session, article_id, channel, action, revision, {
        "delivery_id": delivery.id, "reason": reason, "note": note, "messages": messages,
        "requested_by": requested_by, "targets": targets}, now)
    if created:
        _event(session, delivery, f"{action} asked for by {requested_by}"
               + (f": {reason}" if reason else f": {note}" if note else ""))
        return row, ActionKind.QUEUED, None
    if row.state == "sent":
        return row, ActionKind.ALREADY_DONE, None
    if row.state == "sending" and row.lease_until is not None and row.lease_until > now:
        return row, ActionKind.IN_FLIGHT, None
    if row.state in ("failed", "unknown"):
        row.interrupted = row.interrupted or row.state == "unknown"
        row.attempts = 0
        row.state = "pending"
        _event(session, delivery, f"{action} asked for again by {requested_by}")
    row.next_attempt_at = now
    row.targets = list(dict.fromkeys([*row.targets, *targets]))
    return row, ActionKind.QUEUED, None


def _not_published(session: Session, delivery: Delivery | None, action: str,
                   article_id: int, channel: str, by: str) -> str | None:
    """Nothing was published: a waiting (or future) post is held (retract) or goes out as
    it is now (correct: its rendering is forgotten)."""
    if action == "retract" and (delivery is None or delivery.state in (
            "pending", "retry", "failed", "held")):
        hold_delivery(session, article_id, channel, requested_by=by)
        return "it is held and will not be published"
    if delivery is None:
        return None
    if delivery.state == "unknown":
        return (f"delivery {delivery.id} may or may not have been published (state unknown); "
                "check the channel, then `distributor deliveries resolve "
                f"{delivery.id} --sent` and ask again")
    if delivery.state in ("pending", "retry") and action == "correct":
        delivery.messages = None
        return "it was not published yet; it will go out as the article is now"
    if delivery.state == "sending":
        return "it is being published right now; ask again in a moment"
    return None


def _event(session: Session, delivery: Delivery, detail: str) -> None:
    """A line in the delivery's history (the state stays; only ``pending`` events would
    change its idempotency key, so none is written here)."""
    session.add(DeliveryEvent(delivery_id=delivery.id, state=delivery.state, detail=detail))


def record_action(session: Session, row: DeliveryAction, state: str,
                  detail: str | None = None) -> None:
    """The action's new state, with a line in its delivery's history."""
    row.state = state
    if row.delivery_id is not None:
        session.add(DeliveryEvent(delivery_id=row.delivery_id,
                                  state=session.get_one(Delivery, row.delivery_id).state,
                                  detail=f"{row.action}: {state}"
                                  + (f" ({detail})" if detail else "")))


# --------------------------------------------------------------------------- digest notices

#: digests in these states went out (or may have): their articles were read
_OUT = ("sent", "sending", "unknown", "interrupted")


def was_in_sent_digest(session: Session, channel: str, article_id: int) -> bool:
    """Did a digest of the channel that went out (or may have) carry the article?"""
    digests = session.scalars(select(Digest.article_ids).where(
        Digest.channel == channel, Digest.state.in_(_OUT)))
    return any(article_id in (ids or []) for ids in digests)


def request_notice(session: Session, article_id: int, channel: str, action: str, *,
                   revision: str, reason: str | None = None, note: str | None = None,
                   requested_by: str, now: datetime | None = None) -> DeliveryAction:
    """A notice for a digest channel's next digest (its row, created once per revision)."""
    row, _ = _the_action(session, article_id, channel, action, revision, {
        "reason": reason, "note": note, "requested_by": requested_by}, now or utcnow())
    return row


def pending_notices(session: Session, channel: str, *,
                    digest_id: int | None = None) -> list[dict[str, Any]]:
    """The notices a digest channel's next digest opens with (or, given ``digest_id``, the
    ones that digest carries): each ``id``, ``action`` (retract | correct), ``title``,
    ``url``, ``reason``, ``note``."""
    query = select(DeliveryAction, ArticleRow).join(
        ArticleRow, ArticleRow.id == DeliveryAction.article_id).where(
        DeliveryAction.channel == channel, DeliveryAction.delivery_id.is_(None))
    if digest_id is None:
        query = query.where(DeliveryAction.state.in_(DUE_ACTION_STATES))
    else:
        query = query.where(DeliveryAction.state.in_(("sending", "sent")))
    rows = session.execute(query.order_by(DeliveryAction.id)).all()
    return [{"id": a.id, "action": a.action, "title": art.title, "url": art.url,
             "reason": a.reason, "note": a.note} for a, art in rows
            if digest_id is None or a.result_ids == [f"digest:{digest_id}"]]


def attach_notices(session: Session, channel: str, digest_id: int) -> list[dict[str, Any]]:
    """A digest was claimed: the pending notices are its to carry (and no other's)."""
    notices = pending_notices(session, channel)
    for row in session.scalars(select(DeliveryAction).where(
            DeliveryAction.id.in_([n["id"] for n in notices]))):
        row.state, row.result_ids = "sending", [f"digest:{digest_id}"]
        row.attempts += 1
    return notices


def finish_notices(session: Session, digest_id: int, *, sent: bool) -> None:
    """The digest that carries notices went out (they are ``sent``), or failed before anyone
    got it (they wait for the next one)."""
    now = utcnow()
    for row in session.scalars(select(DeliveryAction).where(
            DeliveryAction.delivery_id.is_(None), DeliveryAction.state == "sending")):
        if row.result_ids != [f"digest:{digest_id}"]:
            continue
        if sent:
            row.state, row.sent_at, row.done = "sent", now, {f"digest:{digest_id}": "noticed"}
        else:
            row.state, row.result_ids = "pending", []
