"""Read-only queries the dashboard and ``/metrics`` share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from distributor.store.models import Digest, EmailSend, FanoutRun, Subscriber


@dataclass
class DigestProgress:
    digest_id: int
    channel: str
    period: str
    articles: int
    created_at: datetime
    total: int
    sent: int
    bounced: int
    failed: int
    #: the process sending it (None: nobody is, it waits to be resumed)
    owner: str | None
    detail: str | None

    @property
    def done(self) -> int:
        return self.sent + self.bounced + self.failed

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


def running_digests(session: Session, channel: str | None = None) -> list[DigestProgress]:
    """Digests being sent (or left half-sent), with how far their fan-out has come: the send
    rows written so far, of every confirmed subscriber it serves."""
    query = select(Digest).where(Digest.state == "sending").order_by(Digest.id)
    if channel:
        query = query.where(Digest.channel == channel)
    out = []
    for digest in session.scalars(query):
        run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest.id))
        counts = {"sent": 0, "bounced": 0, "failed": 0}
        remaining_query = select(func.count()).select_from(Subscriber).where(
            Subscriber.channel == digest.channel, Subscriber.state == "confirmed")
        if run is not None:
            for state, n in session.execute(
                    select(EmailSend.state, func.count()).where(EmailSend.run_id == run.id)
                    .group_by(EmailSend.state)):
                counts[state] = counts.get(state, 0) + int(n)
            remaining_query = remaining_query.where(~exists().where(and_(
                EmailSend.run_id == run.id, EmailSend.subscriber_id == Subscriber.id)))
        remaining = int(session.scalar(remaining_query) or 0)
        done = counts["sent"] + counts["bounced"] + counts["failed"]
        out.append(DigestProgress(
            digest_id=digest.id, channel=digest.channel, period=digest.period,
            articles=len(digest.article_ids or []), created_at=digest.created_at,
            total=done + remaining, sent=counts["sent"], bounced=counts["bounced"],
            failed=counts["failed"], owner=run.lease_owner if run is not None else None,
            detail=digest.detail or (run.detail if run is not None else None)))
    return out
