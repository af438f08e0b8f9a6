"""APScheduler wiring for embedded mode: sources at their ``every``, the dispatcher, digests.

SIGTERM/SIGINT stop new work, let in-flight sends finish, then return.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from distributor.channels.telegram.editorbot import run_editor_bots
from distributor.config import cron_trigger
from distributor.engine.digests import (
    MISFIRE_GRACE,
    DigestOutcome,
    digest_channels,
    run_digest,
    run_due_digests,
    schedule_of,
)
from distributor.engine.dispatcher import Dispatcher, DispatchReport, PreviewItem, dry_run_pass
from distributor.ledger.ingest import PollReport, poll_all, poll_source
from distributor.runtime import Runtime

log = logging.getLogger("distributor.scheduler")
DISPATCH_EVERY = timedelta(seconds=10)


@dataclass
class PassReport:
    polls: list[PollReport] = field(default_factory=list)
    dispatch: DispatchReport = field(default_factory=DispatchReport)
    digests: list[DigestOutcome] = field(default_factory=list)
    previews: list[PreviewItem] = field(default_factory=list)


async def run_pass(rt: Runtime, *, now: datetime | None = None) -> PassReport:
    """One full pass: poll every source, send what is due, send the digests that are due.

    Under --dry-run nothing is sent and the ledger is untouched: what would be published
    (including each digest channel's next digest) is written to the outbox.
    """
    report = PassReport()
    report.polls = await poll_all(rt, now=now)
    if rt.dry_run:
        report.previews = dry_run_pass(rt, now=now)
        for channel in digest_channels(rt):
            report.digests.append(await run_digest(rt, channel, now=now))
        return report
    report.dispatch = await Dispatcher(rt).run_once(now=now)
    report.digests = await run_due_digests(rt, now=now)
    return report


class Service:
    """The long-running scheduler of ``distributor run``."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.dispatcher = Dispatcher(rt)
        self.scheduler = AsyncIOScheduler(timezone=rt.config.site.tz)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopped = asyncio.Event()
        self._previewed: set[tuple[int, str]] = set()

    def _spawn(self, name: str,
               work: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """A job that runs ``work`` in a task of ours, so a shutdown can wait for it."""

        async def job() -> None:
            if self.stopped.is_set():
                return
            task = asyncio.create_task(self._guard(name, work), name=name)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not self.stopped.is_set():
                    raise
                # shutting down: run() waits for the task itself

        return job

    async def _guard(self, name: str, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except Exception:
            log.exception("job %s failed unexpectedly (a bug: please report it)", name)

    def setup(self) -> None:
        now = datetime.now(UTC)
        for source in self.rt.config.sources:
            async def poll(source: Any = source) -> None:
                report: PollReport = await poll_source(self.rt, source)
                if report.new:
                    await self.dispatch()

            self.scheduler.add_job(
                self._spawn(f"poll {source.name}", poll),
                IntervalTrigger(seconds=source.every.total_seconds()),
                id=f"source:{source.name}", next_run_time=now, coalesce=True, max_instances=1,
                misfire_grace_time=None)
        self.scheduler.add_job(
            self._spawn("dispatch", self.dispatch), IntervalTrigger(
                seconds=DISPATCH_EVERY.total_seconds()),
            id="dispatch", next_run_time=now, coalesce=True, max_instances=1,
            misfire_grace_time=None)
        for channel in digest_channels(self.rt):
            schedule = schedule_of(channel)
            assert schedule is not None

            async def digest() -> None:
                await run_due_digests(self.rt)

            self.scheduler.add_job(
                self._spawn(f"digest {channel.name}", digest),
                cron_trigger(schedule, timezone=self.rt.config.site.tz),
                id=f"digest:{channel.name}", coalesce=True, max_instances=1,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()))
        # a restart after the digest hour: the missed digest goes out once (its row is unique)
        self.scheduler.add_job(self._spawn("missed digests", run_due_digests_now(self.rt)),
                               next_run_time=now, id="digest:catch-up")

    async def dispatch(self) -> None:
        if self.stopped.is_set():
            return
        if self.rt.dry_run:  # the ledger is never touched: what is new goes to the outbox once
            for item in dry_run_pass(self.rt):
                if (item.article_id, item.channel) not in self._previewed:
                    self._previewed.add((item.article_id, item.channel))
                    log.info("dry run: article %s for %s written to %s", item.article_id,
                             item.channel, item.files[0] if item.files else "-")
            return
        await self.dispatcher.run_once()

    def stop(self) -> None:
        if not self.stopped.is_set():
            log.info("stopping: letting sends in flight finish")
            self.stopped.set()
            self.dispatcher.stop()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.setup()
        self.scheduler.start()
        bots = asyncio.create_task(self._guard("editor bots", lambda: run_editor_bots(
            self.rt, self.stopped, dispatcher=self.dispatcher)), name="editor bots")
        names = ", ".join(s.name for s in self.rt.config.sources) or "no sources"
        log.info("running: %s; channels %s", names,
                 ", ".join(c.name for c in self.rt.channels()) or "none")
        await self.stopped.wait()
        self.scheduler.shutdown(wait=False)
        await asyncio.gather(bots, *list(self.tasks), return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")


def run_due_digests_now(rt: Runtime) -> Callable[[], Awaitable[Any]]:
    async def catch_up() -> None:
        await run_due_digests(rt)

    return catch_up
