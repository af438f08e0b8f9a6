"""Commands of distributed mode: ``distributor worker``, ``distributor db upgrade`` and the
scheduler side of ``distributor run`` under ``execution: distributed``."""

from __future__ import annotations

import logging
import time
from typing import Any

import click

log = logging.getLogger("distributor")


class _Unavailable(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def check_lines(config: Any) -> list[str]:
    """Problems of ``execution: distributed`` with this configuration, one line each, for
    ``distributor check`` (empty when there are none)."""
    if config.execution != "distributed":
        return []  # nothing to say: and the engine of distributed mode is 0.7 s of imports
    from distributor.engine.distributed import distributed_problems

    return distributed_problems(config)


#: seconds between two tries of a starting worker or scheduler to reach PostgreSQL
RETRY_DATABASE = 5.0
#: seconds between two lines saying it still waits
SAY_AGAIN = 60.0


def _prepare(state: Any, *, dry_run: bool = False, wait: str | None = None) -> Any:
    """Configuration checked for distributed mode, schema up to date (under the advisory
    lock), then the runtime. ``wait`` (a long-running process: who waits): while PostgreSQL
    does not take the connection, try again every few seconds, saying so (once a minute)."""
    from distributor.engine.distributed import DatabaseUnreachable

    config = _distributed_config(state)
    waiting = _Waiting(wait)
    while True:
        try:
            _schema_ready(config, dry_run)
            break
        except DatabaseUnreachable as exc:
            waiting.say(exc)
            time.sleep(RETRY_DATABASE)
    waiting.done()
    return state.runtime(dry_run=dry_run)


async def _prepare_async(state: Any, *, wait: str | None) -> Any:
    """:func:`_prepare` for a process already in its event loop (the scheduler): the wait
    is the loop's, so Ctrl-C or SIGTERM ends it at once."""
    import asyncio

    from distributor.engine.distributed import DatabaseUnreachable

    config = _distributed_config(state)
    waiting = _Waiting(wait)
    while True:
        try:
            await asyncio.to_thread(_schema_ready, config, False)
            break
        except DatabaseUnreachable as exc:
            waiting.say(exc)
            await asyncio.sleep(RETRY_DATABASE)
    waiting.done()
    return state.runtime(dry_run=False)


def _distributed_config(state: Any) -> Any:
    config = state.config(dry_run=True)
    if config.execution != "distributed":
        written = config.line("execution") is not None  # FILE:LINE of execution:, if written
        says = (f"{config.where('execution')} says execution: embedded" if written else
                f"{config.path} has no execution: key, so execution: embedded (the default)")
        raise _Unavailable(
            f"{says}, where `distributor run` does all the work and no worker is needed; to "
            "spread the work over workers, set execution: distributed and a PostgreSQL "
            "database")
    return config


def _schema_ready(config: Any, dry_run: bool) -> None:
    """Distributed mode's requirements met and the schema current; DatabaseUnreachable when
    PostgreSQL does not take the connection (for now), _Unavailable for anything else."""
    from distributor.engine.distributed import DatabaseUnreachable, DistributedError, ensure_schema
    from distributor.store.db import StoreError

    _require_distributed(config)
    try:
        if not dry_run:
            ensure_schema(config.database, config.where("database"))
    except DatabaseUnreachable:
        raise
    except (DistributedError, StoreError) as exc:
        raise _Unavailable(str(exc)) from None


def _require_distributed(config: Any) -> None:
    """What the configuration lacks for distributed mode, at the line of execution: (as
    ``check`` says it), as the command's one error line."""
    from distributor.engine.distributed import DistributedError, require_distributed

    try:
        require_distributed(config)
    except DistributedError as exc:
        raise _Unavailable(f"{config.where('execution')}: {exc}") from None


class _Waiting:
    """What a starting process says while it waits for PostgreSQL: once a minute."""

    def __init__(self, who: str | None):
        self.who = who
        self.said: float | None = None

    def say(self, exc: Exception) -> None:
        if self.who is None:  # a one-shot command does not wait: one line, exit
            raise _Unavailable(str(exc)) from None
        if self.said is None or time.monotonic() - self.said >= SAY_AGAIN:
            log.warning("%s; the %s waits for it (tried again every %.0f s)", exc, self.who,
                        RETRY_DATABASE)
            self.said = time.monotonic()

    def done(self) -> None:
        if self.said is not None:
            log.info("PostgreSQL answers now; the schema is current, the %s starts", self.who)


def _unavailable(exc: Exception, config: Any) -> Exception:
    """The one line for a broken database or queue; anything else (a bug) as it is."""
    from distributor.engine.distributed import DistributedError, open_error

    if isinstance(exc, DistributedError):
        return _Unavailable(str(exc))
    if isinstance(exc, OSError) or type(exc).__module__.startswith(("psycopg",
                                                                      "procrastinate")):
        return _Unavailable(str(open_error(exc, config.database, config.where("database"))))
    return exc


def _quiet_procrastinate(verbose: bool) -> None:
    if not verbose:  # procrastinate logs every job at INFO; ours say what matters
        logging.getLogger("procrastinate").setLevel(logging.WARNING)


async def run_distributed(state: Any, *, once: bool, dry_run: bool) -> None:
    """``distributor run`` under ``execution: distributed``: schedule only.

    ``--once`` enqueues one full pass for the workers and exits; ``--once --dry-run`` runs the
    pass here, as embedded mode does (nothing is sent, nothing enqueued, the ledger is not
    touched), since a dry run must not reach the workers."""
    from distributor.engine.distributed import run_once, run_scheduler

    if dry_run and not once:
        raise _Unavailable("`run --dry-run` in distributed mode needs --once (a dry pass in "
                           "this process); the workers always send")
    if dry_run:
        from distributor.engine.embedded import run_pass
        from distributor.interfaces.cli.common import _print_previews, tell

        rt = _prepare(state, dry_run=True)
        try:
            report = await run_pass(rt)
        finally:
            await rt.close()
        for poll in report.polls:
            status = "error" if poll.error else ("not modified" if poll.not_modified else
                                                f"{len(poll.new)} new, {poll.seen} known")
            tell(f"source {poll.source}: {status}", bool(poll.error))
        _print_previews(report, rt.config.outbox)
        if any(p.error for p in report.polls):
            raise SystemExit(1)
        return

    rt = await _prepare_async(state, wait=None if once else "scheduler")
    _quiet_procrastinate(logging.getLogger("distributor").isEnabledFor(logging.DEBUG))
    try:
        if once:
            queued = await run_once(rt)
            fresh = [name for name, new in queued if new]
            waiting = [name for name, new in queued if not new]
            click.echo(f"queued for the workers: {', '.join(fresh) or 'nothing new'}"
                       + (f"; already waiting: {', '.join(waiting)}" if waiting else ""))
            click.echo("`distributor worker` processes run them; `distributor deliveries "
                       "list` shows what was sent")
            return
        from distributor.services.editors import editor_bots

        await run_scheduler(rt, companions=[editor_bots(rt)])
    except Exception as exc:
        raise _unavailable(exc, rt.config) from None
    finally:
        await rt.close()


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Jobs this worker runs at once (channels drained side by side, digest "
                   "batches).")
@click.option("--stalled-after", type=click.FloatRange(2, 3600), default=30.0,
              show_default=True, metavar="SECONDS",
              help="A worker silent this long is taken for dead: its jobs are retried.")
@click.option("--fanout-batch", type=click.IntRange(10, 1_000_000), default=1000,
              show_default=True, metavar="N",
              help="Subscribers per digest batch job.")
@click.pass_obj
def worker(state: Any, concurrency: int, stalled_after: float, fanout_batch: int) -> None:
    """Run a worker of distributed mode (execution: distributed).

    Runs the jobs `distributor run` enqueues: polling, sending per channel (in order, one
    worker per channel at a time), digests in batches. Run as many as you like, on any
    machines sharing the PostgreSQL database. SIGTERM or Ctrl-C: the sends in flight finish,
    then it exits.
    """
    import asyncio

    from distributor.engine.distributed import run_worker

    rt = _prepare(state, wait="worker")
    _quiet_procrastinate(logging.getLogger("distributor").isEnabledFor(logging.DEBUG))

    async def main() -> None:
        try:
            await run_worker(rt, concurrency=concurrency, stalled_after=stalled_after,
                             fanout_batch=fanout_batch)
        finally:
            await rt.close()

    try:
        asyncio.run(main())
    except Exception as exc:
        raise _unavailable(exc, rt.config) from None


@click.group()
def db() -> None:
    """The database: migrations."""


@db.command()
@click.pass_obj
def upgrade(state: Any) -> None:
    """Apply the migrations and the task queue's schema (distributed mode).

    Safe to run on several machines at once (a PostgreSQL advisory lock); does nothing when
    everything is up to date.
    """
    from distributor.engine.distributed import DistributedError
    from distributor.engine.distributed import upgrade as do_upgrade
    from distributor.store.db import StoreError

    config = state.config(dry_run=True)
    _require_distributed(config)
    try:
        for line in do_upgrade(config.database, config.where("database")):
            click.echo(line)
    except (DistributedError, StoreError) as exc:
        raise _Unavailable(str(exc)) from None
