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

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError as SAOperationalError

from distributor.config import Config, cron_trigger
from distributor.engine.dispatcher import Dispatcher, DispatchReport
from distributor.ledger.deliveries import DUE_STATES, plan_deliveries, utcnow
from distributor.store.db import StoreError, redact_url
from distributor.store.models import ChannelState, Delivery, Digest, FanoutRun, Subscriber

if TYPE_CHECKING:
    import procrastinate

    from distributor.runtime import Runtime

log = logging.getLogger("distributor.workers")

NAMESPACE = "distributor"
QUEUE = "distributor"
DEFAULT_CONCURRENCY = 4
#: a worker whose heartbeat is older than this is stalled: its jobs are retried elsewhere
STALLED_AFTER = 30.0
#: subscribers per digest batch job
FANOUT_BATCH = 1000
#: how often the finisher of a digest looks whether its batches are done
FINISH_POLL = 2.0
#: how often the scheduler enqueues a dispatch (embedded mode's pass interval)
DISPATCH_EVERY = 10

#: advisory lock classes (the first int4 key); the second key is a hash of the name
UPGRADE_CLASS = 0x64626D67  # "dbmg"
LIVENESS_CLASS = 0x6C697665  # "live"
CHANNEL_CLASS = 0x6368616E  # "chan"
BATCH_CLASS = 0x62617463  # "batc"
#: marks a lease owner that holds a liveness lock (see :class:`Liveness`)
OWNER_MARK = "pg-"


class DistributedError(Exception):
    """Distributed mode cannot run; the message (one line) says how to fix it."""


class TransientBatchError(Exception):
    """A digest batch stopped for a reason that may go away (SMTP down, busy): retried."""


class PermanentBatchError(Exception):
    """A digest batch cannot be sent until someone fixes the configuration: not retried."""


# --------------------------------------------------------------------------- the database


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def distributed_problems(config: Config) -> list[str]:
    """What stops ``execution: distributed`` with this configuration (for ``check``)."""
    if config.execution != "distributed":
        return []
    if not is_postgres(config.database):
        return [f"execution: distributed needs a PostgreSQL database, but database is "
                f"{redact_url(config.database)!r}; set `database:` (or "
                "DISTRIBUTOR_DATABASE_URL) to postgresql://user@host/dbname, or use "
                "execution: embedded"]
    return []


def require_distributed(config: Config) -> None:
    problems = distributed_problems(config)
    if problems:
        raise DistributedError(problems[0])


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (``postgresql+psycopg://...``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not is_postgres(url):
        raise DistributedError(f"{redact_url(url)!r} is not a PostgreSQL URL")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DistributedError(f"database URL {redact_url(url)!r} is not valid: {exc}") from None
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _connect_error(url: str, exc: BaseException) -> DistributedError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return DistributedError(
        f"cannot connect to PostgreSQL at {redact_url(url)}: {first}; check `database:` in "
        "channels.yaml (or DISTRIBUTOR_DATABASE_URL) and that the server is running")


def _int4(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def lock_key(name: str) -> int:
    """The second int4 key of an advisory lock named ``name``."""
    return _int4(zlib.crc32(name.encode("utf-8")))


def upgrade(url: str) -> list[str]:
    """``distributor db upgrade``: the Alembic migrations, then procrastinate's schema when it
    is missing, under one PostgreSQL advisory lock (several machines may run it at once: the
    others wait, then find nothing to do). On SQLite, only the migrations. Returns what was
    done, one line each; raises DistributedError / StoreError with one line."""
    from distributor.store.db import open_store

    if not is_postgres(url):
        open_store(url).dispose()
        return [f"{redact_url(url)}: migrations applied (SQLite: no task queue schema)"]
    import psycopg
    from procrastinate.schema import SchemaManager

    try:
        connection = psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise _connect_error(url, exc) from None
    lines = []
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s, 0)", (UPGRADE_CLASS,))
        try:
            store = open_store(url)
            try:
                with store.engine.connect() as sa:
                    head = sa.execute(text("SELECT version_num FROM alembic_version")).scalar()
            finally:
                store.dispose()
            lines.append(f"{redact_url(url)}: migrations at {head}")
            row = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                lines.append("procrastinate schema: present")
            else:
                with connection.transaction():
                    connection.execute(SchemaManager.get_schema())
                lines.append("procrastinate schema: applied")
        finally:
            with contextlib.suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s, 0)", (UPGRADE_CLASS,))
    return lines


def ensure_schema(url: str) -> None:
    """Bring the schema up to date before a worker or scheduler starts (idempotent)."""
    for line in upgrade(url):
        log.debug("%s", line)


# --------------------------------------------------------------------------- liveness


def liveness_owner() -> str:
    """A lease owner (``host:pid:pg-<id>``) that :class:`Liveness` holds a lock for."""
    return f"{socket.gethostname()}:{os.getpid()}:{OWNER_MARK}{uuid.uuid4().hex[:12]}"


class Liveness:
    """Holds, for this process's life, a session advisory lock named after its lease owner.

    PostgreSQL releases it when the process's connection ends (the process died, its machine
    went away), so any worker anywhere can tell a live owner from a dead one. The connection
    is checked every few seconds and the lock taken again after a reconnection."""

    CHECK_EVERY = 5.0

    def __init__(self, url: str, owner: str | None = None):
        self.url = url
        self.owner = owner or liveness_owner()
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _lock(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            conninfo(self.url), autocommit=True, connect_timeout=10, keepalives=1,
            keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        await conn.execute("SELECT pg_advisory_lock(%s, %s)",
                           (LIVENESS_CLASS, lock_key(self.owner)))
        self._conn = conn

    async def start(self) -> None:
        import psycopg

        try:
            await self._lock()
        except psycopg.Error as exc:
            raise _connect_error(self.url, exc) from None
        self._task = asyncio.create_task(self._watch(), name="liveness")

    async def _watch(self) -> None:
        import psycopg

        while True:
            await asyncio.sleep(self.CHECK_EVERY)
            try:
                await self._conn.execute("SELECT 1")
                continue
            except psycopg.Error as exc:
                log.warning("the liveness connection to PostgreSQL broke (%s); reconnecting",
                            exc)
            with contextlib.suppress(Exception):
                await self._conn.close()
            delay = 1.0
            while True:
                try:
                    await self._lock()
                    log.info("liveness lock taken again")
                    break
                except psycopg.Error:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


def owners_gone(rt: Runtime, owners: Iterable[str]) -> set[str]:
    """The lease owners, among ``owners``, that hold a liveness lock no more (dead processes,
    on any machine). Owners without the mark are not judged here."""
    marked = sorted({o for o in owners if o and f":{OWNER_MARK}" in o and o != rt.owner})
    if not marked or rt.store.dialect != "postgresql":
        return set()
    gone = set()
    with rt.store.engine.begin() as connection:
        for owner in marked:
            free = connection.execute(text("SELECT pg_try_advisory_xact_lock(:c, :k)"),
                                      {"c": LIVENESS_CLASS, "k": lock_key(owner)}).scalar()
            if free:
                gone.add(owner)
    return gone


@asynccontextmanager
async def session_lock(url: str, lock_class: int, name: str) -> AsyncIterator[bool]:
    """Try to take an advisory lock on a connection of its own; yields whether it was taken.
    Held until the block ends, or until this process dies (PostgreSQL then frees it)."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True,
                                                 connect_timeout=10)
    try:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                    (lock_class, lock_key(name)))
        row = await cursor.fetchone()
        yield bool(row and row[0])
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


class WorkerDispatcher(Dispatcher):
    """The dispatcher of a worker: a lease whose owner's liveness lock is free is expired
    before the usual recovery, so it is recovered at once, whatever machine it was on."""

    async def recover(self, *, now: datetime | None = None) -> DispatchReport:
        await asyncio.to_thread(self.expire_dead_leases)
        return await super().recover(now=now)

    def expire_dead_leases(self) -> list[int]:
        store = self.rt.store
        with store.session() as session:
            rows = session.execute(select(Delivery.id, Delivery.lease_owner).where(
                Delivery.state == "sending", Delivery.lease_owner.is_not(None))).all()
        gone = owners_gone(self.rt, [owner for _, owner in rows if owner])
        ids = [i for i, owner in rows if owner in gone]
        if ids:
            past = utcnow() - timedelta(seconds=1)
            with store.session() as session:
                session.execute(update(Delivery).where(
                    Delivery.id.in_(ids), Delivery.state == "sending",
                    Delivery.lease_owner.in_(gone)).values(lease_until=past))
            log.warning("deliveries %s: their sender (%s) is gone; recovering them",
                        ", ".join(map(str, ids)), ", ".join(sorted(gone)))
        return ids


# --------------------------------------------------------------------------- the app


@dataclass
class WorkerState:
    """What the jobs of one worker process share (procrastinate's additional context)."""

    rt: Runtime
    app: procrastinate.App
    dispatcher: WorkerDispatcher
    url: str
    fanout_batch: int = FANOUT_BATCH


def _locks(kind: str, key: str) -> tuple[str | None, str | None]:
    """(lock, queueing lock) of a job: jobs with one lock run one after the other; at most one
    job per queueing lock waits in the queue."""
    if kind == "drain":
        return f"channel:{key}", f"drain:{key}"
    if kind == "digest_batch":
        return f"fanout:{key}", f"fanout:{key}"
    return f"{kind}:{key}", f"{kind}:{key}"


def _blueprint() -> procrastinate.Blueprint:
    from procrastinate import Blueprint, RetryStrategy

    bp = Blueprint()
    quick_retry = RetryStrategy(max_attempts=3, wait=5,
                                retry_exceptions={SAOperationalError, OSError})

    @bp.task(name="poll", queue=QUEUE, pass_context=True, retry=quick_retry)
    async def poll(context: Any, *, source: str, timestamp: int | None = None) -> None:
        from distributor.ledger.ingest import poll_source

        st = _state(context)
        config = st.rt.config.source(source)
        if config is None:
            log.warning("source %s is not in this worker's configuration; skipped", source)
            return
        report = await poll_source(st.rt, config)
        if report.new:
            await enqueue(st.app, "dispatch", "all")

    @bp.task(name="dispatch", queue=QUEUE, pass_context=True, retry=quick_retry)
    async def dispatch(context: Any, *, timestamp: int | None = None) -> None:
        st = _state(context)
        await st.dispatcher.recover()
        await st.dispatcher.reconcile_unknown()
        plan_deliveries(st.rt)
        for channel in due_channels(st.rt):
            await enqueue(st.app, "drain", channel, channel=channel)

    @bp.task(name="drain", queue=QUEUE, pass_context=True, retry=quick_retry)
    async def drain(context: Any, *, channel: str) -> None:
        st = _state(context)
        if channel not in {c.name for c in st.rt.channels()}:
            log.warning("channel %s is not enabled in this worker's configuration; skipped",
                        channel)
            return
        async with session_lock(st.url, CHANNEL_CLASS, channel) as taken:
            if not taken:
                log.info("channel %s is being sent by another worker", channel)
                return
            await st.dispatcher.recover()
            await st.dispatcher.drain_channel(channel)
        if st.dispatcher.stopping:  # shutting down: another worker goes on with the channel
            await enqueue(st.app, "drain", channel, channel=channel)

    @bp.task(name="digest", queue=QUEUE, pass_context=True, retry=quick_retry)
    async def digest(context: Any, *, channel: str, timestamp: int | None = None) -> None:
        await run_channel_digest(_state(context), channel)

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
    """Retry the jobs of workers whose heartbeat stopped ``stalled_after`` seconds ago."""
    from procrastinate.exceptions import ConnectorException

    jobs = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    retried = 0
    for job in jobs:
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException:  # another worker retried it first
            continue
        retried += 1
        log.warning("job %s (%s) was left by a stalled worker: retrying it", job.id,
                    job.call_string)
    return retried


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
        paused = set(session.scalars(select(ChannelState.channel).where(
            ChannelState.paused_reason.is_not(None))))
    return [n for n in names if n in due and n not in paused]


# --------------------------------------------------------------------------- digests


def _run_owner(run_id: int) -> str:
    """The owner of a run's lease while its batches are out (no process: the batches)."""
    return f"distributed:batches:{run_id}"


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


def plan_ranges(rt: Runtime, channel: str, run_id: int, size: int) -> list[tuple[int, int]]:
    """Subscriber id ranges of ``size`` subscribers each, covering those the run has not
    served yet."""
    from distributor.channels.email.runs import audience

    numbered = select(Subscriber.id.label("id"),
                      ((func.row_number().over(order_by=Subscriber.id) - 1) // size)
                      .label("batch")).where(audience(channel, run_id)).subquery()
    with rt.store.session() as session:
        rows = session.execute(select(func.min(numbered.c.id), func.max(numbered.c.id))
                               .group_by(numbered.c.batch).order_by(numbered.c.batch)).all()
    return [(int(a), int(b)) for a, b in rows]


def _outstanding(statuses: dict[str, int]) -> int:
    return sum(n for s, n in statuses.items() if s in ("todo", "doing", "aborting"))


async def run_channel_digest(st: WorkerState, name: str, *,
                             now: datetime | None = None) -> str:
    """The ``digest`` job: resume this channel's unfinished digests, then start the digest of
    its last cron time if it is due and not yet there. Returns what happened (for logs)."""
    from distributor.channels.email.adapter import EmailAdapter
    from distributor.engine.digests import (
        MISFIRE_GRACE,
        RESUME_WITHIN,
        claim_digest,
        last_fire,
        render_plan,
        resume_digest,
        run_digest,
        schedule_of,
        unfinished_digests,
    )

    rt = st.rt
    now = now or datetime.now(UTC)
    channel = rt.config.channel(name)
    if not channel.enabled:
        return "disabled"
    adapter = rt.adapter(name)
    if not isinstance(adapter, EmailAdapter):  # one message (outbox, plugins): no fan-out
        for digest_id in unfinished_digests(rt, channel, within=RESUME_WITHIN):
            await resume_digest(rt, channel, digest_id)
        schedule = schedule_of(channel)
        fire = last_fire(schedule, rt.config.site.tz, now) if schedule else None
        if fire is None or now - fire > MISFIRE_GRACE:
            return "not due"
        outcome = await run_digest(rt, channel, now=fire, period=fire.isoformat(),
                                   resume=False)
        return outcome.state

    for digest_id in unfinished_digests(rt, channel, within=RESUME_WITHIN):
        await _resume_fanout(st, channel.name, digest_id)
    schedule = schedule_of(channel)
    fire = last_fire(schedule, rt.config.site.tz, now) if schedule else None
    if fire is None or now - fire > MISFIRE_GRACE:
        return "not due"
    claim = claim_digest(rt, channel, until=fire, period=fire.isoformat())
    if claim.state != "claimed" or claim.digest_id is None:
        return claim.state
    plan, digest_id = claim.plan, claim.digest_id
    messages = render_plan(rt, channel, plan)
    return await _start_fanout(st, name, digest_id, messages)


async def _resume_fanout(st: WorkerState, name: str, digest_id: int) -> str:
    rt = st.rt
    with rt.store.session() as session:
        digest = session.get_one(Digest, digest_id)
        run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
        message = dict(run.message) if run is not None else None
        article_ids, until = list(digest.article_ids), digest.until
        run_id = run.id if run is not None else None
    if run_id is not None:
        busy = _outstanding(_jobs_of_run(rt, "digest_batch", run_id)) + \
            _outstanding(_jobs_of_run(rt, "digest_finish", run_id))
        if busy:
            return "in progress"
    if message is None:  # stopped before the mail was stored: render it as it would have been
        from distributor.ledger.ingest import from_row
        from distributor.store.models import ArticleRow

        with rt.store.session() as session:
            rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(article_ids))
                                   .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
            articles = [from_row(r) for r in rows]
        channel = rt.config.channel(name)
        messages = rt.adapter(name).render_digest(articles, rt.context(channel, now=until))
    else:
        messages = [message]
    log.info("digest %s (id %s): resuming a digest that was not finished", name, digest_id)
    return await _start_fanout(st, name, digest_id, messages)


async def _start_fanout(st: WorkerState, name: str, digest_id: int,
                        messages: list[dict[str, Any]]) -> str:
    from distributor.channels.email.runs import claim_run, open_run
    from distributor.ledger.subscribers import MissingSecret, secret_of

    rt = st.rt
    try:
        secret_of(rt.config)
    except MissingSecret as exc:
        _digest_failed(rt, digest_id, str(exc))
        return "failed"
    if not messages:
        _digest_done(rt, digest_id, None)
        return "sent"
    run = await asyncio.to_thread(open_run, rt.store, name, f"digest:{digest_id}", messages[0],
                                  digest_id=digest_id)
    if run.state == "done":
        _digest_done(rt, digest_id, None)
        return "sent"
    if not await asyncio.to_thread(claim_run, rt.store, run.id, _run_owner(run.id)):
        log.info("digest %s (id %s) is being sent by another process", name, digest_id)
        return "busy"
    ranges = await asyncio.to_thread(plan_ranges, rt, name, run.id, st.fanout_batch)
    round = await asyncio.to_thread(_next_round, rt, run.id)
    for first, last in ranges:
        await enqueue(st.app, "digest_batch", f"{run.id}:{round}:{first}", run_id=run.id,
                      first=first, last=last, round=round)
    await enqueue(st.app, "digest_finish", str(run.id), schedule_in=FINISH_POLL / 2,
                  run_id=run.id, digest_id=digest_id, round=round)
    log.info("digest %s (id %s): %d batches of up to %d subscribers queued", name, digest_id,
             len(ranges), st.fanout_batch)
    return "queued"


async def run_batch(st: WorkerState, run_id: int, first: int, last: int) -> None:
    """One batch of a digest's fan-out: the subscribers ``first..last`` not served yet."""
    from distributor.channels.email.fanout import Fanout, FanoutError
    from distributor.ledger.subscribers import MissingSecret, secret_of

    rt = st.rt
    with rt.store.session() as session:
        run = session.get(FanoutRun, run_id)
        if run is None or run.state == "done":
            return
        name = run.channel
    config = rt.adapter(name).config
    async with session_lock(st.url, BATCH_CLASS, f"{run_id}:{first}") as taken:
        if not taken:
            raise TransientBatchError(f"batch {first}-{last} of run {run_id} is being sent "
                                      "by another worker")
        try:
            fanout = Fanout(rt.store, config, run_id, secret=secret_of(rt.config),  # type: ignore[arg-type]
                            owner=_run_owner(run_id), id_range=(first, last), claim=False)
            stats = await fanout.run()
        except MissingSecret as exc:
            raise PermanentBatchError(str(exc)) from None
        except FanoutError as exc:
            if exc.permanent:
                log.error("digest batch %s-%s of run %s: %s", first, last, run_id, exc.message)
                raise PermanentBatchError(exc.message) from None
            raise TransientBatchError(exc.message) from None
    log.info("digest batch %s-%s of run %s: %d sent, %d bounced, %d failed", first, last,
             run_id, stats.sent, stats.bounced, stats.failed)


async def finish_digest(st: WorkerState, run_id: int, digest_id: int, round: int) -> None:
    """Mark the digest sent once every batch of this round succeeded (else look again soon);
    a batch that failed for good leaves the digest ``sending`` for a later resume."""
    from distributor.channels.email.runs import touch_run

    rt = st.rt
    batches = await asyncio.to_thread(_jobs_of_run, rt, "digest_batch", run_id, round)
    if _outstanding(batches):
        await asyncio.to_thread(touch_run, rt.store, run_id, _run_owner(run_id))
        await enqueue(st.app, "digest_finish", str(run_id), schedule_in=FINISH_POLL,
                      run_id=run_id, digest_id=digest_id, round=round)
        return
    failed = sum(n for s, n in batches.items() if s in ("failed", "aborted", "cancelled"))
    if failed:
        detail = (f"{failed} batch(es) of the fan-out failed; the next digest job resumes it "
                  f"(or `distributor digest send --channel ...`)")
        with rt.store.session() as session:
            session.execute(update(FanoutRun).where(
                FanoutRun.id == run_id, FanoutRun.lease_owner == _run_owner(run_id))
                .values(lease_owner=None, lease_until=None, detail=detail))
            row = session.get(Digest, digest_id)
            if row is not None:
                row.detail = detail
        log.error("digest %s: %s", digest_id, detail)
        return
    _digest_done(rt, digest_id, run_id)


def _digest_done(rt: Runtime, digest_id: int, run_id: int | None) -> None:
    from distributor.channels.email.runs import release_run

    if run_id is not None:
        release_run(rt.store, run_id, _run_owner(run_id), state="done")
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        if row.state != "sent":
            row.state, row.sent_at, row.detail = "sent", datetime.now(UTC), None
            run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
            log.info("digest %s for %s sent (%s)", row.channel, row.period,
                     f"{run.sent} accepted, {run.bounced} bounced, {run.failed} failed"
                     if run is not None else "no fan-out")


def _digest_failed(rt: Runtime, digest_id: int, detail: str) -> None:
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        row.state, row.detail = "failed", detail
    log.error("digest %s failed: %s", digest_id, detail)


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
    liveness = Liveness(url)
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


# --------------------------------------------------------------------------- the scheduler


class QueueingDispatcher(Dispatcher):
    """The scheduler's dispatcher (for the editor bot's pushes): sends nothing itself, it
    enqueues a drain of the channels of the deliveries asked for; a worker sends them."""

    def __init__(self, rt: Runtime, app: procrastinate.App):
        super().__init__(rt)
        self.app = app

    async def run_once(self, *, now: datetime | None = None,
                       only: Iterable[int] | None = None) -> DispatchReport:
        with self.rt.store.session() as session:
            query = select(Delivery.channel).distinct()
            if only is not None:
                query = query.where(Delivery.id.in_(list(only)))
            else:
                query = query.where(Delivery.state.in_(DUE_STATES))
            channels = list(session.scalars(query))
        for channel in channels:
            await enqueue(self.app, "drain", channel, channel=channel)
        return DispatchReport()


def _tick(every: float, now: float | None = None) -> int:
    step = max(1, int(every))
    return int((time.time() if now is None else now) // step * step)


class Scheduler:
    """``distributor run`` in distributed mode: timers that enqueue jobs, nothing else (and
    the editor bots, whose pushes are enqueued too)."""

    def __init__(self, rt: Runtime, app: procrastinate.App):
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.rt = rt
        self.app = app
        self.scheduler = AsyncIOScheduler(timezone=rt.config.site.tz)
        self.stopped = asyncio.Event()
        self.enqueued = 0

    async def _enqueue(self, kind: str, key: str, tick: int, **kwargs: Any) -> None:
        try:
            job = await enqueue(self.app, kind, key, tick=tick, **kwargs)
        except Exception as exc:  # PostgreSQL away for a moment: the next tick tries again
            log.warning("could not enqueue %s %s: %s", kind, key, exc)
            return
        if job is not None:
            self.enqueued += 1
            log.debug("enqueued %s %s (job %s)", kind, key, job)

    def setup(self) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        from distributor.engine.digests import MISFIRE_GRACE, digest_channels, schedule_of

        epoch = datetime(2000, 1, 1, tzinfo=UTC)  # every scheduler's ticks fall together
        for source in self.rt.config.sources:
            every = max(1, int(source.every.total_seconds()))

            async def poll(name: str = source.name, every: int = every) -> None:
                await self._enqueue("poll", name, _tick(every), source=name)

            self.scheduler.add_job(poll, IntervalTrigger(seconds=every, start_date=epoch),
                                   id=f"poll:{source.name}", coalesce=True, max_instances=1,
                                   misfire_grace_time=None)
            self.scheduler.add_job(poll, id=f"poll-now:{source.name}")

        async def dispatch() -> None:
            await self._enqueue("dispatch", "all", _tick(DISPATCH_EVERY))

        self.scheduler.add_job(dispatch, IntervalTrigger(seconds=DISPATCH_EVERY,
                                                         start_date=epoch),
                               id="dispatch", coalesce=True, max_instances=1,
                               misfire_grace_time=None)
        self.scheduler.add_job(dispatch, id="dispatch-now")
        for channel in digest_channels(self.rt):
            schedule = schedule_of(channel)
            assert schedule is not None

            async def digest(name: str = channel.name, schedule: str = schedule) -> None:
                from distributor.engine.digests import last_fire

                fire = last_fire(schedule, self.rt.config.site.tz, datetime.now(UTC))
                tick = int(fire.timestamp()) if fire is not None else _tick(60)
                await self._enqueue("digest", name, tick, channel=name)

            self.scheduler.add_job(
                digest, cron_trigger(schedule, timezone=self.rt.config.site.tz),
                id=f"digest:{channel.name}", coalesce=True, max_instances=1,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()))
            # a start after the digest hour: the missed digest (its row is unique)
            self.scheduler.add_job(digest, id=f"digest-now:{channel.name}")

    def stop(self) -> None:
        if not self.stopped.is_set():
            log.info("stopping the scheduler")
            self.stopped.set()

    async def run(self) -> None:
        from distributor.channels.telegram.editorbot import run_editor_bots

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.setup()
        self.scheduler.start()
        bots = asyncio.create_task(run_editor_bots(
            self.rt, self.stopped, dispatcher=QueueingDispatcher(self.rt, self.app)),
            name="editor bots")
        log.info("scheduling (distributed): sources %s; channels %s; `distributor worker` "
                 "processes do the work",
                 ", ".join(s.name for s in self.rt.config.sources) or "none",
                 ", ".join(c.name for c in self.rt.channels()) or "none")
        try:
            await self.stopped.wait()
        finally:
            self.scheduler.shutdown(wait=False)
            self.stopped.set()
            results = await asyncio.gather(bots, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("the editor bots stopped: %s", result)
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


async def run_scheduler(rt: Runtime) -> None:
    app = make_app(rt.config.database, max_size=4)
    async with app.open_async():
        await Scheduler(rt, app).run()


async def hand_to_workers(rt: Runtime, ids: Iterable[int]) -> None:
    """An editor's push in distributed mode: a drain job for each channel of these
    deliveries (the workers send them; nothing is sent here)."""
    app = make_app(rt.config.database, max_size=2)
    async with app.open_async():
        await QueueingDispatcher(rt, app).run_once(only=list(ids))


async def run_once(rt: Runtime) -> list[tuple[str, bool]]:
    app = make_app(rt.config.database, max_size=2)
    async with app.open_async():
        return await enqueue_pass(rt, app)


def open_error(exc: BaseException, url: str) -> DistributedError:
    """One line for an error met while talking to PostgreSQL."""
    if isinstance(exc, DistributedError):
        return exc
    if isinstance(exc, StoreError):
        return DistributedError(str(exc))
    return _connect_error(url, exc)


__all__ = [
    "DistributedError",
    "Liveness",
    "QueueingDispatcher",
    "Scheduler",
    "WorkerDispatcher",
    "conninfo",
    "distributed_problems",
    "enqueue",
    "enqueue_pass",
    "make_app",
    "retry_stalled_jobs",
    "run_once",
    "run_scheduler",
    "run_worker",
    "upgrade",
]
