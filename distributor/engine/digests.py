"""Digests: one per (channel, period), assembled from the articles first seen since the last.

The unique (channel, period) row is taken before anything is sent, so two schedulers (or a
restart after the digest hour) can never send the same digest twice.

A digest whose sending stopped half-way (a crash, the SMTP server gone) stays ``sending``; the
next ``digest send`` (or the scheduler, within a day) resumes it before planning a new one, and
the fan-out serves only the subscribers it had not reached
(:mod:`distributor.channels.email.fanout`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distributor.articles import Article
from distributor.channels.outbox import OutboxAdapter
from distributor.config import ChannelConfig, cron_trigger
from distributor.ledger.ingest import from_row
from distributor.render.context import Message
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Digest, DigestPick, FanoutRun

log = logging.getLogger("distributor.digest")
MISFIRE_GRACE = timedelta(hours=6)
#: the scheduler resumes an interrupted digest on its own for this long; after that only
#: `digest send` does (old news should not go out unasked)
RESUME_WITHIN = timedelta(hours=24)


def schedule_of(channel: ChannelConfig) -> str | None:
    return getattr(channel, "schedule", None)


def digest_channels(rt: Runtime) -> list[ChannelConfig]:
    return [c for c in rt.channels() if c.publish == "digest" and schedule_of(c)]


def last_fire(schedule: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The most recent time at or before ``now`` when the cron fired."""
    trigger = cron_trigger(schedule, timezone=tz)
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=8),
                   timedelta(days=32), timedelta(days=367)):
        start = now - window
        fire = trigger.get_next_fire_time(None, start)
        found = None
        steps = 0
        while fire is not None and fire <= now and steps < 5000:
            found = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            steps += 1
        if found is not None:
            return found.astimezone(UTC)
    return None


@dataclass
class DigestPlan:
    channel: str
    period: str
    since: datetime | None
    until: datetime
    articles: list[Article] = field(default_factory=list)


def plan_digest(rt: Runtime, channel: ChannelConfig, *, until: datetime,
                period: str) -> DigestPlan:
    """What the next digest of this channel holds: articles first seen since the last one,
    as the editors' picks change it (:func:`pick_article`): an included article joins even
    when it is older (until a sent digest has held it), an excluded one is left out."""
    with rt.store.session() as session:
        previous = session.scalar(
            select(Digest).where(Digest.channel == channel.name,
                                 Digest.state.in_(("sent", "skipped", "sending")))
            .order_by(Digest.until.desc()).limit(1))
        since = previous.until if previous is not None else until - timedelta(days=1)
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
        ordered = sorted(chosen.values(), key=lambda r: (r.first_seen, r.id))
        return DigestPlan(channel=channel.name, period=period, since=since, until=until,
                          articles=[from_row(r) for r in ordered])


def _open_inclusions(session: Session, channel: str, picks: list[DigestPick],
                     until: datetime) -> set[int]:
    """The included articles no digest has carried since they were picked (a digest that is
    sent, or being sent, uses the pick up; a failed one does not)."""
    if not picks:
        return set()
    oldest = min(p.created_at for p in picks)
    carried = session.execute(select(Digest.article_ids, Digest.created_at).where(
        Digest.channel == channel, Digest.state.in_(("sent", "sending")),
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
    pick.include, pick.by, pick.created_at = include, by, datetime.now(UTC)
    session.flush()
    if include:
        return f"article {article_id} goes into the next digest of {channel}"
    return f"article {article_id} is left out of the digests of {channel}"


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
    return adapter.render_digest(plan.articles, rt.context(channel, now=plan.until))


@dataclass
class DigestOutcome:
    channel: str
    period: str
    state: str  # sent | skipped | exists | written | failed | interrupted
    articles: int = 0
    detail: str = ""
    files: list[str] = field(default_factory=list)
    digest_id: int | None = None
    #: True when this call finished a digest an earlier process had begun
    resumed: bool = False
    #: the fan-out's numbers (email channels): sent, bounced, failed, retried, resent,
    #: done_before (served by an earlier process), elapsed seconds, rate (messages/s)
    stats: dict[str, float] = field(default_factory=dict)


def _stats_dict(stats: Any) -> dict[str, float]:
    if stats is None:
        return {}
    return {"sent": stats.sent, "bounced": stats.bounced, "failed": stats.failed,
            "retried": stats.retried, "resent": stats.resent,
            "done_before": stats.done_before, "elapsed": round(stats.elapsed, 3),
            "rate": round(stats.rate, 1)}


def bind_adapters(rt: Runtime) -> None:
    """Give adapters that send with the store (email) the runtime."""
    for adapter in rt.adapters.values():
        bind = getattr(adapter, "bind", None)
        if callable(bind):
            bind(rt)


async def run_digest(rt: Runtime, channel: ChannelConfig, *, now: datetime | None = None,
                     period: str | None = None, progress: Any = None,
                     resume: bool = True) -> DigestOutcome:
    """Assemble and send one digest. ``period`` defaults to a manual one at ``now``.

    A digest of this channel left half-sent is resumed first (and is what this call
    returns); ``progress`` receives the fan-out's progress (see
    :mod:`distributor.channels.email.fanout`).
    """
    now = now or datetime.now(UTC)
    period = period or f"manual:{now.isoformat(timespec='seconds')}"
    adapter = rt.adapter(channel.name)
    min_articles = int(getattr(channel, "min_articles", 1))

    if rt.dry_run and isinstance(adapter, OutboxAdapter):
        plan = plan_digest(rt, channel, until=now, period=period)
        if len(plan.articles) < min_articles:
            return DigestOutcome(channel.name, period, "skipped", len(plan.articles),
                                 "no new articles")
        name = "digest-" + now.astimezone(rt.config.site.tz).strftime("%Y-%m-%d-%H%M")
        paths = adapter.write(name, render_plan(rt, channel, plan))
        return DigestOutcome(channel.name, period, "written", len(plan.articles),
                             files=[str(p) for p in paths])

    bind_adapters(rt)
    if resume:
        for digest_id in unfinished_digests(rt, channel):
            return await resume_digest(rt, channel, digest_id, progress=progress)

    claim = claim_digest(rt, channel, until=now, period=period)
    if claim.state != "claimed" or claim.digest_id is None:
        articles = len(claim.plan.articles) if claim.state == "skipped" else 0
        return DigestOutcome(channel.name, period, claim.state, articles, claim.detail or "",
                             digest_id=claim.digest_id)
    messages = render_plan(rt, channel, claim.plan)
    return await _send_and_record(rt, channel, claim.digest_id, period, len(claim.plan.articles),
                                  messages, progress=progress)


@dataclass
class DigestClaim:
    """A digest period taken by this process (``claimed``), or why not (``exists``,
    ``skipped``: too few new articles, recorded so the period is not tried again)."""

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
    with rt.store.session() as session:
        digest = Digest(channel=channel.name, period=period, since=plan.since, until=plan.until,
                        article_ids=[a.id for a in plan.articles], state="sending")
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
        return DigestClaim("claimed", plan, digest.id)


def unfinished_digests(rt: Runtime, channel: ChannelConfig,
                       within: timedelta | None = None) -> list[int]:
    """Digests of this channel left ``sending`` (oldest first)."""
    with rt.store.session() as session:
        query = select(Digest.id).where(Digest.channel == channel.name,
                                        Digest.state == "sending").order_by(Digest.id)
        if within is not None:
            query = query.where(Digest.created_at >= datetime.now(UTC) - within)
        return list(session.scalars(query))


async def resume_digest(rt: Runtime, channel: ChannelConfig, digest_id: int, *,
                        progress: Any = None) -> DigestOutcome:
    """Finish a digest an earlier process began: the same mail, to those not yet served."""
    with rt.store.session() as session:
        digest = session.get_one(Digest, digest_id)
        period, article_ids, until = digest.period, list(digest.article_ids), digest.until
        run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
        stored = [dict(run.message)] if run is not None else None
    if stored is not None:
        messages = stored
    else:  # stopped before the mail was rendered: render it as it would have been
        with rt.store.session() as session:
            rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(article_ids))
                                   .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
            articles = [from_row(r) for r in rows]
        messages = rt.adapter(channel.name).render_digest(
            articles, rt.context(channel, now=until))
    log.info("digest %s for %s: resuming a digest that was not finished", channel.name, period)
    outcome = await _send_and_record(rt, channel, digest_id, period, len(article_ids), messages,
                                     progress=progress)
    outcome.resumed = True
    return outcome


async def _send_and_record(rt: Runtime, channel: ChannelConfig, digest_id: int, period: str,
                           n_articles: int, messages: list[Message], *,
                           progress: Any = None) -> DigestOutcome:
    from distributor.channels.email.fanout import FanoutBusy

    try:
        stats = await send_digest(rt, channel, digest_id, messages, progress=progress)
    except FanoutBusy:
        return DigestOutcome(channel.name, period, "exists", n_articles,
                             "being sent by another process right now", digest_id=digest_id)
    except Exception as exc:
        detail = str(exc) or repr(exc)
        with rt.store.session() as session:
            row = session.get_one(Digest, digest_id)
            run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
            served = (run.sent + run.bounced + run.failed) if run is not None else 0
            row.detail = detail
            if served == 0:
                # nobody got it: its articles go into the next digest
                row.state = "failed"
        if served == 0:
            log.error("digest %s for %s failed: %s", channel.name, period, detail)
            return DigestOutcome(channel.name, period, "failed", n_articles, detail,
                                 digest_id=digest_id)
        log.error("digest %s for %s stopped after %d subscribers: %s; `digest send --channel "
                  "%s` resumes it", channel.name, period, served, detail, channel.name)
        return DigestOutcome(channel.name, period, "interrupted", n_articles,
                             f"{detail}; {served} subscribers served so far; run `distributor "
                             f"digest send --channel {channel.name}` to resume",
                             digest_id=digest_id)
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        row.state, row.sent_at, row.detail = "sent", datetime.now(UTC), None
    log.info("digest %s for %s sent with %d articles", channel.name, period, n_articles)
    return DigestOutcome(channel.name, period, "sent", n_articles, digest_id=digest_id,
                         stats=_stats_dict(stats))


async def send_digest(rt: Runtime, channel: ChannelConfig, digest_id: int,
                      messages: list[Message], *, progress: Any = None) -> Any:
    """Hand a rendered digest to the channel's adapter; returns its numbers (or None)."""
    adapter = rt.adapter(channel.name)
    if isinstance(adapter, OutboxAdapter):
        name = str(messages[0].get("name") or "") if messages else ""
        adapter.write(name or f"digest-{digest_id}", messages)
        return None
    fan_out = getattr(adapter, "send_digest", None)
    if fan_out is None:
        raise RuntimeError(f"channel type {channel.type} cannot send digests")
    if progress is not None:
        return await fan_out(rt, digest_id, messages, progress=progress)
    return await fan_out(rt, digest_id, messages)


async def run_due_digests(rt: Runtime, *, now: datetime | None = None,
                          grace: timedelta = MISFIRE_GRACE) -> list[DigestOutcome]:
    """Send each digest whose cron time has passed (within ``grace``) and is not yet sent."""
    now = now or datetime.now(UTC)
    outcomes = []
    if not rt.dry_run:
        bind_adapters(rt)
    for channel in digest_channels(rt):
        if not rt.dry_run:
            for digest_id in unfinished_digests(rt, channel, within=RESUME_WITHIN):
                outcomes.append(await resume_digest(rt, channel, digest_id))
        schedule = schedule_of(channel)
        assert schedule is not None
        fire = last_fire(schedule, rt.config.site.tz, now)
        if fire is None:
            continue
        if now - fire > grace:
            continue
        outcomes.append(await run_digest(rt, channel, now=fire, period=fire.isoformat(),
                                         resume=False))
    return outcomes
