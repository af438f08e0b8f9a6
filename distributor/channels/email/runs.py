"""Everything the email package reads and writes in the core's tables, gathered here.

A fan-out run (``FanoutRun``) is one mail to every confirmed subscriber of a channel: a digest
(key ``digest:<id>``) or a single-article mail (``delivery:<id>:<generation>``). It has a lease
(owner + expiry, heartbeated) that keeps a second process off it, and one send row
(``EmailSend``) per (run, subscriber), written only after the SMTP server answered for good:
the manager (:mod:`.fanout`) owns pacing, concurrency and progress; this module only records.

This is known debt of the plugin contract (docs/architecture.md): a channel should keep its
state through the plugin API's key-value store, not in the ledger's tables; until then, no other
module of the package touches the store, the runtime or the ledger.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from distributor.channels.email.mime import message_hash
from distributor.ledger.subscribers.lifecycle import mark_confirmation_sent, record_bounce
from distributor.ledger.subscribers.tokens import MissingSecret as MissingSecret
from distributor.ledger.subscribers.tokens import confirm_token, confirm_url, unsubscribe_token
from distributor.ledger.subscribers.tokens import secret_of as secret_of
from distributor.plugin import utcnow
from distributor.runtime import owner_gone
from distributor.store.models import Delivery, DeliveryEvent, EmailSend, FanoutRun, Subscriber

if TYPE_CHECKING:
    from distributor.runtime import Runtime as Runtime
    from distributor.store import Store as Store

LEASE = timedelta(minutes=2)
#: send states of a run, counted on the run
SEND_STATES = ("sent", "bounced", "failed")


# --------------------------------------------------------------------------- runs


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
    """Take the run's lease: free, ours, expired, or held by a process that died on this
    machine (taken over at once). False when another live process holds it."""
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
    return {state: int(found.get(state, 0)) for state in SEND_STATES}


def audience(channel: str, run_id: int) -> Any:
    """Who a run still has to serve: the channel's confirmed subscribers without a send row."""
    return and_(Subscriber.channel == channel, Subscriber.state == "confirmed",
                ~exists().where(EmailSend.run_id == run_id,
                                EmailSend.subscriber_id == Subscriber.id))


class RunRecord:
    """One run's reads and writes for the fan-out (called in threads): what it sends, whom it
    still has to serve, and the send rows of the answers it got."""

    def __init__(self, store: Store, channel: str, run_id: int, *, secret: str, owner: str,
                 id_range: tuple[int, int] | None = None):
        self.store = store
        self.channel = channel
        self.run_id = run_id
        self.secret = secret
        self.owner = owner
        self.id_range = id_range
        dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        self._insert_sends = dialect_insert(EmailSend).on_conflict_do_nothing()

    def load(self) -> tuple[dict[str, Any], str, int, int]:
        """``(message, nonce, served before, still to serve)``."""
        with self.store.session() as session:
            run = session.get_one(FanoutRun, self.run_id)
            done = session.scalar(select(func.count()).select_from(EmailSend)
                                  .where(EmailSend.run_id == self.run_id)) or 0
            todo = session.scalar(select(func.count()).select_from(Subscriber)
                                  .where(audience(self.channel, self.run_id),
                                         *self._in_range())) or 0
            return dict(run.message), run.nonce, int(done), int(todo)

    def _in_range(self) -> list[Any]:
        if self.id_range is None:
            return []
        first, last = self.id_range
        return [Subscriber.id >= first, Subscriber.id <= last]

    def fetch(self, after: int, page: int) -> list[tuple[int, str, str]]:
        """``(subscriber id, address, unsubscribe token)`` of the next ``page`` subscribers
        after ``after`` (id order) that the run has not served."""
        with self.store.session() as session:
            rows = session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.token_key)
                .where(Subscriber.id > after, audience(self.channel, self.run_id),
                       *self._in_range())
                .order_by(Subscriber.id).limit(page)).all()
        return [(r[0], r[1], unsubscribe_token(self.secret, self.channel, r[0], r[2]))
                for r in rows]

    def write(self, sends: list[tuple[int, str, str | None]],
              bounces: list[tuple[str, str, str | None]], heartbeat: bool) -> None:
        """Insert send rows ``(subscriber id, state, detail)`` (one cached statement, many
        rows, on a plain connection: this runs up to 20 times a second); ``bounces``
        ``(address, hard|soft, detail)`` also go on the subscriber; the run's counters and
        lease follow with the heartbeat."""
        now = utcnow()
        rows = [{"run_id": self.run_id, "subscriber_id": sid, "state": state, "at": now,
                 "detail": detail} for sid, state, detail in sends]
        if rows and not bounces and not heartbeat:
            with self.store.engine.begin() as connection:
                connection.execute(self._insert_sends, rows)
            return
        with self.store.session() as session:
            if rows:
                session.execute(self._insert_sends, rows)
            for address, kind, detail in bounces:
                record_bounce(session, address, kind, channel=self.channel, detail=detail)
            if heartbeat:
                values: dict[str, Any] = dict(_counts(session, self.run_id))
                values.update(updated_at=now, lease_until=now + LEASE)
                session.execute(update(FanoutRun).where(
                    FanoutRun.id == self.run_id,
                    or_(FanoutRun.lease_owner == self.owner, FanoutRun.lease_owner.is_(None)))
                    .values(**values))

    def claim(self) -> bool:
        return claim_run(self.store, self.run_id, self.owner)

    def release(self, state: str | None, detail: str | None) -> None:
        release_run(self.store, self.run_id, self.owner, state=state, detail=detail)

    def touch(self) -> None:
        touch_run(self.store, self.run_id, self.owner)


# --------------------------------------------------------------------------- instant mails


def run_key(rt: Runtime, channel: str, message: dict[str, Any]
            ) -> tuple[int | None, str | None]:
    """For a single-article mail: ``(delivery id, run key)``; the key is None when the
    delivery's last run is done and no one asked (``--force``) to send it again since."""
    secret_of(rt.config)
    with rt.store.session() as session:
        delivery_id = session.scalar(select(Delivery.id).where(
            Delivery.channel == channel, Delivery.state == "sending",
            Delivery.lease_owner == rt.owner).order_by(Delivery.id.desc()).limit(1))
        if delivery_id is None:  # not from the dispatcher: one run per distinct mail
            return None, f"message:{message_hash(message)}"
        runs = list(session.scalars(select(FanoutRun).where(
            FanoutRun.channel == channel, FanoutRun.delivery_id == delivery_id)
            .order_by(FanoutRun.id)))
        if not runs:
            return delivery_id, f"delivery:{delivery_id}:1"
        last = runs[-1]
        if last.state != "done":
            return delivery_id, last.key
        forced = session.scalar(select(DeliveryEvent.id).where(
            DeliveryEvent.delivery_id == delivery_id, DeliveryEvent.state == "pending",
            DeliveryEvent.detail.like("%(forced)%"),
            DeliveryEvent.at > (last.finished_at or last.updated_at)).limit(1))
        if forced is None:
            return delivery_id, None
        return delivery_id, f"delivery:{delivery_id}:{len(runs) + 1}"


def remote_id_of(rt: Runtime, channel: str, delivery_id: int) -> str:
    """The remote id of a delivery's last run: ``fanout-run-<id>``."""
    with rt.store.session() as session:
        run_id = session.scalar(select(FanoutRun.id).where(
            FanoutRun.channel == channel, FanoutRun.delivery_id == delivery_id)
            .order_by(FanoutRun.id.desc()).limit(1))
    return f"fanout-run-{run_id}"


def finished_run_of(rt: Runtime, channel: str, message: dict[str, Any]) -> str | None:
    """The remote id of the last run of this very mail when it reached every subscriber."""
    digest = message_hash(message)
    with rt.store.session() as session:
        run = session.scalar(select(FanoutRun).where(
            FanoutRun.channel == channel, FanoutRun.message_hash == digest)
            .order_by(FanoutRun.id.desc()).limit(1))
        return f"fanout-run-{run.id}" if run is not None and run.state == "done" else None


def extend_delivery_lease(rt: Runtime, delivery_id: int) -> None:
    """Keep the dispatcher's lease on an instant delivery alive while its fan-out runs."""
    with rt.store.session() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id,
                                               Delivery.lease_owner == rt.owner)
                        .values(lease_until=datetime.now(UTC) + timedelta(minutes=5)))


# --------------------------------------------------------------------------- confirmations


def pending_confirmations(rt: Runtime, subscriber_ids: list[int], secret: str
                          ) -> list[tuple[int, str, str]]:
    """``(subscriber id, address, confirmation link)`` of those still pending."""
    base = rt.config.web.base_url
    out: list[tuple[int, str, str]] = []
    with rt.store.session() as session:
        for start in range(0, len(subscriber_ids), 500):
            part = subscriber_ids[start:start + 500]
            rows = session.execute(select(Subscriber.id, Subscriber.email, Subscriber.token_key)
                                   .where(Subscriber.id.in_(part),
                                          Subscriber.state == "pending")).all()
            found = {sid: (email, key) for sid, email, key in rows}
            out.extend((sid, found[sid][0], confirm_url(base, confirm_token(secret, sid,
                                                                            found[sid][1])))
                       for sid in part if sid in found)
    return out


def confirmations_sent(rt: Runtime, subscriber_ids: list[int]) -> None:
    mark_confirmation_sent(rt.store, subscriber_ids)
