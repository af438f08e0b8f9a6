"""Subscriber lists in and out: CSV import (any delimiter, with or without a header, bad rows
reported by line, importing twice changes nothing), CSV export (safe from formula injection)
and everything stored about one address (a data subject's access request)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.ledger.subscribers.addresses import BLOCKED, SubscriberError, normalize_email
from distributor.ledger.subscribers.lifecycle import iter_subscribers
from distributor.ledger.subscribers.tokens import new_token_key
from distributor.store.models import EmailSend, FanoutRun, Subscriber, SubscriberEvent

if TYPE_CHECKING:
    from distributor.store import Store


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
    from sqlalchemy.dialects import postgresql, sqlite

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
    if "\x00" in text or sum(c < " " and c not in "\t\r\n" for c in text[:4096]) > 8:
        raise SubscriberError(f"{path} is not a CSV file (it holds binary data); save the list "
                              "as CSV (UTF-8) and import that")
    report = import_rows(store.session, channel, read_csv(text), confirmed=confirmed)
    if not (report.added or report.existing or report.bad):
        raise SubscriberError(f"{path}: no address in it; write one address a line, or a CSV "
                              "with a column named email")
    return report
