"""``distributor worker``: the jobs of :mod:`distributor.engine.jobs` (and the digest batch
jobs), run by procrastinate in any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError as SAOperationalError

from distributor.runtime import Runtime

if TYPE_CHECKING:
    import procrastinate

from distributor.engine.distributed.database import conninfo
from distributor.engine.distributed.fanout import (
    FANOUT_BATCH,
    Batches,
    TransientBatchError,
    finish_digest,
    run_batch,
)
from distributor.engine.distributed.liveness import (
    CHANNEL_CLASS,
    Liveness,
    WorkerDispatcher,
    session_lock,
)
from distributor.engine.distributed.queue import NAMESPACE, QUEUE, enqueue, retry_stalled_jobs
from distributor.engine.jobs import KINDS, DigestBatches

log = logging.getLogger("distributor.workers")


DEFAULT_CONCURRENCY = 4
#: a worker whose heartbeat is older than this is stalled: its jobs are retried elsewhere
STALLED_AFTER = 30.0


@dataclass
class WorkerState:
    """What the jobs of one worker process share (procrastinate's additional context): the
    :class:`~distributor.engine.jobs.Runner` of distributed mode."""

    rt: Runtime
    app: procrastinate.App
    dispatcher: WorkerDispatcher
    url: str
    fanout_batch: int = FANOUT_BATCH

    async def follow(self, kind: str, key: str, **kwargs: Any) -> None:
        """A follow-up job is enqueued for any worker."""
        await enqueue(self.app, kind, key, **kwargs)

    def channel_lock(self, channel: str) -> AbstractAsyncContextManager[bool]:
        """A PostgreSQL advisory lock held for the drain's duration keeps a second worker off
        the channel, even when procrastinate retried a job it thought stalled while the first
        worker was still alive."""
        return session_lock(self.url, CHANNEL_CLASS, channel)

    @property
    def batches(self) -> DigestBatches:
        return Batches(self)


def _blueprint() -> procrastinate.Blueprint:
    """The tasks: one per kind of :data:`~distributor.engine.jobs.KINDS`, and the fan-out's."""
    from procrastinate import Blueprint, RetryStrategy

    bp = Blueprint()
    quick_retry = RetryStrategy(max_attempts=3, wait=5,
                                retry_exceptions={SAOperationalError, OSError})

    for kind, function in KINDS.items():
        async def task(context: Any, _function: Any = function, _kind: str = kind,
                       **kwargs: Any) -> None:
            st = _state(context)
            await _function(st, **kwargs)
            if _kind == "drain" and st.dispatcher.stopping:
                # shutting down: another worker goes on with the channel
                await enqueue(st.app, "drain", kwargs["channel"], **kwargs)

        task.__name__ = kind
        bp.task(name=kind, queue=QUEUE, pass_context=True, retry=quick_retry)(task)

    @bp.task(name="digest_batch", queue=QUEUE, pass_context=True,
             retry=RetryStrategy(max_attempts=6, exponential_wait=2,
                                 retry_exceptions={TransientBatchError, SAOperationalError,
                                                   OSError}))
    async def digest_batch(context: Any, *, run_id: int, first: int, last: int,
                           round: int) -> None:
        await run_batch(_state(context), run_id, first, last)

    @bp.task(name="digest_finish", queue=QUEUE, pass_context=True, retry=quick_retry)
    async def digest_finish(context: Any, *, run_id: int, digest_id: int, round: int) -> None:
        await finish_digest(_state(context), run_id, digest_id, round)

    return bp


def _state(context: Any) -> WorkerState:
    state = context.additional_context.get("distributor")
    if not isinstance(state, WorkerState):
        raise RuntimeError("this job runs only in `distributor worker`")
    return state


def make_app(url: str, *, max_size: int = 10) -> procrastinate.App:
    """The procrastinate app on the database at ``url`` (a SQLAlchemy or libpq URL)."""
    from procrastinate import App, PsycopgConnector

    connector = PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=max_size,
                                 kwargs={"connect_timeout": 10})
    app = App(connector=connector)
    app.add_tasks_from(_blueprint(), namespace=NAMESPACE)
    return app


# --------------------------------------------------------------------------- the worker


#: on SIGTERM, jobs in flight get this long to finish (longer than a platform's request
#: timeout); a job still running then is cancelled, and what it was sending is recovered
#: (reconciled or `unknown`) by the next worker, never sent twice
SHUTDOWN_GRACE = 25.0


async def run_worker(rt: Runtime, *, concurrency: int = DEFAULT_CONCURRENCY,
                     stalled_after: float = STALLED_AFTER,
                     fanout_batch: int = FANOUT_BATCH) -> None:
    """``distributor worker``: run jobs until SIGTERM/SIGINT, then let the sends in flight
    finish (a drain stops after its current delivery and hands the channel on; a digest batch
    finishes its subscribers) and return."""
    url = rt.config.database
    liveness = Liveness(url, where=rt.config.where("database"))
    await liveness.start()
    rt.owner = liveness.owner
    app = make_app(url, max_size=concurrency + 4)
    state = WorkerState(rt=rt, app=app, dispatcher=WorkerDispatcher(rt), url=url,
                        fanout_batch=fanout_batch)
    loop = asyncio.get_running_loop()
    try:
        async with app.open_async():
            await retry_stalled_jobs(app, stalled_after)
            work = asyncio.create_task(app.run_worker_async(
                queues=[QUEUE], concurrency=concurrency, name=rt.owner,
                install_signal_handlers=False, additional_context={"distributor": state},
                update_heartbeat_interval=max(0.5, stalled_after / 4),
                stalled_worker_timeout=stalled_after, fetch_job_polling_interval=2.0,
                shutdown_graceful_timeout=SHUTDOWN_GRACE),
                name="procrastinate worker")
            sweeper = asyncio.create_task(_sweep(app, stalled_after), name="stalled jobs")

            def stop() -> None:
                if not state.dispatcher.stopping:
                    log.info("stopping: letting sends in flight finish")
                    state.dispatcher.stop()
                    work.cancel()

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop)
            log.info("worker %s: running (concurrency %d)", rt.owner, concurrency)
            try:
                await work
            except asyncio.CancelledError:
                if not state.dispatcher.stopping:
                    raise
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
    finally:
        await liveness.stop()
    log.info("worker %s: stopped", rt.owner)


async def _sweep(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        await asyncio.sleep(max(1.0, stalled_after / 3))
        try:
            await retry_stalled_jobs(app, stalled_after)
        except Exception as exc:  # the database is away for a moment: next round
            log.warning("looking for stalled jobs failed: %s", exc)
