"""Retracting and correcting on a digest channel (email): there is no post to delete.

Before a digest that holds the article went out, a retraction leaves the article out of the
next digest (an editors' pick, as on the dashboard) and a correction needs nothing (the digest
renders the article as it is now). After, the request is recorded as an action row without a
delivery, and the channel's next digest opens with a notice box naming the article and the
reason (:func:`distributor.ledger.actions.pending_notices`, given to the digest's renderer as
``RenderContext.notices``); the notice is marked sent with that digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.engine.digest_plans import pick_article
from distributor.ledger.actions import _the_action, revision_of, was_in_sent_digest
from distributor.plugin import ActionKind, ActionOutcome
from distributor.runtime import Runtime
from distributor.store.models import DigestPick


def digest_action(rt: Runtime, article: Article, channel: str, action: str, *,
                  reason: str | None, note: str | None, by: str,
                  now: datetime | None = None) -> ActionOutcome:
    now = now or utcnow()
    assert article.id is not None
    with rt.store.session() as session:
        if not was_in_sent_digest(session, channel, article.id):
            if action == "correct":
                return ActionOutcome(channel, action, ActionKind.DONE, state="sent",
                                     detail="not sent in a digest yet: the next digest "
                                            "carries the article as it is now")
            pick = session.scalar(select(DigestPick).where(
                DigestPick.channel == channel, DigestPick.article_id == article.id))
            if pick is not None and not pick.include:
                return ActionOutcome(channel, action, ActionKind.ALREADY_DONE, state="sent",
                                     detail="already left out of the next digest")
            pick_article(session, channel, article.id, include=False, by=by)
            return ActionOutcome(channel, action, ActionKind.DONE, state="sent",
                                 detail="left out of the next digest")
        revision = "" if action == "retract" else revision_of(None, note)
        row, created = _the_action(session, article.id, channel, action, revision, {
            "reason": reason, "note": note, "requested_by": by}, now)
        session.flush()
        if row.state == "sent":
            kind, detail = ActionKind.ALREADY_DONE, "the notice went out with a digest"
        else:
            kind = ActionKind.QUEUED
            detail = "the next digest opens with a notice" if created else \
                "already waiting: the next digest opens with a notice"
        return ActionOutcome(channel, action, kind, state=row.state, action_id=row.id,
                             detail=detail, at=row.sent_at)
