"""What a dispatcher finds left over: deliveries left ``sending`` by a process that died
(reconciled with the platform where it allows, else ``unknown``), and recent ``unknown`` ones
looked for again (the platform may show a post later than it answered)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.engine.actions import recover_actions
from distributor.engine.contexts import reconciling
from distributor.engine.reports import settle
from distributor.engine.send_outcomes import DispatchReport
from distributor.ledger.deliveries import record
from distributor.runtime import Runtime, owner_gone
from distributor.store.models import Delivery, DeliveryPart

log = logging.getLogger("distributor.delivery")

RECONCILE_WINDOW = timedelta(hours=24)  # Telegram keeps updates 24 hours; older is for editors


async def recover_stale(rt: Runtime, *, now: datetime | None = None) -> DispatchReport:
    """Deliveries left ``sending`` by a process that died: reconcile, else ``unknown``."""
    now = now or utcnow()
    recovered = DispatchReport()
    recover_actions(rt, now=now)  # retractions and corrections: resumed, never lost
    with rt.store.session() as session:
        stale = session.scalars(select(Delivery).where(Delivery.state == "sending")).all()
        stale = [d for d in stale if d.lease_owner != rt.owner and (
            (d.lease_until is not None and d.lease_until < now) or owner_gone(d.lease_owner))]
        for delivery in stale:
            adapter = reconciling(rt, delivery.channel)
            remote = None
            if adapter is not None and delivery.messages:
                try:
                    remote = await adapter.reconcile(
                        delivery.messages, [p.remote_id for p in delivery.parts])
                except Exception as exc:  # reconciliation is best effort
                    log.warning("could not reconcile delivery %s: %s", delivery.id, exc)
            if remote is not None:
                reconciled(session, delivery, str(remote), now, recovered, "after a crash")
            else:
                delivery.last_error = (
                    "the process sending this stopped before the platform answered; it may "
                    "or may not have been published. Check the channel, then run "
                    f"`distributor deliveries retry {delivery.id} --force` to send it or "
                    f"`distributor deliveries resolve {delivery.id} --sent` to close it")
                record(session, delivery, "unknown", "interrupted while sending")
                log.warning("delivery %s (%s) is unknown: interrupted while sending",
                            delivery.id, delivery.channel)
                settle(recovered, delivery.id, "unknown")
            delivery.lease_owner = None
            delivery.lease_until = None
    return recovered


def reconciled(session: Session, delivery: Delivery, remote: str, now: datetime,
               report: DispatchReport, when: str) -> None:
    """The part in flight was found on the platform: record it; a thread goes on."""
    done, total = len(delivery.parts), len(delivery.messages or [])
    if done < total:
        delivery.parts.append(DeliveryPart(idx=done, remote_id=remote))
    if len(delivery.parts) < total:
        delivery.next_attempt_at = now
        record(session, delivery, "retry",
               f"part {done + 1} of {total} found on the platform {when}; resuming")
        settle(report, delivery.id, "retry")
    else:
        delivery.remote_id = delivery.parts[0].remote_id if delivery.parts else remote
        delivery.sent_at = now
        delivery.last_error = None
        record(session, delivery, "sent", f"reconciled {when}")
        settle(report, delivery.id, "sent")


async def reconcile_unknown(rt: Runtime, *, now: datetime | None = None) -> DispatchReport:
    """Look again for the posts of recent ``unknown`` deliveries (the platform may show a
    post later than it answered); those found are marked sent, the rest stay for editors."""
    now = now or utcnow()
    report = DispatchReport()
    with rt.store.session() as session:
        unknown = session.scalars(select(Delivery).where(
            Delivery.state == "unknown", Delivery.updated_at >= now - RECONCILE_WINDOW)).all()
        for delivery in unknown:
            adapter = reconciling(rt, delivery.channel)
            if adapter is None or not delivery.messages:
                continue
            try:
                remote = await adapter.reconcile(
                    delivery.messages, [p.remote_id for p in delivery.parts])
            except Exception as exc:  # best effort: it stays unknown
                log.debug("could not reconcile delivery %s: %s", delivery.id, exc)
                continue
            if remote is not None:
                reconciled(session, delivery, str(remote), now, report, "later")
                log.info("delivery %s (%s) was published after all (remote id %s)",
                         delivery.id, delivery.channel, remote)
    return report
