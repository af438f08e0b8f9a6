"""What a pass says while it waits for a channel's next try after a failure: one line
("channel telegram: retrying in 24 s (6 posts waiting, after: ...)"), so a pass that waits
out an outage is never silent about the posts queued behind the failed one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distributor.ledger.deliveries import DUE_STATES
from distributor.store.models import Delivery

#: a wait shorter than this is not worth a line
SAY_AFTER = 1.0


def retry_wait(session: Session, channel: str, held_until: datetime | None,
               wait: float) -> str | None:
    """The line to say when the channel's hold (``held_until``, ``wait`` seconds away) is the
    next try after a failed attempt; else None (no hold, a short one, or the pacing's)."""
    if held_until is None or wait < SAY_AFTER:
        return None
    failed = session.execute(
        select(Delivery.last_error, Delivery.next_attempt_at).where(
            Delivery.channel == channel, Delivery.state == "retry",
            Delivery.last_error.is_not(None))
        .order_by(Delivery.next_attempt_at.desc()).limit(1)).first()
    if failed is None or failed.next_attempt_at is None or \
            abs(failed.next_attempt_at - held_until) > timedelta(seconds=1):
        return None  # the hold is the channel's pacing (or another's wait), not this retry
    waiting = session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.channel == channel, Delivery.state.in_(DUE_STATES))) or 0
    return (f"channel {channel}: retrying in {wait:.0f} s ({waiting} post"
            f"{'' if waiting == 1 else 's'} waiting, after: {failed.last_error})")
