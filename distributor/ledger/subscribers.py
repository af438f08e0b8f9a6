"""Email subscribers: double opt-in, signed links, unsubscribe, bounces, import and export.

A subscriber is one address on one email channel, unique without regard to case. States:

- ``pending``: subscribed, waiting for the confirmation link (double opt-in); gets nothing else;
- ``confirmed``: receives the channel's mail;
- ``unsubscribed``: left (one click, or the page); gets nothing;
- ``bounced``: a hard bounce, or ``SOFT_BOUNCE_LIMIT`` soft ones; gets nothing, on any channel;
- ``complained``: marked a mail as spam; gets nothing, on any channel.

Links carry a token signed with ``web.secret_key`` (itsdangerous, HMAC-SHA256) over the
subscriber's id and a random ``token_key`` of the row: a token cannot be guessed or forged,
names exactly one (subscriber, channel), and dies with the row (erasure) or a new key.
Unsubscribe tokens never expire (old mails keep a working link); confirmation tokens do.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadData, BadSignature, SignatureExpired, Signer, TimestampSigner
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.store.models import EmailSend, FanoutRun, Subscriber, SubscriberEvent

if TYPE_CHECKING:
    from distributor.channels.email.adapter import EmailConfig
    from distributor.config import Config
    from distributor.store import Store

log = logging.getLogger("distributor.subscribers")

STATES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")
#: states in which nothing is ever sent again to the address (on any channel)
BLOCKED = ("bounced", "complained")
SOFT_BOUNCE_LIMIT = 3
BOUNCE_KINDS = ("hard", "soft", "complaint")
CONFIRM_TTL = timedelta(days=7)
#: a pending subscriber gets a new confirmation mail at most this often
CONFIRM_RESEND_AFTER = timedelta(minutes=10)
SECRET_HELP = ("web.secret_key is not set: subscriber links (confirmation, unsubscribe) and "
               "dashboard sessions are signed with it. Add `secret_key: "
               "${DISTRIBUTOR_SECRET_KEY}` under web: in the configuration and `export "
               "DISTRIBUTOR_SECRET_KEY=$(python3 -c 'import secrets; "
               "print(secrets.token_urlsafe(32))')`; keep it: changing it breaks the "
               "unsubscribe links of mails already sent")


class SubscriberError(ValueError):
    """A problem the user can fix; the message says how."""


class MissingSecret(SubscriberError):
    def __init__(self) -> None:
        super().__init__(SECRET_HELP)




# --------------------------------------------------------------------------- addresses


def normalize_email(raw: str) -> tuple[str, str]:
    """``(address, key)``: the address as email-validator normalises it (domain in lower
    case, Unicode NFC) and the key it is unique by (all in lower case). No DNS look-ups."""
    text = (raw or "").strip()
    if not text:
        raise SubscriberError("the address is empty")
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{text!r} is not a valid email address: {exc}") from None
    address = valid.normalized
    return address, address.lower()


# --------------------------------------------------------------------------- tokens


def secret_of(config: Config) -> str:
    """``web.secret_key``, or :class:`MissingSecret` with the fix."""
    secret = config.web.secret_key
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise MissingSecret()
    return value


def new_token_key() -> str:
    return secrets.token_urlsafe(9)


@lru_cache(maxsize=64)
def _unsubscribe_signer(secret: str, channel: str) -> Signer:
    return Signer(secret, salt=f"distributor.unsubscribe:{channel}", digest_method=_sha256())


@lru_cache(maxsize=8)
def _confirm_signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt="distributor.confirm", digest_method=_sha256())


def _sha256() -> Any:
    return hashlib.sha256


def unsubscribe_token(secret: str, channel: str, subscriber_id: int, token_key: str) -> str:
    """``ID.KEY.SIGNATURE``, URL-safe; the signature binds it to the channel. The same as
    itsdangerous' ``Signer.sign`` (HMAC-SHA256 with a key derived from the secret and the
    channel), with the derived key computed once per channel rather than per token."""
    value = f"{subscriber_id}.{token_key}"
    mac = hmac.new(_unsubscribe_key(secret, channel), value.encode(), hashlib.sha256).digest()
    return f"{value}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@lru_cache(maxsize=64)
def _unsubscribe_key(secret: str, channel: str) -> bytes:
    return bytes(_unsubscribe_signer(secret, channel).derive_key())


def confirm_token(secret: str, subscriber_id: int, token_key: str) -> str:
    return _confirm_signer(secret).sign(f"{subscriber_id}.{token_key}").decode()


def _split(token: str) -> tuple[int, str] | None:
    parts = token.split(".")
    if len(parts) < 3 or not parts[0].isdigit() or len(parts[0]) > 18:
        return None
    return int(parts[0]), parts[1]


def subscriber_for_unsubscribe(session: Session, secret: str, token: str) -> Subscriber | None:
    """The subscriber an unsubscribe token names, or None when it is forged, tampered with,
    or names a subscriber that no longer exists."""
    head = _split(token)
    if head is None:
        return None
    row = session.get(Subscriber, head[0])
    if row is None or not secrets.compare_digest(row.token_key, head[1]):
        return None
    try:
        value = _unsubscribe_signer(secret, row.channel).unsign(token).decode()
    except BadSignature:
        return None
    return row if value == f"{row.id}.{row.token_key}" else None


def subscriber_for_confirm(session: Session, secret: str, token: str,
                           max_age: timedelta = CONFIRM_TTL) -> tuple[Subscriber | None, str]:
    """``(subscriber, "")`` for a valid confirmation token, else ``(None, why)`` with why
    ``expired`` or ``invalid``."""
    try:
        value = _confirm_signer(secret).unsign(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        return None, "expired"
    except (BadSignature, BadData):
        return None, "invalid"
    head = _split(value.decode() + ".x")
    if head is None:
        return None, "invalid"
    row = session.get(Subscriber, head[0])
    if row is None or not secrets.compare_digest(row.token_key, head[1]):
        return None, "invalid"
    return row, ""


# --------------------------------------------------------------------------- changes


def _event(session: Session, subscriber: Subscriber, kind: str, detail: str | None = None,
           at: datetime | None = None) -> None:
    session.add(SubscriberEvent(subscriber_id=subscriber.id, kind=kind, detail=detail,
                                at=at or utcnow()))


@dataclass
class AddResult:
    subscriber: Subscriber
    #: created | confirmed | pending | already-confirmed | already-pending | resubscribed
    what: str
    #: True when a confirmation mail should go out now
    needs_confirmation: bool = False


def add_subscriber(session: Session, channel: str, email: str, *, confirmed: bool = False,
                   source: str = "cli", detail: str | None = None) -> AddResult:
    """Subscribe ``email`` to ``channel``; confirmed at once only when ``confirmed``.

    An address that bounced or complained is refused (:class:`SubscriberError`); one that
    unsubscribed subscribes again (pending, or confirmed when ``confirmed``).
    """
    address, key = normalize_email(email)
    row = session.scalar(select(Subscriber).where(Subscriber.channel == channel,
                                                  Subscriber.email_key == key))
    now = utcnow()
    if row is None:
        blocked = session.scalar(select(Subscriber.state).where(
            Subscriber.email_key == key, Subscriber.state.in_(BLOCKED)).limit(1))
        if blocked is not None:
            raise SubscriberError(f"{address} {_blocked_words(blocked)} on another channel; "
                                  "nothing is sent to it any more")
        row = Subscriber(channel=channel, email=address, email_key=key,
                         state="confirmed" if confirmed else "pending",
                         token_key=new_token_key(), source=source, created_at=now,
                         updated_at=now, confirmed_at=now if confirmed else None)
        session.add(row)
        session.flush()
        _event(session, row, "subscribed", detail or f"by {source}")
        if confirmed:
            _event(session, row, "confirmed", f"by {source} (--confirmed)")
        return AddResult(row, "confirmed" if confirmed else "created",
                         needs_confirmation=not confirmed)
    if row.state in BLOCKED:
        raise SubscriberError(f"{row.email} {_blocked_words(row.state)}; nothing is sent to it "
                              "any more (`subscribers remove` erases it completely)")
    if row.state == "confirmed":
        return AddResult(row, "already-confirmed")
    if confirmed:
        was = row.state
        row.state, row.confirmed_at, row.unsubscribed_at = "confirmed", now, None
        _event(session, row, "confirmed", f"by {source} (--confirmed)")
        return AddResult(row, "resubscribed" if was == "unsubscribed" else "confirmed")
    if row.state == "unsubscribed":
        row.state, row.unsubscribed_at = "pending", None
        row.token_key = new_token_key()  # old links die with the old subscription
        _event(session, row, "subscribed", detail or f"again, by {source}")
        return AddResult(row, "resubscribed", needs_confirmation=True)
    resend = row.confirmation_sent_at is None or \
        row.confirmation_sent_at < now - CONFIRM_RESEND_AFTER
    return AddResult(row, "already-pending", needs_confirmation=resend)


def _blocked_words(state: str) -> str:
    return "bounced" if state == "bounced" else "complained (marked a mail as spam)"


def confirm_subscriber(session: Session, row: Subscriber, *, detail: str | None = None) -> bool:
    """pending -> confirmed. True when it changed."""
    if row.state != "pending":
        return False
    row.state, row.confirmed_at = "confirmed", utcnow()
    _event(session, row, "confirmed", detail or "confirmation link")
    return True


def unsubscribe(session: Session, row: Subscriber, *, detail: str | None = None) -> bool:
    """pending/confirmed -> unsubscribed, at once. True when it changed."""
    if row.state not in ("pending", "confirmed"):
        return False
    row.state, row.unsubscribed_at = "unsubscribed", utcnow()
    _event(session, row, "unsubscribed", detail)
    return True


def record_bounce(session: Session, email: str, kind: str, *, channel: str | None = None,
                  detail: str | None = None) -> list[Subscriber]:
    """A bounce or complaint for ``email``: ``hard`` and ``complaint`` stop all sending to
    the address (every channel); ``soft`` counts, and ``SOFT_BOUNCE_LIMIT`` of them make a
    hard one. Returns the rows changed (empty: the address is unknown)."""
    if kind not in BOUNCE_KINDS:
        raise SubscriberError(f"unknown bounce kind {kind!r}; use hard, soft or complaint")
    try:
        _, key = normalize_email(email)
    except SubscriberError:
        key = email.strip().lower()
    query = select(Subscriber).where(Subscriber.email_key == key)
    if kind == "soft" and channel:
        query = query.where(Subscriber.channel == channel)
    rows = list(session.scalars(query))
    now = utcnow()
    for row in rows:
        row.last_bounce_at, row.last_bounce = now, (detail or kind)[:2000]
        if kind == "soft":
            row.soft_bounces += 1
            _event(session, row, "bounce-soft", detail)
            if row.soft_bounces >= SOFT_BOUNCE_LIMIT and row.state not in BLOCKED:
                row.state = "bounced"
                _event(session, row, "bounced", f"{row.soft_bounces} soft bounces")
        elif kind == "hard":
            _event(session, row, "bounce-hard", detail)
            if row.state != "complained":
                row.state = "bounced"
        else:
            _event(session, row, "complaint", detail)
            row.state = "complained"
    return rows


def remove_subscriber(session: Session, email: str, *, channel: str | None = None) -> int:
    """Erase an address (every channel, or one): its rows, history and send rows. Returns
    the number of subscriber rows erased."""
    _, key = normalize_email(email) if "@" in email else (email, email.strip().lower())
    query = select(Subscriber.id).where(Subscriber.email_key == key)
    if channel:
        query = query.where(Subscriber.channel == channel)
    ids = list(session.scalars(query))
    if not ids:
        return 0
    session.execute(delete(EmailSend).where(EmailSend.subscriber_id.in_(ids)))
    session.execute(delete(SubscriberEvent).where(SubscriberEvent.subscriber_id.in_(ids)))
    session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
    return len(ids)


# --------------------------------------------------------------------------- reading


def find(session: Session, email: str, channel: str | None = None) -> list[Subscriber]:
    _, key = normalize_email(email)
    query = select(Subscriber).where(Subscriber.email_key == key).order_by(Subscriber.channel)
    if channel:
        query = query.where(Subscriber.channel == channel)
    return list(session.scalars(query))


def iter_subscribers(store: Store, *, channel: str | None = None, state: str | None = None,
                     page: int = 1000) -> Iterator[Subscriber]:
    """Every matching subscriber in id order, a page at a time (keyset pagination)."""
    after = 0
    while True:
        with store.session() as session:
            query = select(Subscriber).where(Subscriber.id > after).order_by(
                Subscriber.id).limit(page)
            if channel:
                query = query.where(Subscriber.channel == channel)
            if state:
                query = query.where(Subscriber.state == state)
            rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def counts(session: Session, channel: str | None = None) -> dict[str, dict[str, int]]:
    """``{channel: {state: n}}``."""
    query = select(Subscriber.channel, Subscriber.state, func.count()).group_by(
        Subscriber.channel, Subscriber.state)
    if channel:
        query = query.where(Subscriber.channel == channel)
    out: dict[str, dict[str, int]] = {}
    for name, state, n in session.execute(query):
        out.setdefault(name, {})[state] = n
    return out


EXPORT_FIELDS = ("email", "channel", "state", "source", "created_at", "confirmed_at",
                 "unsubscribed_at", "soft_bounces", "last_bounce_at")


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def export_row(row: Subscriber) -> dict[str, Any]:
    return {"email": row.email, "channel": row.channel, "state": row.state,
            "source": row.source, "created_at": _iso(row.created_at),
            "confirmed_at": _iso(row.confirmed_at), "unsubscribed_at": _iso(row.unsubscribed_at),
            "soft_bounces": row.soft_bounces, "last_bounce_at": _iso(row.last_bounce_at)}


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula is prefixed with ' (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(store: Store, out: io.TextIOBase | Any, *, channel: str | None = None,
               state: str | None = None) -> int:
    """Write subscribers as CSV (with a header), streaming. Returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in iter_subscribers(store, channel=channel, state=state):
        writer.writerow({k: csv_safe(v) for k, v in export_row(row).items()})
        n += 1
    return n


def export_person(session: Session, email: str) -> dict[str, Any]:
    """Everything stored about one address (a data subject's access request)."""
    address, key = normalize_email(email)
    rows = list(session.scalars(select(Subscriber).where(Subscriber.email_key == key)
                                .order_by(Subscriber.channel)))
    subscriptions = []
    for row in rows:
        events = session.scalars(select(SubscriberEvent).where(
            SubscriberEvent.subscriber_id == row.id).order_by(SubscriberEvent.id))
        sends = session.execute(
            select(FanoutRun.key, EmailSend.state, EmailSend.at, EmailSend.detail)
            .join(FanoutRun, FanoutRun.id == EmailSend.run_id)
            .where(EmailSend.subscriber_id == row.id).order_by(EmailSend.at))
        item = export_row(row)
        item["last_bounce"] = row.last_bounce
        item["history"] = [{"at": _iso(e.at), "event": e.kind, "detail": e.detail}
                           for e in events]
        item["mails"] = [{"mail": k, "state": s, "at": _iso(at), "detail": d}
                         for k, s, at, d in sends]
        subscriptions.append(item)
    return {"email": address, "subscriptions": subscriptions}


# --------------------------------------------------------------------------- import


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    #: (line number, problem) for every row that was not imported
    bad: list[tuple[int, str]] = field(default_factory=list)
    #: subscribers created pending, who need a confirmation mail
    pending_ids: list[int] = field(default_factory=list)


HEADER_NAMES = ("email", "e-mail", "mail", "email address", "email_address", "address",
                "alamat email", "surel")


def read_csv(text: str) -> Iterator[tuple[int, str | None, str]]:
    """``(line, address or None, problem)`` per data row of a CSV, with or without a header.

    With a header, the column named like ``email`` is read; without, the first column.
    Delimiters , ; and tab are recognised. Blank lines are skipped.
    """
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    physical = text.splitlines()
    column: int | None = None
    first = True
    for line, row in _rows(reader, physical, dialect):
        if line < 0:  # an unclosed quote swallowed the lines after it
            yield -line, None, ("an unclosed quote in this row; fix the quote (the lines after "
                                "it are read on their own)")
            continue
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if first:
            first = False
            lowered = [c.lower().lstrip("\ufeff") for c in cells]
            named = [i for i, c in enumerate(lowered) if c in HEADER_NAMES]
            if named:
                column = named[0]
                continue
            if "@" not in cells[0] and any("@" in c for c in cells):
                column = next(i for i, c in enumerate(cells) if "@" in c)
            elif "@" not in cells[0] and len(cells) >= 1 and not any("@" in c for c in cells):
                # a header we do not know by name: a first row without any address
                column = 0
                continue
            else:
                column = 0
        assert column is not None
        if column >= len(cells) or not cells[column]:
            yield line, None, "no address in this row"
            continue
        yield line, cells[column].lstrip("\ufeff"), ""


def _rows(reader: Any, physical: list[str], dialect: Any
          ) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` per CSV row. A row whose quote never closes (it spans lines) is given
    as ``(-line, [])``, and the lines it swallowed are read again one by one."""
    previous = 0
    for row in reader:
        end = reader.line_num
        start = previous + 1
        previous = end
        if end > start and any("\n" in cell or "\r" in cell for cell in row):
            yield -start, []
            for number in range(start + 1, end + 1):
                for cells in csv.reader([physical[number - 1]], dialect):
                    yield number, cells
            continue
        yield end, row


def import_rows(session_factory: Any, channel: str, rows: Iterable[tuple[int, str | None, str]],
                *, confirmed: bool = False, chunk: int = 500) -> ImportReport:
    """Import addresses in chunks; bad rows are reported with their line and skipped.

    Existing subscribers (in any state) are left as they are, so importing the same file
    twice changes nothing, and an old list cannot re-subscribe anyone who left or bounced.
    """
    report = ImportReport()
    batch: dict[str, tuple[int, str]] = {}

    def flush() -> None:
        if not batch:
            return
        with session_factory() as session:
            report_chunk(session, channel, batch, confirmed, report)
        batch.clear()

    for line, raw, problem in rows:
        if raw is None:
            report.bad.append((line, problem))
            continue
        try:
            address, key = normalize_email(raw)
        except SubscriberError as exc:
            report.bad.append((line, str(exc)))
            continue
        if key in batch:
            report.existing += 1
            continue
        batch[key] = (line, address)
        if len(batch) >= chunk:
            flush()
    flush()
    return report


def report_chunk(session: Session, channel: str, batch: dict[str, tuple[int, str]],
                 confirmed: bool, report: ImportReport) -> None:
    keys = list(batch)
    present = set(session.scalars(select(Subscriber.email_key).where(
        Subscriber.channel == channel, Subscriber.email_key.in_(keys))))
    blocked = set(session.scalars(select(Subscriber.email_key).where(
        Subscriber.email_key.in_(keys), Subscriber.state.in_(BLOCKED))))
    now = utcnow()
    values = []
    for key in keys:
        if key in present:
            report.existing += 1
            continue
        if key in blocked:
            line, address = batch[key]
            report.bad.append((line, f"{address} bounced or complained on another channel; "
                                     "not imported"))
            continue
        values.append({"channel": channel, "email": batch[key][1], "email_key": key,
                       "state": "confirmed" if confirmed else "pending",
                       "token_key": new_token_key(), "source": "import", "created_at": now,
                       "updated_at": now, "confirmed_at": now if confirmed else None,
                       "soft_bounces": 0})
    if not values:
        return
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    stmt = upsert(Subscriber).on_conflict_do_nothing().returning(Subscriber.id)
    ids = list(session.scalars(stmt.values(values)))
    report.added += len(ids)
    report.existing += len(values) - len(ids)
    kind = "confirmed" if confirmed else "subscribed"
    session.execute(insert(SubscriberEvent), [
        {"subscriber_id": sid, "kind": kind, "detail": "imported", "at": now} for sid in ids])
    if not confirmed:
        report.pending_ids.extend(ids)


def import_csv(store: Store, path: Path, channel: str, *, confirmed: bool = False
               ) -> ImportReport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise SubscriberError(f"cannot read {path}: {exc.strerror or exc}") from None
    return import_rows(store.session, channel, read_csv(text), confirmed=confirmed)


# --------------------------------------------------------------------------- confirmation


def mark_confirmation_sent(store: Store, ids: list[int]) -> None:
    if not ids:
        return
    now = utcnow()
    with store.session() as session:
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            session.execute(update(Subscriber).where(Subscriber.id.in_(part))
                            .values(confirmation_sent_at=now))
            session.execute(insert(SubscriberEvent), [
                {"subscriber_id": sid, "kind": "confirmation-sent", "detail": None, "at": now}
                for sid in part])


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm/{token}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


def render_confirmation(config: Config, channel: EmailConfig, templates: Any) -> dict[str, Any]:
    """The confirmation mail of a channel, with ``%%CONFIRM_URL%%`` and ``%%RECIPIENT%%``
    left for the subscriber (``templates/web/confirm_email.{txt,html}``)."""
    from distributor.render.email import RECIPIENT, inline_css
    from distributor.render.web_words import web_words

    words = web_words(config.site.language)
    data = {"site": config.site, "channel": channel, "words": words,
            "confirm_url": CONFIRM_URL, "recipient": RECIPIENT,
            "language": config.site.language,
            "days": int(channel.confirm_ttl.total_seconds() // 86400) or 1}
    subject = words.confirm_subject.format(site=config.site.name)
    html = inline_css(templates.render("web/confirm_email.html", subject=subject, **data))
    text = templates.render("web/confirm_email.txt", subject=subject, **data).strip() + "\n"
    headers = {"Auto-Submitted": "auto-generated"}
    return {"subject": subject, "text": text, "html": html, "headers": headers}


CONFIRM_URL = "%%CONFIRM_URL%%"


def personalize_confirmation(message: dict[str, Any], *, recipient: str, url: str
                             ) -> dict[str, Any]:
    import html as html_lib

    from distributor.render.email import personalize

    out = personalize(message, recipient=recipient)
    if isinstance(out.get("text"), str):
        out["text"] = out["text"].replace(CONFIRM_URL, url)
    if isinstance(out.get("html"), str):
        out["html"] = out["html"].replace(CONFIRM_URL, html_lib.escape(url, quote=True))
    return out
