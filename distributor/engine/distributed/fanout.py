"""A list channel's digest in batches: ``digest_batch`` jobs of subscriber id ranges spread
over the workers, and a ``digest_finish`` job that marks the digest sent once every batch
succeeded. Each batch is the channel's own ``send_digest`` with an audience narrowed to its
range (:class:`~distributor.ledger.mailing.RunBatch`). Send rows are unique per (run,
subscriber), so a batch that runs again serves only those it had not reached."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select, update

from distributor.articles import Article
from distributor.config import ChannelConfig
from distributor.engine.contexts import channel_state, key_for
from distributor.ledger.mailing import (
    RunBatch,
    claim_run,
    open_run,
    release_run,
    touch_run,
    unserved,
)
from distributor.plugin import (
    ChannelLog,
    DigestContext,
    PermanentError,
    TransientError,
    is_list_channel,
)
from distributor.render.context import Message
from distributor.runtime import Runtime
from distributor.store.models import Digest, FanoutRun, Subscriber

if TYPE_CHECKING:
    import procrastinate

from distributor.clock import utcnow
from distributor.engine.distributed.liveness import BATCH_CLASS, session_lock
from distributor.engine.distributed.queue import _jobs_of_run, _next_round, _outstanding, enqueue

log = logging.getLogger("distributor.workers")


#: subscribers per digest batch job
FANOUT_BATCH = 1000
#: how often the finisher of a digest looks whether its batches are done
FINISH_POLL = 2.0

class TransientBatchError(Exception):
    """A digest batch stopped for a reason that may go away (SMTP down, busy): retried."""


class PermanentBatchError(Exception):
    """A digest batch cannot be sent until someone fixes the configuration: not retried."""



class _Worker(Protocol):
    """What the fan-out needs of a worker (:class:`.worker.WorkerState`)."""

    rt: Runtime
    app: procrastinate.App
    url: str
    fanout_batch: int


class Batches:
    """:class:`~distributor.engine.jobs.DigestBatches` of a worker: a list channel (one that
    sends to the core's subscribers, ``audience = True``) sends its digests in batch jobs."""

    def __init__(self, st: _Worker):
        self.st = st

    def handles(self, channel: ChannelConfig) -> bool:
        return is_list_channel(self.st.rt.adapter(channel.name))

    async def resume(self, channel: str, digest_id: int) -> str:
        return await _resume_fanout(self.st, channel, digest_id)

    async def start(self, channel: str, digest_id: int, messages: list[Message]) -> str:
        return await _start_fanout(self.st, channel, digest_id, messages)


def _run_owner(run_id: int) -> str:
    """The owner of a run's lease while its batches are out (no process: the batches)."""
    return f"distributed:batches:{run_id}"


def plan_ranges(rt: Runtime, channel: str, run_id: int, size: int) -> list[tuple[int, int]]:
    """Subscriber id ranges of ``size`` subscribers each, covering those the run has not
    served yet."""
    numbered = select(Subscriber.id.label("id"),
                      ((func.row_number().over(order_by=Subscriber.id) - 1) // size)
                      .label("batch")).where(unserved(channel, run_id)).subquery()
    with rt.store.session() as session:
        rows = session.execute(select(func.min(numbered.c.id), func.max(numbered.c.id))
                               .group_by(numbered.c.batch).order_by(numbered.c.batch)).all()
    return [(int(a), int(b)) for a, b in rows]



async def _resume_fanout(st: _Worker, name: str, digest_id: int) -> str:
    rt = st.rt
    with rt.store.session() as session:
        digest = session.get_one(Digest, digest_id)
        run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
        message = dict(run.message) if run is not None else None
        until = digest.until
        run_id = run.id if run is not None else None
    if run_id is not None:
        busy = _outstanding(_jobs_of_run(rt, "digest_batch", run_id)) + \
            _outstanding(_jobs_of_run(rt, "digest_finish", run_id))
        if busy:
            return "in progress"
    if message is None:  # stopped before the mail was stored: render it as it would have been
        articles = _articles(rt, digest_id)
        channel = rt.config.channel(name)
        messages = rt.adapter(name).render_digest(articles, rt.context(channel, now=until))
    else:
        messages = [message]
    log.info("digest %s (id %s): resuming a digest that was not finished", name, digest_id)
    return await _start_fanout(st, name, digest_id, messages)


def _articles(rt: Runtime, digest_id: int) -> list[Article]:
    """The articles of a digest, in its order."""
    from distributor.ledger.ingest import from_row
    from distributor.store.models import ArticleRow

    with rt.store.session() as session:
        ids = list(session.get_one(Digest, digest_id).article_ids)
        rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids))
                               .order_by(ArticleRow.first_seen, ArticleRow.id)).all()
        return [from_row(r) for r in rows]


async def _start_fanout(st: _Worker, name: str, digest_id: int,
                        messages: list[dict[str, Any]]) -> str:
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


async def run_batch(st: _Worker, run_id: int, first: int, last: int) -> None:
    """One batch of a digest's fan-out: the subscribers ``first..last`` not served yet, sent
    by the channel's ``send_digest`` with an audience narrowed to them."""
    rt = st.rt
    with rt.store.session() as session:
        run = session.get(FanoutRun, run_id)
        if run is None or run.state == "done" or run.digest_id is None:
            return
        name, digest_id, message = run.channel, run.digest_id, dict(run.message)
        digest = session.get_one(Digest, digest_id)
        period, since, until, created = digest.period, digest.since, digest.until, \
            digest.created_at
    audience = RunBatch(rt.store, rt.config, name, owner=_run_owner(run_id),
                        id_range=(first, last))
    ctx = DigestContext(channel=name, digest_id=digest_id, period=period, since=since,
                        until=until, articles=_articles(rt, digest_id),
                        idempotency_key=key_for("digest", digest_id, created),
                        log=ChannelLog(name, f"digest {digest_id}, batch {first}-{last}"),
                        state=channel_state(rt, name), audience=audience)
    async with session_lock(st.url, BATCH_CLASS, f"{run_id}:{first}") as taken:
        if not taken:
            raise TransientBatchError(f"batch {first}-{last} of run {run_id} is being sent "
                                      "by another worker")
        try:
            await rt.adapter(name).send_digest([message], ctx)
        except PermanentError as exc:
            log.error("digest batch %s-%s of run %s: %s", first, last, run_id, exc.message)
            raise PermanentBatchError(exc.message) from None
        except TransientError as exc:
            raise TransientBatchError(exc.message) from None
    stats = ctx.stats
    log.info("digest batch %s-%s of run %s: %d sent, %d bounced, %d failed", first, last,
             run_id, stats.get("sent", 0), stats.get("bounced", 0), stats.get("failed", 0))


async def finish_digest(st: _Worker, run_id: int, digest_id: int, round: int) -> None:
    """Mark the digest sent once every batch of this round succeeded (else look again soon);
    a batch that failed for good leaves the digest ``sending`` for a later resume."""
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
    if run_id is not None:
        release_run(rt.store, run_id, _run_owner(run_id), state="done")
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        if row.state != "sent":
            row.state, row.sent_at, row.detail = "sent", utcnow(), None
            run = session.scalar(select(FanoutRun).where(FanoutRun.digest_id == digest_id))
            log.info("digest %s for %s sent (%s)", row.channel, row.period,
                     f"{run.sent} accepted, {run.bounced} bounced, {run.failed} failed"
                     if run is not None else "no fan-out")


def _digest_failed(rt: Runtime, digest_id: int, detail: str) -> None:
    with rt.store.session() as session:
        row = session.get_one(Digest, digest_id)
        row.state, row.detail = "failed", detail
    log.error("digest %s failed: %s", digest_id, detail)
