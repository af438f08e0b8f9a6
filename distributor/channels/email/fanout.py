"""The fan-out: one rendered mail to every confirmed subscriber of an email channel, fast and
exactly once. The channel's side of the plugin API's audience: it owns pacing, concurrency and
progress; SMTP (:mod:`.smtp`) only pushes, and the core (``ctx.audience``, a
:class:`~distributor.plugin.Audience`) keeps the subscribers, the run, its lease and the send
rows.

How a run goes (a digest, or a single-article mail of an instant email channel):

1. **Render once, build the MIME message once** (:class:`~.mime.MailTemplate`), already in
   the form the DATA command carries (CRLF, dot-stuffed, ending ``.\\r\\n``); each
   subscriber's mail is joined from those bytes and the personal values (recipient,
   Message-ID, unsubscribe token) and written to the connection as it is
   (:func:`~.smtp.send_wire`): no per-mail encoding, line-end rewriting or dot-stuffing.
2. **Stream the subscribers** of the channel in id order, a page at a time (keyset
   pagination), skipping those that already have a send row for this run: memory stays flat
   whatever the list's size, and a resumed run starts where the last one stopped.
3. **Send over a pool** of ``concurrency`` aiosmtplib connections (STARTTLS, TLS or plain,
   with login), paced to ``rate`` messages a second, one recipient per transaction. A broken
   connection is reopened (with backoff) and its message sent again.
4. **Record after acceptance, in batches.** A send row per (run, subscriber) is written once
   the server answered for good: ``sent`` (250), ``bounced`` (5xx, also recorded on the
   subscriber) or ``failed`` (4xx until the channel's ``retry_delays`` ran out; a 4xx is
   retried later in the run). Rows are written by group commit: one writer takes everything
   accepted since its last write, so under load the batches grow and at rest each row is
   written at once. After a crash only the messages in flight and the rows of the write
   under way can go out again (each with the same Message-ID, so mail clients can fold
   them); nobody is skipped.

A lease on the run (the audience's ``claim``, heartbeated with the writes) keeps a second
process off it; the lease of a process that died on this machine is taken over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from distributor.channels.email.mime import MailTemplate
from distributor.channels.email.progress import FanoutStats, Progress
from distributor.channels.email.smtp import (
    ConnectError,
    Connection,
    address_of,
    bounce_kind,
    domain_of,
)
from distributor.plugin import Recipient, RecipientResult

if TYPE_CHECKING:
    from distributor.channels.email.config import EmailConfig
    from distributor.plugin import Audience, ListRun

log = logging.getLogger("distributor.fanout")

HEARTBEAT_EVERY = 15.0
PAGE = 1000
BATCH_SIZE = 500  # most send rows in one write
FLUSH_INTERVAL = 0.05  # least time between two writes: bounds the writes to 20 a second
CONNECT_ATTEMPTS = 6  # per worker, in a row, before the run gives up (resumable)


class FanoutError(Exception):
    """The run stopped before every subscriber was served; sending it again resumes it.

    ``permanent`` errors (login refused, sender refused) will not go away by themselves.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class FanoutBusy(FanoutError):
    """Another live process holds the run's lease."""


@dataclass
class _Job:
    recipient: Recipient
    attempts: int = 0  # 4xx answers so far


def _result(job: _Job, state: Any, detail: str | None = None, bounce: Any = None
            ) -> RecipientResult:
    return RecipientResult(job.recipient, state, detail, bounce)


class Fanout:
    """Sends one run to every recipient the audience has for it (every confirmed subscriber
    of the channel it has not reached; a distributed digest's batch: those of a range)."""

    def __init__(self, audience: Audience, channel: EmailConfig, run: ListRun, *,
                 progress: Progress | None = None, batch_size: int = BATCH_SIZE,
                 flush_interval: float | None = None, page: int = PAGE):
        self.audience = audience
        self.channel = channel
        self.run_id = run.id
        self.message = run.message
        self._nonce = run.nonce
        self.progress = progress
        self.batch_size = batch_size
        self.flush_interval = FLUSH_INTERVAL if flush_interval is None else flush_interval
        self.page = page
        self.stats = FanoutStats(run_id=run.id)
        self.concurrency = channel.concurrency
        self.retry_delays = [d.total_seconds() for d in channel.retry_delays]
        self.envelope_from = channel.return_path or address_of(channel.from_)
        # runtime state
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._results: list[RecipientResult] = []
        self._outstanding = 0
        self._exhausted = False
        self._all_done = asyncio.Event()
        self._room = asyncio.Event()
        self._wake_flusher = asyncio.Event()
        self._closing = False
        self._write_failures = 0
        self._fatal: FanoutError | None = None
        self._last_error: FanoutError | None = None
        self._next_slot = 0.0
        self._last_heartbeat = time.monotonic()
        self._timers: list[asyncio.TimerHandle] = []
        self._template: MailTemplate | None = None
        self._domain = domain_of(channel.from_)

    def _write(self, results: list[RecipientResult], heartbeat: bool) -> None:
        """Record answers (in a thread): send rows, bounces; with the heartbeat, the run's
        counters and lease."""
        self.audience.record(self.run_id, results, heartbeat=heartbeat)

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> FanoutStats:
        if not await asyncio.to_thread(self.audience.claim, self.run_id):
            raise FanoutBusy(f"run {self.run_id} is being sent by another process")
        state, detail = None, None
        try:
            message = self.message
            done, todo = await asyncio.to_thread(self.audience.counts, self.run_id)
            self.stats.done_before = done
            self.stats.total = done + todo
            if done:
                log.info("resuming run %s of %s: %d already served, %d to go; messages that "
                         "were in flight when the last process stopped may repeat",
                         self.run_id, self.channel.name, done, todo)
            self._template = MailTemplate(message, sender=self.channel.from_)
            if not self._template.fast:
                log.warning("run %s: the mail cannot be templated; building each mail in full",
                            self.run_id)
            await self._serve()
            state = "done"
            return self.stats
        except FanoutError as exc:
            detail = exc.message
            raise
        except BaseException as exc:
            detail = f"interrupted: {exc!r}"
            raise
        finally:
            self.stats.finished = time.monotonic()
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(
                    self.audience.release, self.run_id, state=state, detail=detail))
            if self.progress is not None:
                self.progress.close(self.stats)

    async def _serve(self) -> None:
        workers = [asyncio.create_task(self._worker(i), name=f"smtp-{i}")
                   for i in range(self.concurrency)]
        producer = asyncio.create_task(self._produce(), name="fanout-producer")
        flusher = asyncio.create_task(self._flush_loop(), name="fanout-flusher")
        done_wait = asyncio.create_task(self._all_done.wait())
        try:
            pending: set[asyncio.Task[Any]] = {done_wait, producer, flusher, *workers}
            while not self._all_done.is_set():
                finished, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    if task is done_wait:
                        continue
                    exc = task.exception()
                    if exc is not None:
                        raise exc
                if self._fatal is not None:
                    raise self._fatal
                if not any(not w.done() for w in workers) and not self._all_done.is_set():
                    raise self._fatal or self._last_error or FanoutError(
                        "every SMTP connection stopped")
            for _ in workers:
                self._queue.put_nowait(None)
            await asyncio.gather(*workers)
        finally:
            done_wait.cancel()
            for timer in self._timers:
                timer.cancel()
            for task in [producer, *workers]:
                task.cancel()
            for _ in workers:  # a worker that missed its cancellation still stops
                self._queue.put_nowait(None)
            await asyncio.gather(producer, *workers, return_exceptions=True)
            # whatever was accepted is written, even when the run stops on an error: the
            # writer finishes the write under way and writes the rest, then stops
            self._closing = True
            self._wake_flusher.set()
            try:
                await asyncio.wait_for(asyncio.shield(flusher), 60)
            except BaseException:
                flusher.cancel()
                results, self._results = self._results, []
                if results:
                    await asyncio.to_thread(self._write, results, False)
            if self.progress is not None:
                self.progress.update(self.stats)

    async def _produce(self) -> None:
        after = 0
        low = max(self.concurrency * 4, self.page // 2)
        while True:
            while self._queue.qsize() > low:
                self._room.clear()
                await self._room.wait()
            rows = await asyncio.to_thread(self.audience.recipients, self.run_id, after=after,
                                           limit=self.page)
            if not rows:
                break
            for recipient in rows:
                self._outstanding += 1
                self._queue.put_nowait(_Job(recipient))
            after = rows[-1].id
        self._exhausted = True
        self._check_done()

    def _check_done(self) -> None:
        if self._exhausted and self._outstanding == 0:
            self._all_done.set()

    async def _flush_loop(self) -> None:
        """Group commit: write what was accepted as soon as the previous write is done, so
        the rows wait for one write at most (a few milliseconds), batched under load."""
        while True:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_flusher.wait(), HEARTBEAT_EVERY / 3)
            self._wake_flusher.clear()
            now = time.monotonic()
            beat = now - self._last_heartbeat >= HEARTBEAT_EVERY
            if not self._results and not beat:
                if self._closing:
                    return
                continue
            results = self._results[:self.batch_size]
            del self._results[:self.batch_size]
            if self._results:
                self._wake_flusher.set()
            if beat:
                self._last_heartbeat = now
            try:
                await asyncio.to_thread(self._write, results, beat)
            except Exception:
                self._results[:0] = results  # keep them for the next try
                self._write_failures += 1
                if self._write_failures >= 5:
                    raise
                log.exception("run %s: writing send rows failed; retrying", self.run_id)
                await asyncio.sleep(1.0)
                self._wake_flusher.set()
                continue
            self._write_failures = 0
            if self.progress is not None:
                self.progress.update(self.stats)
            if self.flush_interval:
                await asyncio.sleep(self.flush_interval)

    def _finish(self, result: RecipientResult) -> None:
        self._results.append(result)
        if result.state == "sent":
            self.stats.sent += 1
        elif result.state == "bounced":
            self.stats.bounced += 1
        else:
            self.stats.failed += 1
        self._outstanding -= 1
        self._wake_flusher.set()
        self._check_done()

    def _defer(self, job: _Job, code: int, message: str) -> None:
        if job.attempts >= len(self.retry_delays):
            self._finish(_result(job, "failed", f"{code} {message} (after {job.attempts + 1} "
                                                "attempts)"))
            return
        delay = self.retry_delays[job.attempts]
        job.attempts += 1
        self.stats.retried += 1
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(delay, self._queue.put_nowait, job))

    async def _pace(self) -> None:
        rate = self.channel.rate
        if not rate:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)

    def _render(self, job: _Job) -> tuple[bytes, list[str], bool]:
        """``(data, mail_options, wire)``: a recipient the template serves gets the mail in
        its DATA form, joined from bytes built once (``wire``: sent as it is); any other is
        built in full and goes through ``sendmail``."""
        assert self._template is not None
        recipient = job.recipient
        message_id = f"{self.run_id}.{recipient.id}.{self._nonce}@{self._domain}"
        if self._template.templated(recipient.address):
            return self._template.render_wire(recipient.address, recipient.unsubscribe_token,
                                              message_id), [], True
        self.stats.slow_path += 1
        data, options = self._template.render_slow(recipient.address,
                                                   recipient.unsubscribe_token, message_id)
        return data, options, False

    async def _worker(self, n: int) -> None:
        connection = Connection(self.channel.smtp, f"smtp-{n}", attempts=CONNECT_ATTEMPTS)
        limit = self.channel.smtp.max_messages_per_connection
        polite_exit = False
        me = asyncio.current_task()
        try:
            while True:
                if me is not None and me.cancelling():
                    # aiosmtplib may turn a cancellation inside a command into an SMTP error
                    raise asyncio.CancelledError
                job = await self._queue.get()
                if job is None:
                    polite_exit = True
                    return
                if self._queue.qsize() < self.page // 2:
                    self._room.set()
                try:
                    await connection.open()
                except ConnectError as exc:
                    error = FanoutError(exc.message, permanent=exc.permanent)
                    self._queue.put_nowait(job)
                    self._last_error = error
                    if error.permanent:
                        self._fatal = self._fatal or error
                        raise error from None
                    # the other connections go on; the run stops when none is left
                    log.warning("smtp-%d: giving up on this connection: %s", n, error)
                    return
                await self._pace()
                data, options, wire = self._render(job)
                answer = await connection.send(self.envelope_from, job.recipient.address, data,
                                               options, wire=wire)
                if answer.kind == "sent":
                    self._finish(_result(job, "sent"))
                    if limit and connection.sent >= limit:
                        await connection.close(polite=5.0)
                elif answer.kind == "refused":
                    self._answer(job, answer.code, answer.message)
                elif answer.kind == "unsupported":
                    self._finish(_result(job, "failed",
                                         f"not supported by the server: {answer.message}"))
                elif answer.kind == "sender-refused":
                    self._queue.put_nowait(job)
                    self._fatal = FanoutError(
                        f"the SMTP server refused the sender {self.envelope_from}: "
                        f"{answer.code} {answer.message}; check `from:` (or `return_path:`)",
                        permanent=True)
                    raise self._fatal
                else:  # again, or broken (the server may have taken it: it may repeat)
                    if answer.kind == "broken":
                        self.stats.resent += 1
                    self._queue.put_nowait(job)
                    if answer.pause:
                        await asyncio.sleep(answer.pause)
        finally:
            # say QUIT when done; when cancelled, just close (never wait)
            await connection.close(polite=2.0 if polite_exit else 0.0)

    def _answer(self, job: _Job, code: int, message: str) -> None:
        """A per-recipient refusal: 4xx later, 5xx a bounce."""
        text = " ".join(str(message).split())[:500]
        if 400 <= code < 500:
            self._defer(job, code, text)
            return
        self._finish(_result(job, "bounced", f"{code} {text}", bounce=bounce_kind(code, text)))
