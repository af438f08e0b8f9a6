"""What a send's outcome does to the ledger: a delivery sent (the channel's pacing), retried
later, failed (pausing every channel on the same credentials when they are unusable), or
unknown (left for reconciling and for editors). Each returns the delivery's new state as the
dispatcher reports it."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.engine.notices import NOTICES
from distributor.ledger.deliveries import backoff, record
from distributor.plugin import PermanentError, TransientError
from distributor.render.problems import TemplateProblem
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

log = logging.getLogger("distributor.delivery")

MAX_ATTEMPTS = 8
#: the line that says a channel paused (its credentials are unusable): a one-shot command
#: whose answer says it (``push``, ``run --once``) leaves the log's line out
PAUSED_LINE = "channel paused: %s: %s%s%s"


@dataclass
class DispatchReport:
    """What a dispatcher's pass did: the deliveries by their new state, and the actions."""

    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    #: waiting for their channel, which the send paused (its credentials): they go once it
    #: is resumed, not at a later try
    held: list[int] = field(default_factory=list)
    #: retractions and corrections carried out: (action id, its new state)
    actions: list[tuple[int, str]] = field(default_factory=list)

    def merge(self, other: DispatchReport) -> None:
        for name in ("sent", "retry", "failed", "unknown", "held", "actions"):
            getattr(self, name).extend(getattr(other, name))


def pace(session: Session, channel: str, *, adapter_rate: float | None,
          now: datetime, hold_until: datetime | None = None,
          min_interval: timedelta | None = None) -> None:
    """The channel's next send: after its pacing interval (and its ``min_interval``, the
    spacing an editor chose), and not before the platform allows (an allowance used up), in
    the store so every process and worker holds it. A later hold already there stays."""
    gap = timedelta(seconds=60.0 / adapter_rate) if adapter_rate else timedelta(0)
    if min_interval is not None and min_interval > gap:
        gap = min_interval
    next_at = now + gap if gap > timedelta(0) else None
    if hold_until is not None and hold_until > now:
        next_at = max(next_at or hold_until, hold_until)
        log.info("channel %s: the platform's allowance is used up; next post after %s",
                 channel, hold_until.isoformat(timespec="seconds"))
    if next_at is None:
        return
    state = session.get(ChannelState, channel) or ChannelState(channel=channel)
    session.add(state)
    if state.next_send_at is None or state.next_send_at < next_at:
        state.next_send_at = next_at


def retry_later(rt: Runtime, delivery_id: int, exc: TransientError, attempts: int,
                label: str) -> str:
    now = utcnow()
    with rt.store.session() as session:
        delivery = session.get_one(Delivery, delivery_id)
        delivery.lease_owner = delivery.lease_until = None
        delivery.last_error = exc.message
        if exc.retry_after is not None:
            # rate limits are not failures: they never use up attempts
            delivery.attempts = max(0, attempts - 1)
        elif attempts >= MAX_ATTEMPTS:
            delivery.last_error = f"gave up after {attempts} attempts: {exc.message}"
            record(session, delivery, "failed", delivery.last_error)
            log.error("%s failed: %s", label, delivery.last_error)
            return "failed"
        # the platform said when: wait just that (plus a little jitter); else back off
        wait = (exc.retry_after + random.uniform(0, 1) if exc.retry_after is not None
                else backoff(attempts))
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        record(session, delivery, "retry", exc.message)
        if exc.channel_wide:
            state = session.get(ChannelState, delivery.channel) or \
                ChannelState(channel=delivery.channel)
            session.add(state)
            state.next_send_at = max(state.next_send_at or now, delivery.next_attempt_at)
    log.warning("%s: %s; retrying in %.0fs", label, exc.message, wait)
    return "retry"


def fail(rt: Runtime, delivery_id: int, exc: PermanentError, label: str) -> str:
    with rt.store.session() as session:
        delivery = session.get_one(Delivery, delivery_id)
        channel = delivery.channel
        delivery.lease_owner = delivery.lease_until = None
        delivery.last_error = exc.message
        record(session, delivery, "failed", exc.message)
        paused = sharing_credentials(rt, channel) if exc.pause_channel else []
        for name in paused:
            state = session.get(ChannelState, name) or ChannelState(channel=name)
            session.add(state)
            state.paused_reason = exc.message
            state.paused_at = utcnow()
        if exc.pause_channel:
            # the article is not at fault: it goes out once the channel is fixed
            delivery.attempts = 0
            record(session, delivery, "retry", "channel paused")
    if exc.pause_channel:
        also = (f"; also paused, on the same credentials: {', '.join(paused[1:])}"
                if len(paused) > 1 else "")
        resume = "" if "channels resume" in exc.message else \
            f" (fix it, then {' and '.join(f'`distributor channels resume {n}`' for n in paused)})"
        # said as the channel's "paused" notice: the dispatcher's next look at the channel
        # does not say it again ("channel NAME is paused: ...")
        line, args = PAUSED_LINE, (label, exc.message, also, resume)
        if not NOTICES.say(log, logging.ERROR, channel, "paused", exc.message, line, *args):
            log.error(line, *args)
        return "held"  # (the delivery's state: retry, once the channel is resumed)
    log.error("%s failed: %s", label, exc.message)
    return "failed"


def template_broken(session: Session, delivery: Delivery, problem: TemplateProblem,
                    label: str) -> str:
    """The channel's template cannot be used (:class:`TemplateProblem`: the user's
    configuration, not a bug): the channel is paused with the problem's one line (only this
    channel: its template, not its credentials), the delivery waits for it (``retry``, its
    attempts not used up) and goes out once the template is fixed and the channel resumed."""
    channel = delivery.channel
    reason = problem.said(channel=False)
    delivery.lease_owner = delivery.lease_until = None
    delivery.last_error = reason
    delivery.attempts = 0
    state = session.get(ChannelState, channel) or ChannelState(channel=channel)
    session.add(state)
    state.paused_reason = reason
    state.paused_at = utcnow()
    record(session, delivery, "retry", f"channel paused: {reason}")
    args = (label, reason, "", f", then `distributor channels resume {channel}`")
    if not NOTICES.say(log, logging.ERROR, channel, "paused", reason, PAUSED_LINE, *args):
        log.error(PAUSED_LINE, *args)
    return "held"


def sharing_credentials(rt: Runtime, channel: str) -> list[str]:
    """The channel and every other channel on the same credentials (one bot token)."""
    key = rt.adapter(channel).credential_key
    if key is None:
        return [channel]
    return [channel] + [name for name, adapter in rt.adapters.items()
                        if name != channel and adapter.credential_key == key]


def unknown(rt: Runtime, delivery_id: int, reason: str, label: str) -> str:
    with rt.store.session() as session:
        delivery = session.get_one(Delivery, delivery_id)
        delivery.lease_owner = delivery.lease_until = None
        delivery.last_error = reason
        record(session, delivery, "unknown", reason)
    log.error("%s: outcome unknown (%s); check the channel, then `deliveries retry %s "
              "--force` or `deliveries resolve %s --sent`", label, reason, delivery_id,
              delivery_id)
    return "unknown"


