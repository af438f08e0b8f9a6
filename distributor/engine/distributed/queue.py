"""The task queue (procrastinate): enqueueing a job with its locks, retrying the jobs of
stalled workers, and what the job table says about a digest's batches."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from distributor.runtime import Runtime

if TYPE_CHECKING:
    import procrastinate


log = logging.getLogger("distributor.workers")


NAMESPACE = "distributor"
QUEUE = "distributor"

def _locks(kind: str, key: str) -> tuple[str | None, str | None]:
    """(lock, queueing lock) of a job: jobs with one lock run one after the other; at most one
    job per queueing lock waits in the queue."""
    if kind == "drain":
        return f"channel:{key}", f"drain:{key}"
    if kind == "digest_batch":
        return f"fanout:{key}", f"fanout:{key}"
    return f"{kind}:{key}", f"{kind}:{key}"


async def enqueue(app: procrastinate.App, kind: str, key: str, *, tick: int | None = None,
                  schedule_in: float | None = None, **kwargs: Any) -> int | None:
    """Enqueue a job; None when an equal one waits already (its queueing lock) or, with
    ``tick``, when a job for this (kind, key, tick) was enqueued already (by any scheduler)."""
    from procrastinate.exceptions import AlreadyEnqueued

    lock, queueing_lock = _locks(kind, key)
    options: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
    if schedule_in:
        options["schedule_in"] = {"seconds": schedule_in}
    deferrer = app.configure_task(f"{NAMESPACE}:{kind}", allow_unknown=False, **options)
    try:
        if tick is None:
            return await deferrer.defer_async(**kwargs)
        job = deferrer.make_new_job(timestamp=tick, **kwargs)
        return await app.job_manager.defer_periodic_job(job, periodic_id=f"{kind}:{key}",
                                                        defer_timestamp=tick)
    except AlreadyEnqueued:
        return None


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Retry the jobs of workers whose heartbeat stopped ``stalled_after`` seconds ago.

    A stalled job that cannot go back to the queue because an equal job waits there already
    (their queueing lock: a drain of the same channel, say) is ended instead: the waiting job
    does its work, and the stalled one no longer holds the lock that kept the waiting one from
    running (before, the channel stood still for good)."""
    from procrastinate.exceptions import ConnectorException, UniqueViolation
    from procrastinate.jobs import Status

    jobs = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    retried = 0
    for job in jobs:
        try:
            await app.job_manager.retry_job(job)
        except UniqueViolation:
            try:
                await app.job_manager.finish_job(job, Status.FAILED, delete_job=False)
            except ConnectorException:  # another worker ended it first
                continue
            retried += 1
            log.warning("job %s (%s) was left by a stalled worker; an equal job waits in the "
                        "queue and takes its work over", job.id, job.call_string)
            continue
        except ConnectorException:  # another worker retried it first
            continue
        retried += 1
        log.warning("job %s (%s) was left by a stalled worker: retrying it", job.id,
                    job.call_string)
    return retried


def _jobs_of_run(rt: Runtime, task: str, run_id: int,
                 round: int | None = None) -> dict[str, int]:
    """Status -> count of this run's jobs of a kind (procrastinate's job table)."""
    args: dict[str, int] = {"run_id": run_id}
    if round is not None:
        args["round"] = round
    with rt.store.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = :t "
            "AND args @> CAST(:a AS jsonb) GROUP BY status"),
            {"t": f"{NAMESPACE}:{task}", "a": json.dumps(args)}).all()
    return {str(status): int(n) for status, n in rows}


def _next_round(rt: Runtime, run_id: int) -> int:
    with rt.store.engine.connect() as connection:
        last = connection.execute(text(
            "SELECT max((args->>'round')::int) FROM procrastinate_jobs WHERE task_name = :t "
            "AND args @> CAST(:a AS jsonb)"),
            {"t": f"{NAMESPACE}:digest_batch", "a": json.dumps({"run_id": run_id})}).scalar()
    return int(last or 0) + 1


def _outstanding(statuses: dict[str, int]) -> int:
    return sum(n for s, n in statuses.items() if s in ("todo", "doing", "aborting"))
