"""The fan-out: one rendered mail to every confirmed subscriber of an email channel, fast and
exactly once.

How a run goes (a digest, or a single-article mail of an instant email channel):

1. **Render once, build the MIME message once.** :class:`MailTemplate` builds the mail with
   :func:`~distributor.render.email.build_mime` and flattens it to bytes a single time. The
   parts that differ per subscriber (the ``To`` header, ``Message-ID``, the unsubscribe token in
   ``List-Unsubscribe`` and in both bodies, the address in the footer) become *slots*. The
   bodies are quoted-printable, where a placeholder may be split by a soft line break and an
   ``=`` in an address must be written ``=3D``; so substitution never happens inside encoded
   bytes: the decoded body is split at its placeholders, each piece is encoded once, and each
   subscriber's value is encoded on its own and set between soft line breaks (``=\\r\\n``).
   The decoded text is exactly what :func:`~distributor.render.email.personalize` gives.
   Anything the template cannot carry (a non-ASCII address, a placeholder inside an encoded
   header) falls back to building that one mail in full.
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

A lease on the run (owner + expiry, heartbeated) keeps a second process off it; the lease of a
process that died on this machine is taken over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import quoprimime
from email.message import EmailMessage
from email.utils import getaddresses
from html import escape as html_escape
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import aiosmtplib
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from distributor.ledger.subscribers import SOFT_BOUNCE_LIMIT, record_bounce, unsubscribe_token
from distributor.plugin import utcnow
from distributor.render.email import (
    MIME_POLICY,
    RECIPIENT,
    UNSUBSCRIBE_TOKEN,
    build_mime,
)
from distributor.runtime import owner_gone
from distributor.store.models import EmailSend, FanoutRun, Subscriber

if TYPE_CHECKING:
    from distributor.channels.email.adapter import EmailConfig, SmtpConfig
    from distributor.store import Store

log = logging.getLogger("distributor.fanout")

MESSAGE_ID = "%%MESSAGE_ID%%"
LEASE = timedelta(minutes=2)
HEARTBEAT_EVERY = 15.0
PAGE = 1000
BATCH_SIZE = 500  # most send rows in one write
FLUSH_INTERVAL = 0.05  # least time between two writes: bounds the writes to 20 a second
CONNECT_ATTEMPTS = 6  # per worker, in a row, before the run gives up (resumable)
SMTP_POLICY = MIME_POLICY.clone(linesep="\r\n")
SMTP_POLICY_UTF8 = SMTP_POLICY.clone(utf8=True)




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


# --------------------------------------------------------------------------- the template


@dataclass(frozen=True)
class _Slot:
    name: str  # recipient | token | message_id
    where: str  # header | text | html


_PIECE_RE = re.compile(
    "(" + "|".join(re.escape(p) for p in (RECIPIENT, UNSUBSCRIBE_TOKEN, MESSAGE_ID)) +
    r"|@@DISTRIBUTOR-PART-\d+@@)")
_SLOT_NAMES = {RECIPIENT: "recipient", UNSUBSCRIBE_TOKEN: "token", MESSAGE_ID: "message_id"}
_QP_SAFE = re.compile(r"[!-<>-~]{1,70}")  # printable ASCII without "=", no spaces


def _qp(text: str) -> str:
    """``text`` quoted-printable (UTF-8), CRLF line ends, as the email package encodes."""
    return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n")


def _qp_value(value: str) -> bytes:
    if _QP_SAFE.fullmatch(value):
        return value.encode("ascii")
    return _qp(value).encode("ascii")


class MailTemplate:
    """A mail built once, rendered per subscriber by joining bytes.

    ``render(recipient, token, message_id)`` returns ``(bytes, mail_options)`` ready for
    ``SMTP.sendmail``. ``fast`` is False when the built mail cannot be templated (then every
    mail is built in full, which is correct but slower).
    """

    def __init__(self, message: dict[str, Any], *, sender: str, now: datetime | None = None):
        self.message = message
        self.sender = sender
        self.now = now or utcnow()
        self.pieces: list[bytes | _Slot] = []
        self.fast = self._build()

    def _build(self) -> bool:
        mail = build_mime(self.message, sender=self.sender, to=RECIPIENT,
                          message_id=f"<{MESSAGE_ID}>", now=self.now)
        bodies: dict[str, tuple[str, str]] = {}
        for index, part in enumerate(mail.walk()):
            if part.is_multipart():
                continue
            content = part.get_content()
            if not isinstance(content, str) or not any(
                    p in content for p in (RECIPIENT, UNSUBSCRIBE_TOKEN)):
                continue
            if part.get("Content-Transfer-Encoding", "").lower() != "quoted-printable":
                return False
            marker = f"@@DISTRIBUTOR-PART-{index}@@"
            where = "html" if part.get_content_subtype() == "html" else "text"
            bodies[marker] = (content, where)
            part.set_payload(marker)
        raw = mail.as_bytes(policy=SMTP_POLICY).decode("ascii")
        expected_in_headers = 2 + sum(
            str(value).count(p) for value in [self.message.get("subject", ""),
                                              *(self.message.get("headers") or {}).values()]
            for p in (RECIPIENT, UNSUBSCRIBE_TOKEN))
        seen_in_headers = 0
        pieces: list[bytes | _Slot] = []
        for chunk in _PIECE_RE.split(raw):
            if chunk in _SLOT_NAMES:
                seen_in_headers += 1
                pieces.append(_Slot(_SLOT_NAMES[chunk], "header"))
            elif chunk in bodies:
                pieces.extend(self._body_pieces(*bodies[chunk]))
            elif chunk:
                pieces.append(chunk.encode("ascii"))
        if seen_in_headers != expected_in_headers:
            return False
        # merge neighbouring literals
        merged: list[bytes | _Slot] = []
        for piece in pieces:
            if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] = merged[-1] + piece
            else:
                merged.append(piece)
        self.pieces = merged
        return True

    @staticmethod
    def _body_pieces(content: str, where: str) -> list[bytes | _Slot]:
        # the email package writes the body with "\n" line ends and a final one
        content = content.replace("\r\n", "\n").replace("\r", "\n")
        if not content.endswith("\n"):
            content += "\n"
        out: list[bytes | _Slot] = []
        parts = re.split("(" + re.escape(RECIPIENT) + "|" + re.escape(UNSUBSCRIBE_TOKEN) + ")",
                         content)
        for i, segment in enumerate(parts):
            if i % 2 == 1:
                out.append(_Slot(_SLOT_NAMES[segment], where))
                out.append(b"=\r\n")  # soft line break: the value ends its own line
                continue
            encoded = _qp(segment)
            if i + 1 < len(parts) and encoded and not encoded.endswith("\r\n"):
                encoded += "=\r\n"
            out.append(encoded.encode("ascii"))
        return out

    def render(self, recipient: str, token: str, message_id: str) -> tuple[bytes, list[str]]:
        if not (self.fast and recipient.isascii() and "\r" not in recipient
                and "\n" not in recipient):
            return self.render_slow(recipient, token, message_id)
        quoted = quote(token, safe="-._~")
        values = {
            ("recipient", "header"): recipient.encode("ascii"),
            ("recipient", "text"): _qp_value(recipient),
            ("recipient", "html"): _qp_value(html_escape(recipient, quote=True)),
            ("token", "header"): quoted.encode("ascii"),
            ("token", "text"): _qp_value(quoted),
            ("token", "html"): _qp_value(html_escape(quoted, quote=True)),
            ("message_id", "header"): message_id.encode("ascii"),
        }
        return b"".join(p if isinstance(p, bytes) else values[(p.name, p.where)]
                        for p in self.pieces), []

    def render_slow(self, recipient: str, token: str, message_id: str
                    ) -> tuple[bytes, list[str]]:
        mail: EmailMessage = build_mime(self.message, sender=self.sender, to=recipient,
                                        unsubscribe_token=token, message_id=f"<{message_id}>",
                                        now=self.now)
        if recipient.isascii():
            return mail.as_bytes(policy=SMTP_POLICY), []
        return mail.as_bytes(policy=SMTP_POLICY_UTF8), ["SMTPUTF8"]


def address_of(sender: str) -> str:
    """The bare address of ``"Name <a@b>"``."""
    for _name, address in getaddresses([sender]):
        if "@" in address:
            return address
    return sender.strip()


def domain_of(sender: str) -> str:
    return address_of(sender).rpartition("@")[2] or "localhost"


def message_hash(message: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(message, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- SMTP


def smtp_client(smtp: SmtpConfig) -> aiosmtplib.SMTP:
    password = smtp.password.get_secret_value()
    return aiosmtplib.SMTP(
        hostname=smtp.host, port=smtp.port,
        username=smtp.username or None, password=password if smtp.username else None,
        use_tls=smtp.security == "tls", start_tls=smtp.security == "starttls",
        timeout=smtp.timeout, validate_certs=smtp.verify,
        cert_bundle=str(smtp.ca_file) if smtp.ca_file else None,
        local_hostname=smtp.local_hostname)


def describe_smtp_error(exc: BaseException, smtp: SmtpConfig) -> str:
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (f"the SMTP server {where} refused the login of {smtp.username!r}: "
                f"{exc.code} {exc.message}; check smtp.username and smtp.password")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the SMTP server {where} answered {exc.code} {exc.message}"
    text = str(exc) or type(exc).__name__
    return f"cannot talk to the SMTP server {where}: {text}"


async def send_one(smtp: SmtpConfig, envelope_from: str, to: str, data: bytes,
                   mail_options: list[str] | None = None) -> str:
    """One message over a connection of its own (confirmation mails). Returns the server's
    answer; raises aiosmtplib errors."""
    client = smtp_client(smtp)
    await client.connect()
    try:
        _errors, answer = await client.sendmail(envelope_from, [to], data,
                                                mail_options=mail_options or [])
    finally:
        with contextlib.suppress(Exception):
            await client.quit()
    return answer


def _permanent_for_run(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return True
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and exc.code >= 500:
        return True
    return isinstance(exc, aiosmtplib.SMTPNotSupported)


# --------------------------------------------------------------------------- progress


@dataclass
class FanoutStats:
    run_id: int = 0
    #: subscribers this run serves in all (those done before this start included)
    total: int = 0
    #: send rows that existed when this start began (a resumed run)
    done_before: int = 0
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    #: 4xx answers that were retried later
    retried: int = 0
    #: messages sent again after a broken connection (they may reach the inbox twice)
    resent: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    slow_path: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.bounced + self.failed

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done_before - self.done)

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return self.remaining / rate if rate > 0 else None


class Progress(Protocol):
    def update(self, stats: FanoutStats) -> None: ...

    def close(self, stats: FanoutStats) -> None: ...


# --------------------------------------------------------------------------- the run


def open_run(store: Store, channel: str, key: str, message: dict[str, Any], *,
             digest_id: int | None = None, delivery_id: int | None = None) -> FanoutRun:
    """The run with this key, created with ``message`` when new (an existing run keeps the
    message it was started with, so a resumed run sends exactly the same mail)."""
    with store.session() as session:
        row = session.scalar(select(FanoutRun).where(FanoutRun.channel == channel,
                                                     FanoutRun.key == key))
        if row is not None:
            return row
        insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        now = utcnow()
        session.execute(insert(FanoutRun).values(
            channel=channel, key=key, digest_id=digest_id, delivery_id=delivery_id,
            message_hash=message_hash(message), message=message,
            nonce=secrets.token_hex(6), state="sending", sent=0, bounced=0, failed=0,
            starts=0, created_at=now, updated_at=now).on_conflict_do_nothing())
        return session.scalars(select(FanoutRun).where(FanoutRun.channel == channel,
                                                       FanoutRun.key == key)).one()




def claim_run(store: Store, run_id: int, owner: str) -> bool:
    now = utcnow()
    with store.session() as session:
        row = session.get_one(FanoutRun, run_id)
        current = row.lease_owner
        free = current is None or current == owner or \
            (row.lease_until is not None and row.lease_until < now) or owner_gone(current)
        if not free:
            return False
        guard = FanoutRun.lease_owner.is_(None) if current is None else \
            FanoutRun.lease_owner == current
        result = session.execute(
            update(FanoutRun).where(FanoutRun.id == run_id, guard)
            .values(lease_owner=owner, lease_until=now + LEASE, starts=FanoutRun.starts + 1,
                    updated_at=now))
        return getattr(result, "rowcount", 0) == 1


def release_run(store: Store, run_id: int, owner: str, *, state: str | None = None,
                detail: str | None = None) -> None:
    now = utcnow()
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now,
                              "detail": detail}
    if state is not None:
        values["state"] = state
        if state == "done":
            values["finished_at"] = now
    with store.session() as session:
        values.update(_counts(session, run_id))
        session.execute(update(FanoutRun).where(FanoutRun.id == run_id,
                                                FanoutRun.lease_owner == owner).values(**values))


def touch_run(store: Store, run_id: int, owner: str, lease: timedelta = LEASE) -> bool:
    """Refresh a run's counters and extend its lease while ``owner`` holds it (the batches of
    a distributed digest). False when someone else holds it now."""
    now = utcnow()
    with store.session() as session:
        values: dict[str, Any] = dict(_counts(session, run_id))
        values.update(updated_at=now, lease_until=now + lease)
        result = session.execute(update(FanoutRun).where(
            FanoutRun.id == run_id, FanoutRun.lease_owner == owner).values(**values))
        return getattr(result, "rowcount", 0) == 1


def _counts(session: Any, run_id: int) -> dict[str, int]:
    """The run's counters, from its send rows."""
    found = dict(session.execute(select(EmailSend.state, func.count()).where(
        EmailSend.run_id == run_id).group_by(EmailSend.state)).all())
    return {state: int(found.get(state, 0)) for state in ("sent", "bounced", "failed")}


def audience(channel: str, run_id: int) -> Any:
    """Who a run still has to serve: the channel's confirmed subscribers without a send row."""
    return and_(Subscriber.channel == channel, Subscriber.state == "confirmed",
                ~exists().where(EmailSend.run_id == run_id,
                                EmailSend.subscriber_id == Subscriber.id))


@dataclass
class _Job:
    subscriber_id: int
    email: str
    token_key: str
    attempts: int = 0  # 4xx answers so far


@dataclass
class _Result:
    job: _Job
    state: str  # sent | bounced | failed
    detail: str | None = None
    bounce: str | None = None  # hard | soft, for bounced


class Fanout:
    """Sends one run to every confirmed subscriber of its channel that it has not reached."""

    def __init__(self, store: Store, channel: EmailConfig, run_id: int, *, secret: str,
                 owner: str, progress: Progress | None = None,
                 heartbeat: Callable[[], None] | None = None,
                 batch_size: int = BATCH_SIZE, flush_interval: float | None = None,
                 page: int = PAGE, id_range: tuple[int, int] | None = None,
                 claim: bool = True):
        self.store = store
        #: a batch of a distributed digest: only subscribers with ``first <= id <= last``
        self.id_range = id_range
        #: False for a batch: the run's lease is held for all batches by
        #: :mod:`distributor.engine.distributed` (``owner`` is that lease's owner), not by this
        #: process
        self.claim = claim
        self.channel = channel
        self.run_id = run_id
        self.secret = secret
        self.owner = owner
        self.progress = progress
        self.heartbeat = heartbeat
        self.batch_size = batch_size
        self.flush_interval = FLUSH_INTERVAL if flush_interval is None else flush_interval
        self.page = page
        self.stats = FanoutStats(run_id=run_id)
        self.concurrency = channel.concurrency
        self.retry_delays = [d.total_seconds() for d in channel.retry_delays]
        self.envelope_from = channel.return_path or address_of(channel.from_)
        # runtime state
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._results: list[_Result] = []
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
        self._nonce = ""
        self._domain = domain_of(channel.from_)
        dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        self._insert_sends = dialect_insert(EmailSend).on_conflict_do_nothing()

    # -- database (run in threads) ----------------------------------------------------------
    def _load(self) -> tuple[dict[str, Any], str, int, int]:
        with self.store.session() as session:
            run = session.get_one(FanoutRun, self.run_id)
            done = session.scalar(select(func.count()).select_from(EmailSend)
                                  .where(EmailSend.run_id == self.run_id)) or 0
            todo = session.scalar(select(func.count()).select_from(Subscriber)
                                  .where(audience(self.channel.name, self.run_id),
                                         *self._in_range())) or 0
            return dict(run.message), run.nonce, int(done), int(todo)

    def _in_range(self) -> list[Any]:
        if self.id_range is None:
            return []
        first, last = self.id_range
        return [Subscriber.id >= first, Subscriber.id <= last]

    def _fetch(self, after: int) -> list[tuple[int, str, str]]:
        with self.store.session() as session:
            rows = session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.token_key)
                .where(Subscriber.id > after, audience(self.channel.name, self.run_id),
                       *self._in_range())
                .order_by(Subscriber.id).limit(self.page)).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def _write(self, results: list[_Result], heartbeat: bool) -> None:
        """Insert send rows (one cached statement, many rows, on a plain connection: this
        runs up to 20 times a second); bounces also update the subscriber; the run's
        counters and lease follow with the heartbeat and at the end."""
        now = utcnow()
        rows = [{"run_id": self.run_id, "subscriber_id": r.job.subscriber_id,
                 "state": r.state, "at": now, "detail": r.detail} for r in results]
        bounces = [r for r in results if r.state == "bounced" and r.bounce]
        if rows and not bounces and not heartbeat:
            with self.store.engine.begin() as connection:
                connection.execute(self._insert_sends, rows)
            return
        with self.store.session() as session:
            if rows:
                session.execute(self._insert_sends, rows)
            for r in bounces:
                assert r.bounce is not None
                record_bounce(session, r.job.email, r.bounce, channel=self.channel.name,
                              detail=r.detail)
            if heartbeat:
                values: dict[str, Any] = dict(_counts(session, self.run_id))
                values.update(updated_at=now, lease_until=now + LEASE)
                session.execute(update(FanoutRun).where(
                    FanoutRun.id == self.run_id,
                    or_(FanoutRun.lease_owner == self.owner, FanoutRun.lease_owner.is_(None)))
                    .values(**values))
        if heartbeat and self.heartbeat is not None:
            self.heartbeat()

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> FanoutStats:
        if self.claim and not await asyncio.to_thread(claim_run, self.store, self.run_id,
                                                      self.owner):
            raise FanoutBusy(f"run {self.run_id} is being sent by another process")
        state, detail = None, None
        try:
            message, self._nonce, done, todo = await asyncio.to_thread(self._load)
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
                if self.claim:
                    await asyncio.shield(asyncio.to_thread(
                        release_run, self.store, self.run_id, self.owner, state=state,
                        detail=detail))
                else:  # a batch: the counters follow; the run stays with its batches
                    await asyncio.shield(asyncio.to_thread(
                        touch_run, self.store, self.run_id, self.owner))
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
            rows = await asyncio.to_thread(self._fetch, after)
            if not rows:
                break
            for sid, email, key in rows:
                self._outstanding += 1
                self._queue.put_nowait(_Job(sid, email, key))
            after = rows[-1][0]
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

    def _finish(self, result: _Result) -> None:
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
            self._finish(_Result(job, "failed", f"{code} {message} (after {job.attempts + 1} "
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

    def _render(self, job: _Job) -> tuple[bytes, list[str]]:
        assert self._template is not None
        token = unsubscribe_token(self.secret, self.channel.name, job.subscriber_id,
                                  job.token_key)
        message_id = f"{self.run_id}.{job.subscriber_id}.{self._nonce}@{self._domain}"
        data, options = self._template.render(job.email, token, message_id)
        if options or not self._template.fast:
            self.stats.slow_path += 1
        return data, options

    async def _connect(self, worker: int) -> aiosmtplib.SMTP:
        failures = 0
        while True:
            client = smtp_client(self.channel.smtp)
            try:
                await client.connect()
                return client
            except Exception as exc:
                with contextlib.suppress(Exception):
                    client.close()
                if _permanent_for_run(exc):
                    raise FanoutError(describe_smtp_error(exc, self.channel.smtp),
                                      permanent=True) from None
                failures += 1
                if failures >= CONNECT_ATTEMPTS:
                    raise FanoutError(describe_smtp_error(exc, self.channel.smtp)) from None
                delay = min(10.0, 0.25 * 2 ** failures) * (0.5 + random.random() / 2)
                log.warning("smtp-%d: %s; connecting again in %.1fs", worker,
                            describe_smtp_error(exc, self.channel.smtp), delay)
                await asyncio.sleep(delay)

    async def _worker(self, n: int) -> None:
        client: aiosmtplib.SMTP | None = None
        on_connection = 0
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
                if client is None:
                    try:
                        client = await self._connect(n)
                    except FanoutError as exc:
                        self._queue.put_nowait(job)
                        self._last_error = exc
                        if exc.permanent:
                            self._fatal = self._fatal or exc
                            raise
                        # the other connections go on; the run stops when none is left
                        log.warning("smtp-%d: giving up on this connection: %s", n, exc)
                        return
                    on_connection = 0
                await self._pace()
                data, options = self._render(job)
                try:
                    await client.sendmail(self.envelope_from, [job.email], data,
                                          mail_options=options)
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    refused = exc.recipients[0]
                    self._answer(job, refused.code, refused.message)
                    if refused.code == 421:
                        client = await self._drop(client)
                except aiosmtplib.SMTPSenderRefused as exc:
                    if exc.code >= 500:
                        self._queue.put_nowait(job)
                        self._fatal = FanoutError(
                            f"the SMTP server refused the sender {self.envelope_from}: "
                            f"{exc.code} {exc.message}; check `from:` (or `return_path:`)",
                            permanent=True)
                        raise self._fatal from None
                    self._queue.put_nowait(job)
                    client = await self._drop(client, pause=1.0)
                except aiosmtplib.SMTPDataError as exc:
                    self._answer(job, exc.code, exc.message)
                    if exc.code == 421:
                        client = await self._drop(client)
                except aiosmtplib.SMTPNotSupported as exc:
                    self._finish(_Result(job, "failed", f"not supported by the server: {exc}"))
                except aiosmtplib.SMTPResponseException as exc:
                    # 421 on MAIL, or an odd answer: the connection is unusable
                    self._queue.put_nowait(job)
                    client = await self._drop(client, pause=0.5 if exc.code == 421 else 0.0)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    # the connection broke mid-transaction: the server may or may not have
                    # taken the message; send it again on a new connection (it may repeat)
                    self.stats.resent += 1
                    self._queue.put_nowait(job)
                    log.info("smtp-%d: %s; reconnecting", n,
                             describe_smtp_error(exc, self.channel.smtp))
                    client = await self._drop(client)
                else:
                    self._finish(_Result(job, "sent"))
                    on_connection += 1
                    if limit and on_connection >= limit:
                        client = await self._drop(client, polite=True)
        finally:
            if client is not None:
                if polite_exit:  # say QUIT; when cancelled, just close (never wait)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.quit(), 2.0)
                with contextlib.suppress(Exception):
                    client.close()

    async def _drop(self, client: aiosmtplib.SMTP, *, polite: bool = False,
                    pause: float = 0.0) -> aiosmtplib.SMTP | None:
        if polite:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 5.0)
        with contextlib.suppress(Exception):
            client.close()
        if pause:
            await asyncio.sleep(pause)
        return None

    def _answer(self, job: _Job, code: int, message: str) -> None:
        """A per-recipient refusal: 4xx later, 5xx a bounce."""
        text = " ".join(str(message).split())[:500]
        if 400 <= code < 500:
            self._defer(job, code, text)
            return
        self._finish(_Result(job, "bounced", f"{code} {text}", bounce=bounce_kind(code, text)))


_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def bounce_kind(code: int, message: str) -> str:
    """``hard`` for a 5xx about the address (no such user, bad domain), ``soft`` for one
    about the moment or the content (mailbox full, message too big, policy)."""
    match = _ENHANCED.search(message)
    if match and match.group(1) == "5":
        subject = match.group(2)
        detail = match.group(3)
        if subject == "1":
            return "hard"
        if subject in ("2", "3", "4", "7") or (subject == "5" and detail != "1"):
            return "soft"
    if code in (550, 551, 553):
        return "hard"
    return "soft"


__all__ = [
    "SOFT_BOUNCE_LIMIT",
    "Fanout",
    "FanoutBusy",
    "FanoutError",
    "FanoutStats",
    "MailTemplate",
    "Progress",
    "bounce_kind",
    "claim_run",
    "open_run",
    "send_one",
    "smtp_client",
    "touch_run",
]
