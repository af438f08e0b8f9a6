"""Digests: one per (channel, period), assembled from the articles first seen since the last.

The unique (channel, period) row is taken before anything is sent, so two schedulers (or a
restart after the digest hour) can never send the same digest twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distributor.articles import Article
from distributor.channels.base import Message
from distributor.channels.outbox import OutboxAdapter
from distributor.config import ChannelConfig
from distributor.ingest import from_row
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Digest

log = logging.getLogger("distributor.digest")
MISFIRE_GRACE = timedelta(hours=6)


def schedule_of(channel: ChannelConfig) -> str | None:
    return getattr(channel, "schedule", None)


def digest_channels(rt: Runtime) -> list[ChannelConfig]:
    return [c for c in rt.channels() if c.publish == "digest" and schedule_of(c)]


def last_fire(schedule: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The most recent time at or before ``now`` when the cron fired."""
    trigger = CronTrigger.from_crontab(schedule, timezone=tz)
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
    """What the next digest of this channel holds: articles first seen since the last one."""
    with rt.store.session() as session:
        previous = session.scalar(
            select(Digest).where(Digest.channel == channel.name,
                                 Digest.state.in_(("sent", "skipped", "sending")))
            .order_by(Digest.until.desc()).limit(1))
        since = previous.until if previous is not None else until - timedelta(days=1)
        rows = session.scalars(
            select(ArticleRow).where(ArticleRow.backlog.is_(False),
                                     ArticleRow.first_seen > since,
                                     ArticleRow.first_seen <= until)
            .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
        return DigestPlan(channel=channel.name, period=period, since=since, until=until,
                          articles=[from_row(r) for r in rows])


def render_plan(rt: Runtime, channel: ChannelConfig, plan: DigestPlan) -> list[Message]:
    adapter = rt.adapter(channel.name)
    return adapter.render_digest(plan.articles, rt.context(channel, now=plan.until))


@dataclass
class DigestOutcome:
    channel: str
    period: str
    state: str  # sent | skipped | exists | written | failed
    articles: int = 0
    detail: str = ""
    files: list[str] = field(default_factory=list)


async def run_digest(rt: Runtime, channel: ChannelConfig, *, now: datetime | None = None,
                     period: str | None = None) -> DigestOutcome:
    """Assemble and send one digest. ``period`` defaults to a manual one at ``now``."""
    now = now or datetime.now(UTC)
    period = period or f"manual:{now.isoformat(timespec='seconds')}"
    plan = plan_digest(rt, channel, until=now, period=period)
    adapter = rt.adapter(channel.name)
    min_articles = int(getattr(channel, "min_articles", 1))

    if rt.dry_run and isinstance(adapter, OutboxAdapter):
        if len(plan.articles) < min_articles:
            return DigestOutcome(channel.name, period, "skipped", len(plan.articles),
                                 "no new articles")
        name = "digest-" + now.astimezone(rt.config.site.tz).strftime("%Y-%m-%d-%H%M")
        paths = adapter.write(name, render_plan(rt, channel, plan))
        return DigestOutcome(channel.name, period, "written", len(plan.articles),
                             files=[str(p) for p in paths])

    with rt.store.session() as session:
        digest = Digest(channel=channel.name, period=period, since=plan.since, until=plan.until,
                        article_ids=[a.id for a in plan.articles], state="sending")
        session.add(digest)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return DigestOutcome(channel.name, period, "exists", detail="already sent")
        if len(plan.articles) < min_articles:
            digest.state = "skipped"
            digest.detail = f"{len(plan.articles)} new articles, fewer than {min_articles}"
            log.info("digest %s for %s: nothing new, no mail", channel.name, period)
            return DigestOutcome(channel.name, period, "skipped", len(plan.articles),
                                 digest.detail)
        digest_id = digest.id

    messages = render_plan(rt, channel, plan)
    try:
        await send_digest(rt, channel, digest_id, messages)
    except Exception as exc:
        log.error("digest %s for %s failed: %s", channel.name, period, exc)
        with rt.store.session() as session:
            row = session.get_one(Digest, digest_id)
            row.state, row.detail = "failed", str(exc)
        return DigestOutcome(channel.name, period, "failed", len(plan.articles), str(exc))
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        row.state, row.sent_at = "sent", datetime.now(UTC)
    log.info("digest %s for %s sent with %d articles", channel.name, period, len(plan.articles))
    return DigestOutcome(channel.name, period, "sent", len(plan.articles))


async def send_digest(rt: Runtime, channel: ChannelConfig, digest_id: int,
                      messages: list[Message]) -> None:
    adapter = rt.adapter(channel.name)
    if isinstance(adapter, OutboxAdapter):
        name = str(messages[0].get("name") or "") if messages else ""
        adapter.write(name or f"digest-{digest_id}", messages)
        return
    fan_out = getattr(adapter, "send_digest", None)
    if fan_out is None:
        raise RuntimeError(f"channel type {channel.type} cannot send digests")
    await fan_out(rt, digest_id, messages)


async def run_due_digests(rt: Runtime, *, now: datetime | None = None,
                          grace: timedelta = MISFIRE_GRACE) -> list[DigestOutcome]:
    """Send each digest whose cron time has passed (within ``grace``) and is not yet sent."""
    now = now or datetime.now(UTC)
    outcomes = []
    for channel in digest_channels(rt):
        schedule = schedule_of(channel)
        assert schedule is not None
        fire = last_fire(schedule, rt.config.site.tz, now)
        if fire is None:
            continue
        if now - fire > grace:
            continue
        outcomes.append(await run_digest(rt, channel, now=fire, period=fire.isoformat()))
    return outcomes
