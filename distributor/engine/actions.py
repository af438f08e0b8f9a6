"""Carrying out retractions and corrections (the ledger's action rows), for the dispatcher:
the same drain per channel, pacing, retries and crash recovery as posts. The channel's next
send is paced from the last request the action reported (``ctx.request_sent``), as a post's is,
not from the end of the action's bookkeeping.

Each remote id the channel handles is recorded at once (``ActionContext.record``), so after a
crash only the rest is touched. An action left ``sending`` by a process that died goes back to
``retry`` flagged ``interrupted``: deleting or editing again is harmless (a message already gone
or already edited counts as done), and a channel whose action cannot be repeated (X's
correction reply) looks for it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.engine.contexts import channel_audience, channel_state, key_for
from distributor.engine.pacing_rules import paced_from
from distributor.engine.send_outcomes import MAX_ATTEMPTS, pace
from distributor.ledger.actions import DUE_ACTION_STATES, record_action
from distributor.ledger.deliveries import backoff
from distributor.ledger.ingest import from_row
from distributor.plugin import (
    ActionContext,
    AmbiguousError,
    ChannelLog,
    PermanentError,
    TransientError,
    capabilities,
)
from distributor.runtime import Runtime, owner_gone
from distributor.store.models import ArticleRow, ChannelState, Delivery, DeliveryAction

log = logging.getLogger("distributor.delivery")

LEASE = timedelta(minutes=5)


def next_due_action(session: Session, channel: str, only: set[int] | None,
                    now: datetime) -> int | None:
    """The channel's next action to carry out (oldest first); ``only``: just these, now."""
    query = select(DeliveryAction.id).where(
        DeliveryAction.channel == channel, DeliveryAction.state.in_(DUE_ACTION_STATES),
        DeliveryAction.delivery_id.is_not(None))
    if only is not None:
        query = query.where(DeliveryAction.id.in_(only))
    else:
        query = query.where(DeliveryAction.next_attempt_at <= now)
    return session.scalar(query.order_by(DeliveryAction.id).limit(1))


def channels_with_due_actions(rt: Runtime, names: list[str], now: datetime) -> set[str]:
    with rt.store.session() as session:
        return set(session.scalars(select(DeliveryAction.channel).where(
            DeliveryAction.channel.in_(names), DeliveryAction.state.in_(DUE_ACTION_STATES),
            DeliveryAction.delivery_id.is_not(None),
            DeliveryAction.next_attempt_at <= now).distinct()))


def claim_action(rt: Runtime, action_id: int) -> bool:
    now = utcnow()
    with rt.store.session() as session:
        result = session.execute(
            update(DeliveryAction)
            .where(and_(DeliveryAction.id == action_id,
                        DeliveryAction.state.in_(DUE_ACTION_STATES)))
            .values(state="sending", lease_owner=rt.owner, lease_until=now + LEASE,
                    attempts=DeliveryAction.attempts + 1, updated_at=now))
        return getattr(result, "rowcount", 0) == 1


def recover_actions(rt: Runtime, *, now: datetime | None = None) -> list[int]:
    """Actions left ``sending`` by a process that died: due again, flagged interrupted."""
    now = now or utcnow()
    recovered = []
    with rt.store.session() as session:
        stale = session.scalars(select(DeliveryAction).where(
            DeliveryAction.state == "sending")).all()
        for row in stale:
            if row.lease_owner == rt.owner or not (
                    (row.lease_until is not None and row.lease_until < now)
                    or owner_gone(row.lease_owner)):
                continue
            row.interrupted = True
            row.lease_owner = row.lease_until = None
            row.next_attempt_at = now
            row.last_error = "interrupted; resumed with what was not done yet"
            record_action(session, row, "retry", "interrupted while sending; resuming")
            log.warning("%s %s (%s) was interrupted; resuming", row.action, row.id, row.channel)
            recovered.append(row.id)
    return recovered


def _context(rt: Runtime, row: DeliveryAction, delivery: Delivery, article: ArticleRow,
             on_request: Callable[[datetime], None]) -> ActionContext:
    action_id = row.id

    def store(remote_id: str, what: str) -> None:
        with rt.store.session() as session:
            current = session.get_one(DeliveryAction, action_id)
            current.done = {**(current.done or {}), remote_id: what}
            current.lease_until = utcnow() + LEASE

    config = rt.config.channel(row.channel)
    return ActionContext(
        channel=row.channel,
        idempotency_key=key_for(f"action-{row.action}", row.id, row.created_at, row.attempts),
        log=ChannelLog(row.channel, f"{row.action} {row.id} of delivery {delivery.id}"),
        state=channel_state(rt, row.channel), attempt=row.attempts, delivery_id=delivery.id,
        parts=len(row.targets or []), remote_ids=tuple(row.targets or []),
        audience=channel_audience(rt, row.channel), action=row.action, action_id=row.id,
        reason=row.reason, note=row.note, article=from_row(article),
        render=rt.context(config), posted=tuple(delivery.messages or []),
        done=dict(row.done or {}), interrupted=row.interrupted, on_record=store,
        on_request=on_request)


async def send_action(rt: Runtime, action_id: int) -> str:
    """Carry out one claimed action; returns its new state (sent, retry, failed, unknown)."""
    with rt.store.session() as session:
        row = session.get_one(DeliveryAction, action_id)
        delivery = session.get_one(Delivery, row.delivery_id)
        requested: list[datetime] = []  # when the channel's requests left (request_sent)
        ctx = _context(rt, row, delivery, delivery.article, requested.append)
        targets, messages, action = list(row.targets or []), list(row.messages or []), row.action
        label = f"{action} {row.id} ({row.channel}, article {row.article_id})"
    adapter = rt.adapter(ctx.channel)
    if action not in capabilities(adapter):
        return _finish(rt, action_id, "failed", f"the channel cannot {action} posts", label)
    started = utcnow()
    try:
        if action == "retract":
            await adapter.retract(targets, ctx)  # type: ignore[attr-defined]
            result = [t for t in targets if ctx.done.get(t) == "marked"]
        else:
            result = list(await adapter.correct(targets, messages, ctx))  # type: ignore[attr-defined]
    except TransientError as exc:
        return _retry(rt, action_id, exc, label)
    except PermanentError as exc:
        return _finish(rt, action_id, "failed", exc.message, label)
    except AmbiguousError as exc:
        return _finish(rt, action_id, "unknown", exc.message, label, interrupted=True)
    except Exception as exc:  # a channel's bug: keep the action, log the traceback
        log.exception("%s: unexpected error from the channel", label)
        return _retry(rt, action_id, TransientError(f"unexpected error: {exc!r}",
                                                    channel_wide=False), label)
    now = utcnow()
    with rt.store.session() as session:
        row = session.get_one(DeliveryAction, action_id)
        row.result_ids = [str(r) for r in result]
        row.sent_at = now
        row.last_error = None
        row.lease_owner = row.lease_until = None
        summary = ", ".join(f"{k} {v}" for k, v in (row.done or {}).items())
        record_action(session, row, "sent", summary or None)
        configured = getattr(rt.config.channel(row.channel), "rate_per_minute", None)
        pace(session, row.channel, adapter_rate=configured or adapter.rate_per_minute,
             now=paced_from(requested[-1:], started, now), hold_until=adapter.hold_until())
    log.info("%s done: %s", label, summary or "nothing left to do")
    return "sent"


def _retry(rt: Runtime, action_id: int, exc: TransientError, label: str) -> str:
    now = utcnow()
    with rt.store.session() as session:
        row = session.get_one(DeliveryAction, action_id)
        row.lease_owner = row.lease_until = None
        row.last_error = exc.message
        if exc.retry_after is None and row.attempts >= MAX_ATTEMPTS:
            row.last_error = f"gave up after {row.attempts} attempts: {exc.message}"
            record_action(session, row, "failed", row.last_error)
            log.error("%s failed: %s", label, row.last_error)
            return "failed"
        if exc.retry_after is not None:
            row.attempts = max(0, row.attempts - 1)
        wait = exc.retry_after if exc.retry_after is not None else backoff(row.attempts)
        row.next_attempt_at = now + timedelta(seconds=wait)
        record_action(session, row, "retry", exc.message)
        if exc.channel_wide:
            state = session.get(ChannelState, row.channel) or ChannelState(channel=row.channel)
            session.add(state)
            state.next_send_at = max(state.next_send_at or now, row.next_attempt_at)
    log.warning("%s: %s; retrying in %.0fs", label, exc.message, wait)
    return "retry"


def _finish(rt: Runtime, action_id: int, state: str, reason: str, label: str, *,
            interrupted: bool = False) -> str:
    with rt.store.session() as session:
        row = session.get_one(DeliveryAction, action_id)
        row.lease_owner = row.lease_until = None
        row.last_error = reason
        row.interrupted = row.interrupted or interrupted
        record_action(session, row, state, reason)
    log.error("%s %s: %s", label, state, reason)
    return state
