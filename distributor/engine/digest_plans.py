"""Planning digests: one per (channel, period), holding the articles first seen since the
last one, as the editors' picks change it; the (channel, period) row is claimed before anything
is sent, so two schedulers (or a restart after the digest hour) never send one twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.config import ChannelConfig
from distributor.ledger.actions import attach_notices, pending_notices
from distributor.ledger.ingest import from_row
from distributor.ledger.mailing import confirmed_subscribers
from distributor.plugin import is_list_channel
from distributor.render.context import Message
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Digest, DigestPick

log = logging.getLogger("distributor.digest")
#: how long a process holds a digest it sends (kept alive as it goes)
LEASE = timedelta(minutes=5)
#: digests in these states hold their articles: the next digest starts after them (a digest
#: skipped for having fewer than ``min_articles`` holds none: they go into the next one)
HOLDING = ("sent", "sending", "unknown")


def schedule_of(channel: ChannelConfig) -> str | None:
    return getattr(channel, "schedule", None)


def digest_channels(rt: Runtime) -> list[ChannelConfig]:
    return [c for c in rt.channels() if c.publish == "digest" and schedule_of(c)]


@dataclass
class DigestPlan:
    channel: str
    period: str
    since: datetime | None
    until: datetime
    articles: list[Article] = field(default_factory=list)
    #: retractions and corrections of articles of earlier digests, opening this one
    notices: list[dict[str, Any]] = field(default_factory=list)


def plan_digest(rt: Runtime, channel: ChannelConfig, *, until: datetime,
                period: str) -> DigestPlan:
    """What the next digest of this channel holds: articles first seen since the last one,
    as the editors' picks change it (:func:`pick_article`): an included article joins even
    when it is older (until a sent digest has held it), an excluded one is left out."""
    with rt.store.session() as session:
        previous = session.scalar(
            select(Digest).where(Digest.channel == channel.name,
                                 Digest.state.in_(HOLDING))
            .order_by(Digest.until.desc()).limit(1))
        if previous is not None:
            since = previous.until
        else:  # the first digest: a day back, or back to the first one skipped for too few
            first_skipped = session.scalar(
                select(Digest.since).where(Digest.channel == channel.name,
                                           Digest.state == "skipped",
                                           Digest.since.is_not(None))
                .order_by(Digest.since).limit(1))
            since = until - timedelta(days=1)
            if first_skipped is not None:
                since = min(since, first_skipped)
        picks = session.scalars(select(DigestPick).where(
            DigestPick.channel == channel.name)).all()
        excluded = {p.article_id for p in picks if not p.include}
        included = _open_inclusions(session, channel.name,
                                    [p for p in picks if p.include], until)
        rows = session.scalars(
            select(ArticleRow).where(ArticleRow.backlog.is_(False),
                                     ArticleRow.first_seen > since,
                                     ArticleRow.first_seen <= until)
            .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
        chosen = {r.id: r for r in rows if r.id not in excluded}
        if included:
            for row in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(included))):
                chosen.setdefault(row.id, row)
        ranks = {p.article_id: p.rank for p in picks if p.include and p.rank is not None}
        ordered = sorted(chosen.values(),  # as editors ordered them, the rest by time
                         key=lambda r: (ranks.get(r.id, len(ranks)), r.first_seen, r.id))
        return DigestPlan(channel=channel.name, period=period, since=since, until=until,
                          articles=[from_row(r) for r in ordered],
                          notices=pending_notices(session, channel.name))


def _open_inclusions(session: Session, channel: str, picks: list[DigestPick],
                     until: datetime) -> set[int]:
    """The included articles no digest has carried since they were picked (a digest that is
    sent, or being sent, uses the pick up; a failed one does not)."""
    if not picks:
        return set()
    oldest = min(p.created_at for p in picks)
    carried = session.execute(select(Digest.article_ids, Digest.created_at).where(
        Digest.channel == channel, Digest.state.in_(("sent", "sending", "unknown")),
        Digest.created_at >= oldest)).all()
    out = set()
    for pick in picks:
        if pick.created_at > until:
            continue
        if any(pick.article_id in (ids or []) and created >= pick.created_at
               for ids, created in carried):
            continue
        out.add(pick.article_id)
    return out


def pick_article(session: Session, channel: str, article_id: int, *, include: bool,
                 by: str | None = None) -> str:
    """An editor's choice for the channel's next digest: add the article (``include``), or
    leave it out. Returns a one-line answer; raises LookupError for an unknown article."""
    if session.get(ArticleRow, article_id) is None:
        raise LookupError(f"no article {article_id}; `distributor articles list` shows them")
    pick = session.scalar(select(DigestPick).where(DigestPick.channel == channel,
                                                   DigestPick.article_id == article_id))
    if pick is None:
        pick = DigestPick(channel=channel, article_id=article_id)
        session.add(pick)
    pick.include, pick.by, pick.created_at = include, by, utcnow()
    session.flush()
    if include:
        return f"article {article_id} goes into the next digest of {channel}"
    return f"article {article_id} is left out of the digests of {channel}"


def move_in_digest(session: Session, channel: str, order: list[int], article_id: int,
                   step: int, *, by: str | None = None) -> str:
    """Move an article ``step`` places in the next digest (negative: towards the top; a step
    past the top makes it the lead), ``order`` being the digest's articles as they stand.
    The whole order is kept as the editors' picks, so it holds until the digest is sent."""
    if article_id not in order:
        raise LookupError(f"article {article_id} is not in the next digest of {channel}")
    ids = [i for i in order if i != article_id]
    place = max(0, min(len(ids), order.index(article_id) + step))
    ids.insert(place, article_id)
    picks = {p.article_id: p for p in session.scalars(select(DigestPick).where(
        DigestPick.channel == channel, DigestPick.article_id.in_(ids)))}
    for rank, item in enumerate(ids):
        pick = picks.get(item)
        if pick is None:
            pick = DigestPick(channel=channel, article_id=item, include=True, by=by,
                              created_at=utcnow())
            session.add(pick)
        pick.rank = rank
    session.flush()
    return (f"article {article_id} leads the next digest of {channel}" if place == 0 else
            f"article {article_id} is number {place + 1} of {len(ids)} in the next digest of "
            f"{channel}")


def unpick_article(session: Session, channel: str, article_id: int) -> bool:
    """Forget the editors' choice (the article follows the usual rule again)."""
    pick = session.scalar(select(DigestPick).where(DigestPick.channel == channel,
                                                   DigestPick.article_id == article_id))
    if pick is None:
        return False
    session.delete(pick)
    return True


def digest_picks(session: Session, channel: str | None = None) -> list[DigestPick]:
    query = select(DigestPick).order_by(DigestPick.created_at.desc())
    if channel:
        query = query.where(DigestPick.channel == channel)
    return list(session.scalars(query))


def render_plan(rt: Runtime, channel: ChannelConfig, plan: DigestPlan) -> list[Message]:
    adapter = rt.adapter(channel.name)
    ctx = rt.context(channel, now=plan.until)
    ctx.notices = list(plan.notices)
    return adapter.render_digest(plan.articles, ctx)


@dataclass
class DigestClaim:
    """A digest period taken by this process (``claimed``), or why not (``exists``,
    ``skipped``: too few new articles, recorded so the period is not tried again;
    ``waiting``: a list channel without confirmed subscribers, nothing recorded, so its
    articles go into the next digest)."""

    state: str
    plan: DigestPlan
    digest_id: int | None = None
    detail: str | None = None


def claim_digest(rt: Runtime, channel: ChannelConfig, *, until: datetime,
                 period: str) -> DigestClaim:
    """Take the digest of (channel, period): its row is unique, so of two schedulers or
    workers only one gets it."""
    plan = plan_digest(rt, channel, until=until, period=period)
    min_articles = int(getattr(channel, "min_articles", 1))
    if recipients(rt, channel) == 0:
        # a digest to nobody would use the period up: its articles would never reach the
        # readers who subscribe later. Nothing is recorded; the next digest holds them.
        detail = no_subscribers(channel.name, len(plan.articles))
        log.info("digest %s for %s: %s", channel.name, period, detail)
        return DigestClaim("waiting", plan, detail=detail)
    with rt.store.session() as session:
        digest = Digest(channel=channel.name, period=period, since=plan.since, until=plan.until,
                        article_ids=[a.id for a in plan.articles], state="sending",
                        lease_owner=rt.owner, lease_until=utcnow() + LEASE)
        session.add(digest)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            existing = session.scalar(select(Digest.state).where(
                Digest.channel == channel.name, Digest.period == period))
            return DigestClaim("exists", plan,
                               detail=f"the digest of {period} exists already ({existing})")
        if len(plan.articles) < min_articles:
            digest.state = "skipped"
            digest.detail = (
                "no new article since the last digest; no mail sent" if not plan.articles else
                f"only {len(plan.articles)} new article{'s' if len(plan.articles) != 1 else ''}"
                f", fewer than min_articles ({min_articles}); no mail sent")
            log.info("digest %s for %s: nothing new, no mail", channel.name, period)
            return DigestClaim("skipped", plan, digest.id, digest.detail)
        plan.notices = attach_notices(session, channel.name, digest.id)
        return DigestClaim("claimed", plan, digest.id)


def recipients(rt: Runtime, channel: ChannelConfig) -> int | None:
    """Who a digest of this channel reaches: a list channel's confirmed subscribers (their
    number); None for other channels (they post once, to their chat or account)."""
    adapter = rt.adapter(channel.name)
    if not is_list_channel(getattr(adapter, "wraps", None) or adapter):  # also under --dry-run
        return None
    return confirmed_subscribers(rt.store, channel.name)


def no_subscribers(channel: str, articles: int) -> str:
    """Why a list channel's digest was not sent: nobody would get it."""
    held = (f"its {articles} article{'s' if articles != 1 else ''} go" if articles else
            "new articles go")
    return (f"no confirmed subscribers yet, so no mail was sent; {held} into the next digest "
            f"once there are (`distributor subscribers add EMAIL --channel {channel}`)")


def unfinished_digests(rt: Runtime, channel: ChannelConfig,
                       within: timedelta | None = None) -> list[int]:
    """Digests of this channel left ``sending`` (oldest first)."""
    with rt.store.session() as session:
        query = select(Digest.id).where(Digest.channel == channel.name,
                                        Digest.state == "sending").order_by(Digest.id)
        if within is not None:
            query = query.where(Digest.created_at >= utcnow() - within)
        return list(session.scalars(query))
