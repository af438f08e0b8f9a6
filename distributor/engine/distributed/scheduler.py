"""``distributor run`` in distributed mode: the timetable of :mod:`distributor.engine.jobs`
on APScheduler triggers that only enqueue (with queueing locks per tick, so a second
scheduler enqueues nothing twice); an editor's push handed to the workers."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from distributor.runtime import Runtime
from distributor.store.models import Delivery

if TYPE_CHECKING:
    import procrastinate

from distributor.clock import utcnow
from distributor.engine.distributed.queue import enqueue
from distributor.engine.distributed.worker import make_app
from distributor.engine.jobs import Companion, Job, previous_fire, timetable

log = logging.getLogger("distributor.workers")


async def enqueue_drains(rt: Runtime, app: procrastinate.App, ids: Iterable[int]) -> None:
    """An editor's push in distributed mode: a drain job for each channel of these
    deliveries (the workers send them, in order, under the channel's lock)."""
    with rt.store.session() as session:
        channels = list(session.scalars(select(Delivery.channel).distinct().where(
            Delivery.id.in_(list(ids)))))
    for channel in channels:
        await enqueue(app, "drain", channel, channel=channel)


#: how long a stop waits for the enqueues under way
STOP_WAIT = 5.0


def _tick(every: float, now: float | None = None) -> int:
    step = max(1, int(every))
    return int((time.time() if now is None else now) // step * step)


class Scheduler:
    """``distributor run`` in distributed mode: timers that enqueue jobs, nothing else (and
    the editor bots, whose pushes are enqueued too)."""

    def __init__(self, rt: Runtime, app: procrastinate.App, *,
                 companions: list[Companion] | None = None):
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.rt = rt
        self.companions = list(companions or [])
        self.app = app
        self.scheduler = AsyncIOScheduler(timezone=rt.config.site.tz)
        self.stopped = asyncio.Event()
        self.enqueued = 0
        #: enqueues under way: a stop lets them finish before the queue's pool closes
        self._in_flight: set[asyncio.Task[Any]] = set()

    async def _enqueue(self, kind: str, key: str, tick: int, **kwargs: Any) -> None:
        if self.stopped.is_set():
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            job = await enqueue(self.app, kind, key, tick=tick, **kwargs)
        except asyncio.CancelledError:
            if not self.stopped.is_set():
                raise
            # stopping: the queue's pool closed under it; the next start enqueues it again
            log.debug("enqueueing %s %s was cut short by the stop", kind, key)
            return
        except Exception as exc:  # PostgreSQL away for a moment: the next tick tries again
            log.warning("could not enqueue %s %s: %s", kind, key, exc)
            return
        finally:
            if task is not None:
                self._in_flight.discard(task)
        if job is not None:
            self.enqueued += 1
            log.debug("enqueued %s %s (job %s)", kind, key, job)

    def setup(self) -> None:
        """The timetable of :mod:`distributor.engine.jobs`, each job enqueued with its tick
        (an interval's step, a cron's previous fire time)."""
        for job in timetable(self.rt):
            async def fire(job: Job = job) -> None:
                if job.every is not None:
                    tick = _tick(job.every)
                else:
                    last = previous_fire(job.trigger, utcnow())
                    tick = int(last.timestamp()) if last is not None else _tick(60)
                await self._enqueue(job.kind, job.key, tick, **job.kwargs)

            self.scheduler.add_job(
                fire, job.trigger, id=f"{job.kind}:{job.key}", coalesce=True,
                max_instances=1,
                misfire_grace_time=int(job.grace.total_seconds()) if job.grace else None)
            if job.at_start:
                self.scheduler.add_job(fire, id=f"{job.kind}-now:{job.key}")

    def stop(self) -> None:
        if not self.stopped.is_set():
            log.info("stopping the scheduler")
            self.stopped.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.setup()
        self.scheduler.start()
        async def hand_over(ids: list[int]) -> None:
            await enqueue_drains(self.rt, self.app, ids)

        beside = [asyncio.create_task(c(self.stopped, hand_over=hand_over), name="companion")
                  for c in self.companions]
        log.info("scheduling (distributed): sources %s; channels %s; `distributor worker` "
                 "processes do the work",
                 ", ".join(s.name for s in self.rt.config.sources) or "none",
                 ", ".join(c.name for c in self.rt.channels()) or "none")
        try:
            await self.stopped.wait()
        finally:
            self.scheduler.shutdown(wait=False)
            self.stopped.set()
            if self._in_flight:  # a tick's enqueue takes milliseconds: let it end
                await asyncio.wait(set(self._in_flight), timeout=STOP_WAIT)
            results = await asyncio.gather(*beside, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("a companion of the scheduler (the editor bots) stopped: %s",
                              result)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("scheduler stopped")


async def enqueue_pass(rt: Runtime, app: procrastinate.App) -> list[tuple[str, bool]]:
    """``run --once`` in distributed mode: enqueue one full pass (poll every source, a
    dispatch, every digest channel's digest); returns (job, newly queued?) pairs."""
    from distributor.engine.digests import digest_channels

    queued: list[tuple[str, bool]] = []
    for source in rt.config.sources:
        job = await enqueue(app, "poll", source.name, source=source.name)
        queued.append((f"poll {source.name}", job is not None))
    job = await enqueue(app, "dispatch", "all")
    queued.append(("dispatch", job is not None))
    for channel in digest_channels(rt):
        job = await enqueue(app, "digest", channel.name, channel=channel.name)
        queued.append((f"digest {channel.name}", job is not None))
    return queued


async def run_scheduler(rt: Runtime, *, companions: list[Companion] | None = None) -> None:
    app = make_app(rt.config.database, max_size=4)
    async with app.open_async():
        await Scheduler(rt, app, companions=companions).run()


async def hand_to_workers(rt: Runtime, ids: Iterable[int]) -> None:
    """An editor's push in distributed mode: a drain job for each channel of these
    deliveries (the workers send them; nothing is sent here)."""
    app = make_app(rt.config.database, max_size=2)
    async with app.open_async():
        await enqueue_drains(rt, app, ids)


async def run_once(rt: Runtime) -> list[tuple[str, bool]]:
    app = make_app(rt.config.database, max_size=2)
    async with app.open_async():
        return await enqueue_pass(rt, app)
