"""Distributed mode: PostgreSQL is the store, procrastinate (a PostgreSQL task queue) the engine.

``distributor run`` only schedules: APScheduler triggers enqueue procrastinate jobs; any number
of ``distributor worker`` processes, on any machines, run them. Nothing else changes: the
ledger, the pacing (``channel_state.next_send_at``), the daily caps and the leases are the ones
embedded mode uses, all in PostgreSQL.

Jobs (task names are ``distributor:<kind>``):

``poll(source)``
    poll one source; new articles enqueue a ``dispatch``.
``dispatch()``
    recover stale leases, reconcile ``unknown`` deliveries, plan deliveries, then enqueue one
    ``drain`` per channel that has something due.
``drain(channel)``
    send what is due on one channel, in order. procrastinate's ``lock`` runs the drains of one
    channel one after the other, and a PostgreSQL advisory lock held for the drain's duration
    keeps a second worker off the channel even when procrastinate retried a job it thought
    stalled while the first worker was still alive.
``digest(channel)``
    the channel's digest for its last cron time (one per (channel, period), unique in
    ``digests``); an email digest's fan-out is split into ``digest_batch`` jobs of subscriber
    id ranges, spread over the workers, and a ``digest_finish`` job marks the digest sent when
    every batch succeeded. Send rows are unique per (run, subscriber), so a batch that runs
    again serves only those it had not reached.

Duplicates: every job carries a *queueing lock* per (kind, key), so at most one job per key
waits in the queue; jobs a scheduler enqueues on its timers also carry the tick they belong to
(procrastinate's periodic-defer table keeps one job per (kind, key, tick)), so a second
scheduler running at the same time enqueues nothing twice.

Crashes: a worker whose heartbeat stops for ``--stalled-after`` seconds has its jobs retried by
the others (procrastinate's stalled-job retry, run by every worker at start and every few
seconds). A delivery the dead worker was sending has its lease owner ``host:pid:pg-...``; each
worker holds a PostgreSQL advisory lock named after its owner for its whole life, so the
others know at once, from any machine, that the owner is gone (the lease is expired and
:meth:`~distributor.engine.dispatcher.Dispatcher.recover` reconciles the delivery or marks it
``unknown``; it is never posted twice). Leases of other processes (a ``push`` from the command
line) are judged as in embedded mode: by pid on the same host, else when they expire.
"""

from __future__ import annotations

from distributor.engine.distributed.database import (
    DatabaseUnreachable,
    DistributedError,
    conninfo,
    distributed_problems,
    ensure_schema,
    is_postgres,
    open_error,
    require_distributed,
    upgrade,
)
from distributor.engine.distributed.liveness import (
    Liveness,
    WorkerDispatcher,
    liveness_owner,
    owners_gone,
)
from distributor.engine.distributed.queue import enqueue, retry_stalled_jobs
from distributor.engine.distributed.scheduler import (
    Scheduler,
    enqueue_drains,
    enqueue_pass,
    hand_to_workers,
    run_once,
    run_scheduler,
)
from distributor.engine.distributed.worker import WorkerState, make_app, run_worker

__all__ = [
    "DatabaseUnreachable",
    "DistributedError",
    "Liveness",
    "Scheduler",
    "WorkerDispatcher",
    "WorkerState",
    "conninfo",
    "distributed_problems",
    "enqueue",
    "enqueue_drains",
    "enqueue_pass",
    "ensure_schema",
    "hand_to_workers",
    "is_postgres",
    "liveness_owner",
    "make_app",
    "open_error",
    "owners_gone",
    "require_distributed",
    "retry_stalled_jobs",
    "run_once",
    "run_scheduler",
    "run_worker",
    "upgrade",
]
