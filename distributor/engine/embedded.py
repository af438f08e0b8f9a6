"""Embedded mode: the jobs of :mod:`.jobs` on APScheduler's asyncio scheduler, in one process.

SIGTERM/SIGINT stop new work, let in-flight sends finish, then return.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.engine.digests import DigestOutcome, digest_channels, run_digest
from distributor.engine.dispatcher import Dispatcher, DispatchReport, PreviewItem, dry_run_pass
from distributor.engine.jobs import KINDS, Companion, always, digest, timetable
from distributor.ledger.ingest import PollReport, poll_all
from distributor.runtime import Runtime
from distributor.store.db import store_problem

#: how long a stop waits for the work in flight before cutting it off
SHUTDOWN_GRACE = 10.0

log = logging.getLogger("distributor.scheduler")


@dataclass
class PassReport:
    polls: list[PollReport] = field(default_factory=list)
    dispatch: DispatchReport = field(default_factory=DispatchReport)
    digests: list[DigestOutcome] = field(default_factory=list)
    previews: list[PreviewItem] = field(default_factory=list)


async def run_pass(rt: Runtime, *, now: datetime | None = None,
                   wait_for_files: float = 0.0) -> PassReport:
    """One full pass: poll every source, send what is due, send the digests that are due.
    ``wait_for_files``: how long the poll waits for files still being written
    (:func:`~distributor.ledger.ingest.poll_all`).

    Under --dry-run nothing is sent and the ledger is untouched: what would be published
    (including each digest channel's next digest) is written to the outbox.
    """
    report = PassReport()
    report.polls = await poll_all(rt, now=now, wait_for_files=wait_for_files)
    if rt.dry_run:
        report.previews = dry_run_pass(rt, now=now)
        for channel in digest_channels(rt):
            report.digests.append(await run_digest(rt, channel, now=now))
        return report
    report.dispatch = await Dispatcher(rt).run_once(now=now)
    report.digests = await run_due_digests(rt, now=now)
    return report


async def run_due_digests(rt: Runtime, *, now: datetime | None = None) -> list[DigestOutcome]:
    """The digest job of every digest channel, here and now: each resumes the channel's
    unfinished digests, then sends the digest of its cron's previous fire time when that is
    within the misfire grace and not sent yet."""
    once = _Once(rt)
    outcomes: list[DigestOutcome] = []
    for channel in digest_channels(rt):
        outcomes.extend(o for o in await digest(once, channel=channel.name, now=now)
                        if isinstance(o, DigestOutcome))
    return outcomes


class _Once:
    """The Runner of ``run --once``: everything in this call."""

    batches = None

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.dispatcher = Dispatcher(rt)

    async def follow(self, kind: str, key: str, **kwargs: Any) -> None:
        await KINDS[kind](self, **kwargs)

    def channel_lock(self, channel: str) -> AbstractAsyncContextManager[bool]:
        return always(channel)


class Service:
    """The long-running scheduler of ``distributor run``: the jobs of :mod:`.jobs` on
    APScheduler's asyncio scheduler, in this process; ``companions`` (the editor bots) run
    beside them with the service's dispatcher."""

    def __init__(self, rt: Runtime, *, companions: list[Companion] | None = None):
        self.rt = rt
        self.dispatcher = Dispatcher(rt)
        self.scheduler = AsyncIOScheduler(timezone=rt.config.site.tz)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopped = asyncio.Event()
        self.companions = list(companions or [])
        self._previewed: set[tuple[int, str]] = set()

    # -- the Runner of the jobs ---------------------------------------------------------------
    batches = None

    def channel_lock(self, channel: str) -> AbstractAsyncContextManager[bool]:
        return always(channel)

    async def follow(self, kind: str, key: str, **kwargs: Any) -> None:
        """A follow-up job runs in a task of ours (a dispatch's drains side by side)."""
        if self.stopped.is_set():
            return
        name = f"{kind} {key}"
        task = asyncio.create_task(self._guard(name, lambda: self.run_job(kind, **kwargs)),
                                   name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_job(self, kind: str, **kwargs: Any) -> Any:
        if kind == "dispatch" and self.rt.dry_run:
            return self.preview()
        return await KINDS[kind](self, **kwargs)

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
        except (DBAPIError, PendingRollbackError) as exc:
            # the store is damaged, full or gone (also mid-transaction): one line, go on
            log.error("job %s: %s; it runs again at its next time", name,
                      store_problem(exc, self.rt.config.database,
                                    self.rt.config.where("database")))
        except Exception:
            log.exception("job %s failed unexpectedly (a bug: please report it)", name)

    def setup(self) -> None:
        now = utcnow()
        for job in timetable(self.rt):
            self.scheduler.add_job(
                self._spawn(job.name, partial(self.run_job, job.kind, **job.kwargs)),
                job.trigger, id=f"{job.kind}:{job.key}",
                next_run_time=now if job.at_start else None, coalesce=True, max_instances=1,
                misfire_grace_time=int(job.grace.total_seconds()) if job.grace else None)

    def preview(self) -> None:
        """A dry run's dispatch: what is new goes to the outbox once; the ledger is untouched."""
        for item in dry_run_pass(self.rt):
            if (item.article_id, item.channel) not in self._previewed:
                self._previewed.add((item.article_id, item.channel))
                log.info("dry run: article %s for %s written to %s", item.article_id,
                         item.channel, item.files[0] if item.files else "-")

    def stop(self) -> None:
        if not self.stopped.is_set():
            self.stopped.set()
            self.dispatcher.stop()

    async def _finish(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Wait for the work in flight, saying what it is, for SHUTDOWN_GRACE at most; what is
        still running then is cut off as a crash would cut it (a send cut off is reconciled at
        the next start: nothing is lost or doubled)."""
        running = [t for t in tasks if not t.done()]
        if running:  # a pacing wait or an idle bot ends at once: only real work is named
            _, still = await asyncio.wait(running, timeout=0.5)
            running = list(still)
        busy = sorted({t.get_name() for t in running  # sends and digests, not helpers
                       if t.get_name() not in ("companion", "warm-up")})
        log.info("stopping: %s", f"waiting for {', '.join(busy)} (at most "
                 f"{SHUTDOWN_GRACE:.0f}s)" if busy else "nothing in flight")
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
        if late:
            log.warning("stopping: cut off after %.0fs: %s (a send cut off is checked with the "
                        "platform at the next start)", SHUTDOWN_GRACE,
                        ", ".join(sorted(t.get_name() for t in late)))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def warm_up(self) -> None:
        """Render a sample article once for every channel, in a thread, as the service
        starts: what a renderer loads on its first use (X's twitter-text compiles its patterns:
        half a second to a second) is then not paid by the first post, in the event loop that
        every channel's sends share. Pure rendering: nothing is sent or stored."""
        await asyncio.to_thread(warm_renderers, self.rt)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        warming = asyncio.create_task(self._guard("warm-up", self.warm_up), name="warm-up")
        self.tasks.add(warming)
        warming.add_done_callback(self.tasks.discard)
        self.setup()
        self.scheduler.start()
        beside = [asyncio.create_task(self._guard("companion", partial(
            c, self.stopped, dispatcher=self.dispatcher)), name="companion")
            for c in self.companions]
        names = ", ".join(s.name for s in self.rt.config.sources) or "no sources"
        log.info("running: %s; channels %s", names,
                 ", ".join(c.name for c in self.rt.channels()) or "none")
        await self.stopped.wait()
        self.scheduler.shutdown(wait=False)
        await self._finish([*beside, *self.tasks])
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")


#: what :func:`warm_renderers` renders: short, with a link, a dateline and a byline
SAMPLE = Article(source="warm-up", key="warm-up", url="https://example.org/warm-up",
                 title="Warm-up", dateline="Jakarta", lede="Warm-up sentence, never posted.",
                 body=["A second paragraph."], author="Warm-up")


def warm_renderers(rt: Runtime) -> None:
    """Render :data:`SAMPLE` for every enabled channel (a failure only means less is warm)."""
    for channel in rt.channels():
        try:
            rt.adapter(channel.name).render(SAMPLE, rt.context(channel))
        except Exception as exc:  # a digest-only channel may not render single articles
            log.debug("warming channel %s's renderer: %s", channel.name, exc)
