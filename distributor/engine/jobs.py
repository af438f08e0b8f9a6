"""The one list of jobs, run by both engines: :mod:`.embedded` (APScheduler, in this process)
and :mod:`.distributed` (procrastinate: a scheduler enqueues, workers execute).

:func:`timetable` says which jobs fire when (each source at its ``every``, the dispatch tick,
each digest channel at its cron in ``site.timezone``); :data:`KINDS` maps a job's kind to its
function. A job function gets a :class:`Runner` (what the engine running it offers: the
runtime, a dispatcher, how to start a follow-up job, how to take a channel for a drain) and the
job's arguments. Adding a job is one entry here.

========================  ================================================================
``poll(source)``          poll one source; new articles start a ``dispatch``
``dispatch()``            recover stale leases, reconcile ``unknown`` deliveries, plan, then a
                          ``drain`` per channel with something due
``drain(channel)``        send what is due on one channel, in order
``digest(channel)``       resume this channel's unfinished digests, then the digest of its last
                          cron time when due (one per (channel, period)); an engine with a
                          fan-out in batches (:attr:`Runner.batches`) sends email digests so
``digest_batch`` /        distributed mode's fan-out of one digest in subscriber batches, and
``digest_finish``         the job that marks it sent (:mod:`.distributed.fanout`)
companions                long-running tasks beside the jobs (the editor bots), handed in by
                          the interface that starts the engine
========================  ================================================================
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from distributor.clock import utcnow
from distributor.config import ChannelConfig, cron_trigger
from distributor.engine.actions import channels_with_due_actions
from distributor.engine.digests import (
    MISFIRE_GRACE,
    RESUME_WITHIN,
    DigestOutcome,
    claim_digest,
    digest_channels,
    render_plan,
    resume_digest,
    run_digest,
    schedule_of,
    unfinished_digests,
)
from distributor.engine.dispatcher import Dispatcher
from distributor.engine.notices import NOTICES
from distributor.ledger.deliveries import DUE_STATES, plan_deliveries
from distributor.ledger.ingest import poll_source
from distributor.render.context import Message
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

log = logging.getLogger("distributor.jobs")

#: the dispatch tick (seconds)
DISPATCH_EVERY = 10
#: interval triggers count from here, so every scheduler's ticks fall together
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: long-running tasks beside the jobs: ``companion(stop, dispatcher=..., hand_over=...)``
Companion = Callable[..., Coroutine[Any, Any, None]]


# --------------------------------------------------------------------------- the timetable


@dataclass(frozen=True)
class Job:
    """One timed job: its kind (a key of :data:`KINDS`), its key (source, channel, ``all``),
    its trigger, and its arguments."""

    kind: str
    key: str
    trigger: BaseTrigger
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: also once at start (a start after the digest hour sends the missed digest: its row is
    #: unique, so never twice)
    at_start: bool = True
    #: a run missed by more than this is skipped (None: always run, coalesced)
    grace: timedelta | None = None
    #: for the distributed scheduler's ticks (queueing locks per tick): the trigger's period
    every: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind} {self.key}" if self.key != "all" else self.kind


def timetable(rt: Runtime) -> list[Job]:
    """The one list of timed jobs of this configuration."""
    jobs = []
    for source in rt.config.sources:
        every = max(1, int(source.every.total_seconds()))
        jobs.append(Job("poll", source.name, IntervalTrigger(seconds=every, start_date=EPOCH),
                        {"source": source.name}, every=every))
    jobs.append(Job("dispatch", "all", IntervalTrigger(seconds=DISPATCH_EVERY, start_date=EPOCH),
                    every=DISPATCH_EVERY))
    for channel in digest_channels(rt):
        schedule = schedule_of(channel)
        assert schedule is not None
        jobs.append(Job("digest", channel.name,
                        cron_trigger(schedule, timezone=rt.config.site.tz),
                        {"channel": channel.name}, grace=MISFIRE_GRACE))
    return jobs


def previous_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's most recent fire time at or before ``now`` (UTC), asked of APScheduler's
    trigger itself: its first fire after a start that moves back until one is found."""
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=8),
                   timedelta(days=32), timedelta(days=367)):
        fire = trigger.get_next_fire_time(None, now - window)
        found = None
        steps = 0
        while fire is not None and fire <= now and steps < 5000:
            found = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            steps += 1
        if found is not None:
            return found.astimezone(UTC)
    return None


# --------------------------------------------------------------------------- what runs a job


class DigestBatches(Protocol):
    """A fan-out in batches (distributed mode's, for email digests)."""

    def handles(self, channel: ChannelConfig) -> bool: ...

    async def resume(self, channel: str, digest_id: int) -> str: ...

    async def start(self, channel: str, digest_id: int, messages: list[Message]) -> str: ...


class Runner(Protocol):
    """What the engine running a job offers it."""

    rt: Runtime
    dispatcher: Dispatcher

    async def follow(self, kind: str, key: str, **kwargs: Any) -> None:
        """Start another job (embedded: a task here; distributed: enqueued for a worker)."""

    def channel_lock(self, channel: str) -> AbstractAsyncContextManager[bool]:
        """Take a channel for a drain; yields whether it was taken."""

    @property
    def batches(self) -> DigestBatches | None: ...


@asynccontextmanager
async def always(channel: str) -> AsyncIterator[bool]:
    """The channel lock of one process (the dispatcher keeps one drain per channel)."""
    yield True


# --------------------------------------------------------------------------- the jobs


async def poll(run: Runner, *, source: str, timestamp: int | None = None) -> None:
    config = run.rt.config.source(source)
    if config is None:
        log.warning("source %s is not in this process's configuration; skipped", source)
        return
    report = await poll_source(run.rt, config)
    if report.new:
        await run.follow("dispatch", "all")


async def dispatch(run: Runner, *, timestamp: int | None = None) -> None:
    await run.dispatcher.recover()
    await run.dispatcher.reconcile_unknown()
    plan_deliveries(run.rt)
    for channel in due_channels(run.rt):
        await run.follow("drain", channel, channel=channel)


async def drain(run: Runner, *, channel: str) -> None:
    if channel not in {c.name for c in run.rt.channels()}:
        log.warning("channel %s is not enabled in this process's configuration; skipped",
                    channel)
        return
    async with run.channel_lock(channel) as taken:
        if not taken:
            log.info("channel %s is being sent by another worker", channel)
            return
        await run.dispatcher.recover()
        await run.dispatcher.drain_channel(channel)


async def digest(run: Runner, *, channel: str, now: datetime | None = None,
                 timestamp: int | None = None) -> list[DigestOutcome | str]:
    """Resume this channel's unfinished digests, then send the digest of its last cron time
    if that was within :data:`MISFIRE_GRACE` and is not there yet. Returns what happened."""
    rt = run.rt
    now = now or utcnow()
    config = rt.config.channel(channel)
    schedule = schedule_of(config)
    if not config.enabled or schedule is None:
        return []
    batches = run.batches if run.batches is not None and run.batches.handles(config) else None
    out: list[DigestOutcome | str] = []
    if not rt.dry_run:
        for digest_id in unfinished_digests(rt, config, within=RESUME_WITHIN):
            out.append(await batches.resume(channel, digest_id) if batches is not None
                       else await resume_digest(rt, config, digest_id))
    fire = previous_fire(cron_trigger(schedule, timezone=rt.config.site.tz), now)
    if fire is None or now - fire > MISFIRE_GRACE:
        return out
    if batches is None:
        out.append(await run_digest(rt, config, now=fire, period=fire.isoformat(),
                                    resume=False))
        return out
    claim = claim_digest(rt, config, until=fire, period=fire.isoformat())
    if claim.state != "claimed" or claim.digest_id is None:
        out.append(claim.state)
        return out
    out.append(await batches.start(channel, claim.digest_id,
                                   render_plan(rt, config, claim.plan)))
    return out


#: the function of each kind of job (distributed mode adds its digest batch jobs)
KINDS: dict[str, Callable[..., Awaitable[Any]]] = {
    "poll": poll, "dispatch": dispatch, "drain": drain, "digest": digest,
}


def due_channels(rt: Runtime, *, now: datetime | None = None) -> list[str]:
    """Enabled channels with a delivery due now, not paused."""
    now = now or utcnow()
    names = [c.name for c in rt.channels()]
    if not names:
        return []
    with rt.store.session() as session:
        due = set(session.scalars(select(Delivery.channel).where(
            Delivery.channel.in_(names), Delivery.state.in_(DUE_STATES),
            Delivery.next_attempt_at <= now).distinct()))
        paused = {s.channel: s.paused_reason for s in session.scalars(select(ChannelState).where(
            ChannelState.paused_reason.is_not(None)))}
    due |= channels_with_due_actions(rt, names, now)
    for name in sorted(due & set(paused)):
        NOTICES.say(log, logging.WARNING, name, "paused", paused[name] or "",
                    "channel %s is paused: %s", name, paused[name])
    for name in set(names) - set(paused):
        NOTICES.clear(name, "paused")
    return [n for n in names if n in due and n not in paused]
