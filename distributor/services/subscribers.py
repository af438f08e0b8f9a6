"""Subscribing, for every interface: an address added (double opt-in) and its confirmation
mail sent, a list imported and its mails sent.

A confirmation mail is claimed before it is sent (``confirmation_sent_at``: a second request
within ``CONFIRM_RESEND_AFTER`` sends none). A mail that did not go out (the mail server down,
the address refused) gives its claim back, so the next request (the same command again, the
form sent again) sends it at once instead of ten minutes later: :func:`send_confirmation_mails`
does both, for the command line and the subscribe page alike. An import sends to the new
addresses and to those of the file already there whose mail never went out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select, update

from distributor.clock import utcnow
from distributor.ledger.mailing import send_confirmations
from distributor.ledger.subscribers import (
    CONFIRM_RESEND_AFTER,
    ImportReport,
    MissingSecret,
    SubscriberError,
    add_subscriber,
    import_rows,
    normalize_email,
    read_csv,
)
from distributor.runtime import Runtime
from distributor.store import Store
from distributor.store.models import Subscriber, SubscriberEvent

CHUNK = 500


@dataclass(frozen=True)
class ConfirmationMails:
    """How sending confirmation mails went."""

    sent: int = 0
    #: one line per mail that did not go out (the address and the server's reason)
    problems: list[str] = field(default_factory=list)
    #: the subscribers whose mail did not go out: their claim is given back, so the next
    #: request sends it at once
    unsent: list[int] = field(default_factory=list)


async def send_confirmation_mails(rt: Runtime, channel: str, subscriber_ids: list[int]
                                  ) -> ConfirmationMails:
    """Send the claimed confirmation mails of these pending subscribers; every one that did
    not go out is released (its claim given back). Never raises for the mail server or the
    network (they are ``problems``); a missing ``web.secret_key`` raises MissingSecret."""
    ids = list(dict.fromkeys(subscriber_ids))
    if not ids:
        return ConfirmationMails()
    started = utcnow()
    try:
        sent, problems = await send_confirmations(rt, channel, ids)
    except MissingSecret:
        await asyncio.to_thread(release_confirmations, rt.store, ids)
        raise
    except Exception as exc:  # the mail server, the network: a problem, the claims given back
        sent, problems = 0, [str(exc) or repr(exc)]
    unsent = [] if sent >= len(ids) else await asyncio.to_thread(
        _not_sent_since, rt.store, ids, started)
    if unsent:
        await asyncio.to_thread(release_confirmations, rt.store, unsent)
        if not problems:
            problems = [f"{len(unsent)} confirmation mail(s) did not go out"]
    return ConfirmationMails(sent, list(problems), unsent)


def _not_sent_since(store: Store, ids: list[int], since: datetime) -> list[int]:
    """Which of these pending subscribers got no confirmation mail since ``since``."""
    out: list[int] = []
    with store.session() as session:
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            sent = exists().where(SubscriberEvent.subscriber_id == Subscriber.id,
                                  SubscriberEvent.kind == "confirmation-sent",
                                  SubscriberEvent.at >= since)
            out.extend(session.scalars(select(Subscriber.id).where(
                Subscriber.id.in_(part), Subscriber.state == "pending", ~sent)))
    return sorted(out)


def release_confirmations(store: Store, ids: list[int]) -> None:
    """These pending subscribers' confirmation mails did not go out: the next request may
    send them at once."""
    with store.session() as session:
        for start in range(0, len(ids), CHUNK):
            session.execute(update(Subscriber).where(
                Subscriber.id.in_(ids[start:start + CHUNK]), Subscriber.state == "pending")
                .values(confirmation_sent_at=None)
                .execution_options(synchronize_session=False))


# --------------------------------------------------------------------------- one address


@dataclass(frozen=True)
class Subscribed:
    """An address added to a list: what happened (``created``, ``confirmed``,
    ``resubscribed``, ``already-confirmed``, ``already-pending``), and its confirmation mail."""

    subscriber_id: int
    address: str
    what: str
    #: the confirmation mail sent now, if one was due
    mails: ConfirmationMails | None = None
    #: a pending address whose mail went out recently: when another may be sent
    mail_again_after: datetime | None = None


async def subscribe(rt: Runtime, channel: str, email: str, *, confirmed: bool = False,
                    source: str = "cli") -> Subscribed:
    """Add ``email`` to the list ``channel`` (confirmed at once only when ``confirmed``) and
    send its confirmation mail when one is due; raises SubscriberError for an address that is
    not valid, bounced or complained."""

    def add() -> tuple[int, str, str, bool, datetime | None]:
        with rt.store.session() as session:
            result = add_subscriber(session, channel, email, confirmed=confirmed, source=source)
            row = result.subscriber
            return (row.id, row.email, result.what, result.needs_confirmation,
                    row.confirmation_sent_at)

    sid, address, what, needs, sent_at = await asyncio.to_thread(add)
    if needs:
        return Subscribed(sid, address, what,
                          mails=await send_confirmation_mails(rt, channel, [sid]))
    again = sent_at + CONFIRM_RESEND_AFTER if what == "already-pending" and sent_at else None
    return Subscribed(sid, address, what, mail_again_after=again)


# --------------------------------------------------------------------------- a list


@dataclass(frozen=True)
class Imported:
    """An import: the ledger's report, and the subscribers whose confirmation mail is due
    now (claimed): the new ones, and ``again``, those of the file already there whose mail
    never went out."""

    report: ImportReport
    to_confirm: list[int] = field(default_factory=list)
    again: list[int] = field(default_factory=list)


def import_subscribers(rt: Runtime, path: Path, channel: str, *, confirmed: bool = False
                       ) -> Imported:
    """Import a CSV file into the list ``channel``; without ``confirmed``, claim the
    confirmation mails due (send them with :func:`send_confirmation_mails`). Raises
    SubscriberError when the file cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise SubscriberError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = list(read_csv(text))
    report = import_rows(rt.store.session, channel, iter(rows), confirmed=confirmed)
    if confirmed:
        return Imported(report)
    keys = []
    for _line, raw, _problem in rows:
        if raw is None:
            continue
        try:
            keys.append(normalize_email(raw)[1])
        except SubscriberError:
            continue
    claimed = _claim_unsent(rt.store, channel, list(dict.fromkeys(keys)))
    new = set(report.pending_ids)
    return Imported(report, claimed, [sid for sid in claimed if sid not in new])


def _claim_unsent(store: Store, channel: str, keys: list[str]) -> list[int]:
    """Claim the confirmation mails of these addresses of the list that are pending and never
    got one (or whose mail failed): their ids, each claimed by this request alone."""
    now = utcnow()
    claimed: list[int] = []
    with store.session() as session:
        for start in range(0, len(keys), CHUNK):
            claimed.extend(session.scalars(
                update(Subscriber).where(
                    Subscriber.channel == channel,
                    Subscriber.email_key.in_(keys[start:start + CHUNK]),
                    Subscriber.state == "pending", Subscriber.confirmation_sent_at.is_(None))
                .values(confirmation_sent_at=now).returning(Subscriber.id)
                .execution_options(synchronize_session=False)))
    return sorted(claimed)
