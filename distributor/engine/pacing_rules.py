"""A channel's own limits on top of the platform's pace: ``min_interval`` (what ``push --now``
may skip) and ``max_posts_per_day``; and the moment a send is paced from."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.runtime import Runtime
from distributor.store.models import Delivery, DeliveryPart


def spacing_slack(rt: Runtime, channel: str) -> float:
    """How much of the channel's hold is its ``min_interval`` beyond the platform's pace:
    what ``push --now`` does not wait for."""
    config = rt.config.channel(channel)
    spacing = getattr(config, "min_interval", None)
    if spacing is None:
        return 0.0
    rate = getattr(config, "rate_per_minute", None) or rt.adapter(channel).rate_per_minute
    gap = 60.0 / rate if rate else 0.0
    return max(0.0, spacing.total_seconds() - gap)


def daily_cap_until(rt: Runtime, session: Session, channel: str, now: datetime,
                    need: int = 1) -> datetime | None:
    """When posting ``need`` more posts would pass the channel's ``max_posts_per_day``: the
    time enough posts have left the 24-hour window; else None. Every posted part counts
    (a thread of 3 is 3 posts), and a thread is never started that the cap would cut."""
    cap = getattr(rt.config.channel(channel), "max_posts_per_day", None)
    if not cap:
        return None
    need = max(1, min(need, cap))
    recent = session.scalars(
        select(DeliveryPart.sent_at).join(Delivery)
        .where(Delivery.channel == channel, DeliveryPart.sent_at > now - timedelta(days=1))
        .order_by(DeliveryPart.sent_at.desc()).limit(cap)).all()
    if len(recent) + need <= cap:
        return None
    return recent[cap - need] + timedelta(days=1)


def paced_from(requested: list[datetime], started: datetime,
               now: datetime | None = None) -> datetime:
    """The moment a send counts from for the channel's pace: the first request its adapter
    reported (``SendContext.request_sent``: the post itself, after any login or upload), kept
    within the send (not before it began, not after ``now``); else ``now``, the end of the
    send (an adapter that reports nothing: plugin API 1.2 or before)."""
    now = now or utcnow()
    if not requested:
        return now
    return min(max(requested[0], started), now)
