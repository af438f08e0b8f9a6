"""Digests: one per (channel, period), planned and claimed by :mod:`.digest_plans`, handed to
the channel through the plugin API's digest protocol (``send_digest(messages, ctx)``).

Exactly once: the digest's row keeps the rendered messages, the remote ids of the parts
posted so far (``ctx.record``) and a lease (the process sending it). A digest whose sending
stopped half-way (a crash, the platform gone) stays ``sending``; the next ``digest send`` (or
the scheduler, within a day) resumes it before planning a new one, and the channel posts only
what it had not (the email fan-out: only the subscribers it had not reached). An ambiguous
answer makes it ``unknown``: it is not sent again by itself, and its articles are not put into
the next digest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from distributor.channels.outbox import dry_run_outbox
from distributor.clock import utcnow
from distributor.config import ChannelConfig
from distributor.engine.contexts import channel_audience, channel_state, key_for
from distributor.engine.digest_plans import (
    HOLDING,
    LEASE,
    DigestClaim,
    DigestPlan,
    claim_digest,
    digest_channels,
    digest_picks,
    log,
    move_in_digest,
    no_subscribers,
    pick_article,
    plan_digest,
    recipients,
    render_plan,
    schedule_of,
    unfinished_digests,
    unpick_article,
)
from distributor.ledger.actions import finish_notices
from distributor.ledger.ingest import from_row
from distributor.plugin import (
    AmbiguousError,
    ChannelBusy,
    ChannelLog,
    DigestContext,
    Message,
    sends_digests,
)
from distributor.runtime import Runtime, owner_gone
from distributor.store.models import ArticleRow, Digest

__all__ = ["HOLDING", "MISFIRE_GRACE", "RESUME_WITHIN", "DigestClaim", "DigestOutcome",
           "DigestPlan", "bind_adapters", "claim_digest", "digest_channels", "digest_picks",
           "move_in_digest", "pick_article", "plan_digest", "render_plan", "resume_digest",
           "run_digest", "schedule_of", "unfinished_digests", "unpick_article"]

MISFIRE_GRACE = timedelta(hours=6)
#: the scheduler resumes an interrupted digest on its own for this long; after that only
#: `digest send` does (old news should not go out unasked)
RESUME_WITHIN = timedelta(hours=24)
#: the lease is renewed at most this often while a digest goes out (seconds)
RENEW_EVERY = 20.0


@dataclass
class DigestOutcome:
    channel: str
    period: str
    #: sent | skipped | exists | written | failed | interrupted | unknown | waiting (a list
    #: channel with no confirmed subscriber: nothing sent or recorded)
    state: str
    articles: int = 0
    detail: str = ""
    files: list[str] = field(default_factory=list)
    digest_id: int | None = None
    #: True when this call finished a digest an earlier process had begun
    resumed: bool = False
    #: the channel's numbers (the email fan-out: sent, bounced, failed, retried, resent,
    #: done_before (served by an earlier process), elapsed seconds, rate (messages/s))
    stats: dict[str, float] = field(default_factory=dict)
    #: the articles it holds (those an ``unknown`` digest keeps out of the next one)
    article_ids: list[int] = field(default_factory=list)
    #: a dry run's: how many confirmed subscribers a list channel's digest would reach (None:
    #: not a list channel), and the messages written
    recipients: int | None = None
    messages: int = 0


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
    returns); ``progress`` is the interface's progress display, handed to the channel as
    ``ctx.observer``.
    """
    now = now or utcnow()
    period = period or f"manual:{now.isoformat(timespec='seconds')}"
    min_articles = int(getattr(channel, "min_articles", 1))

    if rt.dry_run:  # rendered into the outbox; nothing sent, nothing recorded
        plan = plan_digest(rt, channel, until=now, period=period)
        audience = recipients(rt, channel)
        if len(plan.articles) < min_articles:
            return DigestOutcome(channel.name, period, "skipped", len(plan.articles),
                                 "no new articles", recipients=audience)
        name = "digest-" + now.astimezone(rt.config.site.tz).strftime("%Y-%m-%d-%H%M")
        outbox = dry_run_outbox(rt.adapter(channel.name))
        messages = render_plan(rt, channel, plan)
        paths = outbox.write(name, messages)
        detail = no_subscribers(channel.name, len(plan.articles)) if audience == 0 else ""
        return DigestOutcome(channel.name, period, "written", len(plan.articles), detail,
                             files=[str(p) for p in paths], recipients=audience,
                             messages=len(messages),
                             article_ids=[a.id for a in plan.articles if a.id is not None])

    bind_adapters(rt)
    if resume:
        for digest_id in unfinished_digests(rt, channel):
            return await resume_digest(rt, channel, digest_id, progress=progress)

    claim = claim_digest(rt, channel, until=now, period=period)
    if claim.state != "claimed" or claim.digest_id is None:
        articles = len(claim.plan.articles) if claim.state in ("skipped", "waiting") else 0
        return DigestOutcome(channel.name, period, claim.state, articles, claim.detail or "",
                             digest_id=claim.digest_id)
    messages = render_plan(rt, channel, claim.plan)
    _keep_messages(rt, claim.digest_id, messages)
    return await _send_and_record(rt, channel, claim.digest_id, progress=progress)


async def resume_digest(rt: Runtime, channel: ChannelConfig, digest_id: int, *,
                        progress: Any = None) -> DigestOutcome:
    """Finish a digest an earlier process began: the same messages, only what is left."""
    with rt.store.session() as session:
        digest = session.get_one(Digest, digest_id)
        period, stored = digest.period, digest.messages
    if stored is None:  # stopped before the messages were kept: render them as they were
        articles = _articles_of(rt, digest_id)
        with rt.store.session() as session:
            until = session.get_one(Digest, digest_id).until
        stored = rt.adapter(channel.name).render_digest(
            articles, rt.context(channel, now=until))
        _keep_messages(rt, digest_id, stored)
    log.info("digest %s for %s: resuming a digest that was not finished", channel.name, period)
    outcome = await _send_and_record(rt, channel, digest_id, progress=progress)
    outcome.resumed = True
    return outcome


def _keep_messages(rt: Runtime, digest_id: int, messages: list[Message]) -> None:
    with rt.store.session() as session:
        session.get_one(Digest, digest_id).messages = list(messages)


def _articles_of(rt: Runtime, digest_id: int) -> list[Any]:
    with rt.store.session() as session:
        ids = list(session.get_one(Digest, digest_id).article_ids or [])
        rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids))
                               .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
        return [from_row(r) for r in rows]


# --------------------------------------------------------------------------- the lease


def take_lease(rt: Runtime, digest_id: int) -> int | None:
    """Hold the digest for this process (free, ours, expired, or its owner died); returns
    the attempt number, or None when another process holds it."""
    now = utcnow()
    with rt.store.session() as session:
        digest = session.get_one(Digest, digest_id)
        owner, until = digest.lease_owner, digest.lease_until
        free = owner in (None, rt.owner) or (until is not None and until < now) or \
            owner_gone(owner)
        if digest.state != "sending" or not free:
            return None
        same = Digest.lease_owner.is_(None) if owner is None else Digest.lease_owner == owner
        result = session.execute(
            update(Digest).where(Digest.id == digest_id, same)
            .values(lease_owner=rt.owner, lease_until=now + LEASE,
                    attempts=Digest.attempts + 1))
        if getattr(result, "rowcount", 0) != 1:
            return None
        return int(digest.attempts or 0) + 1


def _renew(rt: Runtime, digest_id: int, **values: Any) -> None:
    with rt.store.session() as session:
        session.execute(update(Digest).where(Digest.id == digest_id,
                                             Digest.lease_owner == rt.owner)
                        .values(lease_until=utcnow() + LEASE, **values))


def _finish(rt: Runtime, digest_id: int, state: str | None, detail: str | None) -> None:
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        if state is not None:
            row.state = state
        if state == "sent":
            row.sent_at = utcnow()
        if state in ("sent", "failed"):  # the notices it carried: out, or to the next one
            finish_notices(session, digest_id, sent=state == "sent")
        row.detail = detail
        if row.lease_owner == rt.owner:
            row.lease_owner = row.lease_until = None


# --------------------------------------------------------------------------- sending


def _context(rt: Runtime, channel: ChannelConfig, digest_id: int, attempt: int,
             observer: Any, served: list[int]) -> DigestContext:
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        period, since, until, created = row.period, row.since, row.until, row.created_at
        remote_ids = list(row.remote_ids or [])
    renewed = [time.monotonic()]

    def on_record(ids: list[str]) -> None:
        served[0] = max(served[0], len(ids))
        _renew(rt, digest_id, remote_ids=ids)
        renewed[0] = time.monotonic()

    def on_progress(done: int, total: int) -> None:
        served[0] = max(served[0], done)
        if time.monotonic() - renewed[0] >= RENEW_EVERY:
            _renew(rt, digest_id)
            renewed[0] = time.monotonic()

    served[0] = len(remote_ids)
    return DigestContext(
        channel=channel.name, digest_id=digest_id, period=period, since=since, until=until,
        articles=_articles_of(rt, digest_id), idempotency_key=key_for("digest", digest_id,
                                                                      created),
        log=ChannelLog(channel.name, f"digest {digest_id}"),
        state=channel_state(rt, channel.name), attempt=attempt, remote_ids=remote_ids,
        observer=observer, on_record=on_record, on_progress=on_progress,
        audience=channel_audience(rt, channel.name))


async def _send_and_record(rt: Runtime, channel: ChannelConfig, digest_id: int, *,
                           progress: Any = None) -> DigestOutcome:
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        period, messages = row.period, list(row.messages or [])
        article_ids = list(row.article_ids or [])
    n_articles = len(article_ids)
    busy = DigestOutcome(channel.name, period, "exists", n_articles,
                         "being sent by another process right now", digest_id=digest_id)
    attempt = take_lease(rt, digest_id)
    if attempt is None:
        return busy
    adapter = rt.adapter(channel.name)
    served = [0]
    ctx = _context(rt, channel, digest_id, attempt, progress, served)
    try:
        if not sends_digests(adapter):
            raise RuntimeError(f"channel type {channel.type} cannot send digests (it does not "
                               "implement the digest protocol)")
        if messages:
            await adapter.send_digest(messages, ctx)
    except ChannelBusy:
        _finish(rt, digest_id, None, None)
        return busy
    except AmbiguousError as exc:
        detail = (f"the outcome is unknown ({exc}), so it may have been published; it is not "
                  "sent again by itself and its articles stay out of the next digest")
        _finish(rt, digest_id, "unknown", detail)
        log.error("digest %s for %s: outcome unknown: %s", channel.name, period, exc)
        return DigestOutcome(channel.name, period, "unknown", n_articles, detail,
                             digest_id=digest_id, stats=dict(ctx.stats),
                             article_ids=article_ids)
    except Exception as exc:
        detail = str(exc) or repr(exc)
        if served[0] == 0:
            # nobody got it: its articles go into the next digest
            _finish(rt, digest_id, "failed", detail)
            log.error("digest %s for %s failed: %s", channel.name, period, detail)
            return DigestOutcome(channel.name, period, "failed", n_articles, detail,
                                 digest_id=digest_id)
        _finish(rt, digest_id, None, detail)
        log.error("digest %s for %s stopped after %d: %s; `digest send --channel %s` resumes "
                  "it", channel.name, period, served[0], detail, channel.name)
        return DigestOutcome(channel.name, period, "interrupted", n_articles,
                             f"{detail}; {served[0]} served so far; run `distributor digest "
                             f"send --channel {channel.name}` to resume", digest_id=digest_id)
    _finish(rt, digest_id, "sent", None)
    log.info("digest %s for %s sent with %d articles", channel.name, period, n_articles)
    return DigestOutcome(channel.name, period, "sent", n_articles, digest_id=digest_id,
                         stats=dict(ctx.stats))
