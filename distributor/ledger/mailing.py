"""The audience of a list channel, as the core keeps it: runs, send rows, subscribers.

:class:`Mailing` implements the plugin API's :class:`~distributor.plugin.Audience` for one
channel and one process (the owner of the leases it takes). A run (``FanoutRun``) is one
message to every confirmed subscriber of the channel, keyed by the channel (``digest:<id>``,
``delivery:<id>:<generation>``); it keeps the message it was opened with, so a resumed run
sends exactly the same, and a lease (owner + expiry, heartbeated) keeps a second process off
it. A send row (``EmailSend``) per (run, subscriber) is written only after the server's final
answer, so a resumed run serves only those without one.

:class:`RunBatch` is the same audience narrowed to a range of subscriber ids, for the batches
of a distributed digest: the lease of the run is held for all of them by the engine
(:mod:`distributor.engine.distributed.fanout`), so a batch neither takes nor gives it back.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from distributor.clock import utcnow
from distributor.ledger.subscribers.lifecycle import mark_confirmation_sent, record_bounce
from distributor.ledger.subscribers.tokens import (
    MissingSecret,
    confirm_token,
    confirm_url,
    secret_of,
    unsubscribe_token,
)
from distributor.plugin import (
    Confirmation,
    ListRun,
    Message,
    PermanentError,
    Recipient,
    RecipientResult,
    is_list_channel,
)
from distributor.runtime import owner_gone
from distributor.store.models import Delivery, DeliveryEvent, EmailSend, FanoutRun, Subscriber

if TYPE_CHECKING:
    from distributor.config import Config
    from distributor.runtime import Runtime
    from distributor.store import Store

LEASE = timedelta(minutes=2)
#: how long a heartbeat keeps the dispatcher's lease on the delivery a run serves
DELIVERY_LEASE = timedelta(minutes=5)
#: most send rows in one INSERT (the fan-out hands over at most its batch, 500, at a time)
ROWS_PER_WRITE = 1000
#: most subscribers read in one page of :meth:`Mailing.recipients`
PAGE_LIMIT = 5000
#: send states of a run, counted on the run
SEND_STATES = ("sent", "bounced", "failed")


def message_hash(message: Message) -> str:
    return hashlib.sha256(json.dumps(message, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def unserved(channel: str, run_id: int) -> Any:
    """Who a run still has to serve: the channel's confirmed subscribers without a send row."""
    return and_(Subscriber.channel == channel, Subscriber.state == "confirmed",
                ~exists().where(EmailSend.run_id == run_id,
                                EmailSend.subscriber_id == Subscriber.id))


def _counts(session: Any, run_id: int) -> dict[str, int]:
    """The run's counters, from its send rows."""
    found = dict(session.execute(select(EmailSend.state, func.count()).where(
        EmailSend.run_id == run_id).group_by(EmailSend.state)).all())
    return {state: int(found.get(state, 0)) for state in SEND_STATES}


def _run(row: FanoutRun) -> ListRun:
    return ListRun(id=row.id, key=row.key, message=dict(row.message), nonce=row.nonce,
                   state=row.state, sent=row.sent, bounced=row.bounced, failed=row.failed)


# --------------------------------------------------------------------------- runs


def open_run(store: Store, channel: str, key: str, message: Message, *,
             digest_id: int | None = None, delivery_id: int | None = None) -> ListRun:
    """The run with this key, created with ``message`` when new (an existing run keeps the
    message it was started with)."""
    with store.session() as session:
        row = session.scalar(select(FanoutRun).where(FanoutRun.channel == channel,
                                                     FanoutRun.key == key))
        if row is not None:
            return _run(row)
        insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        now = utcnow()
        session.execute(insert(FanoutRun).values(
            channel=channel, key=key, digest_id=digest_id, delivery_id=delivery_id,
            message_hash=message_hash(message), message=message,
            nonce=secrets.token_hex(6), state="sending", sent=0, bounced=0, failed=0,
            starts=0, created_at=now, updated_at=now).on_conflict_do_nothing())
        return _run(session.scalars(select(FanoutRun).where(FanoutRun.channel == channel,
                                                            FanoutRun.key == key)).one())


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
    """Refresh a run's counters and extend its lease while ``owner`` holds it. False when
    someone else holds it now."""
    now = utcnow()
    with store.session() as session:
        values: dict[str, Any] = dict(_counts(session, run_id))
        values.update(updated_at=now, lease_until=now + lease)
        result = session.execute(update(FanoutRun).where(
            FanoutRun.id == run_id, FanoutRun.lease_owner == owner).values(**values))
        return getattr(result, "rowcount", 0) == 1


# --------------------------------------------------------------------------- the audience


class Mailing:
    """The :class:`~distributor.plugin.Audience` of one list channel in one process."""

    def __init__(self, store: Store, config: Config, channel: str, *, owner: str):
        self.store = store
        self.config = config
        self.channel = channel
        self.owner = owner
        dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        self._insert_sends = dialect_insert(EmailSend).on_conflict_do_nothing()

    def _secret(self) -> str:
        try:
            return secret_of(self.config)
        except MissingSecret as exc:
            raise PermanentError(str(exc), pause_channel=True) from None

    def _in_range(self) -> list[Any]:
        return []

    # -- runs -------------------------------------------------------------------------------
    def open_run(self, key: str, message: Message, *, digest_id: int | None = None,
                 delivery_id: int | None = None) -> ListRun:
        self._secret()  # no run without the key that signs its unsubscribe links
        return open_run(self.store, self.channel, key, message, digest_id=digest_id,
                        delivery_id=delivery_id)

    def delivery_run_key(self, delivery_id: int) -> str | None:
        with self.store.session() as session:
            runs = list(session.scalars(select(FanoutRun).where(
                FanoutRun.channel == self.channel, FanoutRun.delivery_id == delivery_id)
                .order_by(FanoutRun.id)))
            if not runs:
                return f"delivery:{delivery_id}:1"
            last = runs[-1]
            if last.state != "done":
                return last.key
            forced = session.scalar(select(DeliveryEvent.id).where(
                DeliveryEvent.delivery_id == delivery_id, DeliveryEvent.state == "pending",
                DeliveryEvent.detail.like("%(forced)%"),
                DeliveryEvent.at > (last.finished_at or last.updated_at)).limit(1))
            if forced is None:
                return None
            return f"delivery:{delivery_id}:{len(runs) + 1}"

    def last_run(self, delivery_id: int) -> ListRun | None:
        with self.store.session() as session:
            row = session.scalar(select(FanoutRun).where(
                FanoutRun.channel == self.channel, FanoutRun.delivery_id == delivery_id)
                .order_by(FanoutRun.id.desc()).limit(1))
            return _run(row) if row is not None else None

    def finished_run(self, message: Message) -> ListRun | None:
        with self.store.session() as session:
            row = session.scalar(select(FanoutRun).where(
                FanoutRun.channel == self.channel,
                FanoutRun.message_hash == message_hash(message))
                .order_by(FanoutRun.id.desc()).limit(1))
            return _run(row) if row is not None and row.state == "done" else None

    def claim(self, run_id: int) -> bool:
        return claim_run(self.store, run_id, self.owner)

    def touch(self, run_id: int) -> bool:
        return touch_run(self.store, run_id, self.owner)

    def release(self, run_id: int, *, state: str | None = None,
                detail: str | None = None) -> None:
        release_run(self.store, run_id, self.owner, state=state, detail=detail)

    # -- recipients and answers -------------------------------------------------------------
    def counts(self, run_id: int) -> tuple[int, int]:
        with self.store.session() as session:
            done = session.scalar(select(func.count()).select_from(EmailSend)
                                  .where(EmailSend.run_id == run_id)) or 0
            todo = session.scalar(select(func.count()).select_from(Subscriber)
                                  .where(unserved(self.channel, run_id),
                                         *self._in_range())) or 0
        return int(done), int(todo)

    def recipients(self, run_id: int, *, after: int = 0, limit: int = 1000
                   ) -> list[Recipient]:
        """The next page of subscribers the run still has to serve, in id order (keyset
        pagination: memory stays flat whatever the list's size); at most :data:`PAGE_LIMIT`."""
        limit = max(1, min(limit, PAGE_LIMIT))
        secret = self._secret()
        with self.store.session() as session:
            rows = session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.token_key)
                .where(Subscriber.id > after, unserved(self.channel, run_id),
                       *self._in_range())
                .order_by(Subscriber.id).limit(limit)).all()
        return [Recipient(r[0], r[1], unsubscribe_token(secret, self.channel, r[0], r[2]))
                for r in rows]

    def record(self, run_id: int, results: Sequence[RecipientResult], *,
               heartbeat: bool = False) -> None:
        """Insert the send rows (one cached statement, many rows, on a plain connection: this
        runs up to 20 times a second), at most :data:`ROWS_PER_WRITE` in a statement whatever
        the caller hands over; bounces also go on the subscriber; with the heartbeat, the run's
        counters and lease, and the lease of the delivery the run serves."""
        now = utcnow()
        bounces = [r for r in results if r.state == "bounced" and r.bounce]
        chunks = [[{"run_id": run_id, "subscriber_id": r.recipient.id, "state": r.state,
                    "at": now, "detail": r.detail}
                   for r in results[start:start + ROWS_PER_WRITE]]
                  for start in range(0, len(results), ROWS_PER_WRITE)]
        if chunks and not bounces and not heartbeat:
            with self.store.engine.begin() as connection:
                for rows in chunks:
                    connection.execute(self._insert_sends, rows)
            return
        with self.store.session() as session:
            for rows in chunks:
                session.execute(self._insert_sends, rows)
            for r in bounces:
                record_bounce(session, r.recipient.address, str(r.bounce),
                              channel=self.channel, detail=r.detail)
            if heartbeat:
                self._heartbeat(session, run_id, now)

    def _heartbeat(self, session: Any, run_id: int, now: Any) -> None:
        values: dict[str, Any] = dict(_counts(session, run_id))
        values.update(updated_at=now, lease_until=now + LEASE)
        session.execute(update(FanoutRun).where(
            FanoutRun.id == run_id,
            or_(FanoutRun.lease_owner == self.owner, FanoutRun.lease_owner.is_(None)))
            .values(**values))
        delivery_id = session.scalar(select(FanoutRun.delivery_id).where(FanoutRun.id == run_id))
        if delivery_id is not None:  # keep the dispatcher's lease on it while the run goes on
            session.execute(update(Delivery).where(Delivery.id == delivery_id,
                                                   Delivery.lease_owner == self.owner)
                            .values(lease_until=now + DELIVERY_LEASE))

    def bounce(self, address: str, kind: Literal["hard", "soft"], detail: str | None = None
               ) -> None:
        with self.store.session() as session:
            record_bounce(session, address, kind, channel=self.channel, detail=detail)

    # -- confirmations ----------------------------------------------------------------------
    def pending_confirmations(self, subscriber_ids: Sequence[int]) -> list[Confirmation]:
        secret, base = self._secret(), self.config.web.base_url
        ids = list(subscriber_ids)
        out: list[Confirmation] = []
        with self.store.session() as session:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                rows = session.execute(
                    select(Subscriber.id, Subscriber.email, Subscriber.token_key)
                    .where(Subscriber.id.in_(part), Subscriber.state == "pending")).all()
                found = {sid: (email, key) for sid, email, key in rows}
                out.extend(Confirmation(sid, found[sid][0],
                                        confirm_url(base, confirm_token(secret, sid,
                                                                        found[sid][1])))
                           for sid in part if sid in found)
        return out

    def confirmations_sent(self, subscriber_ids: Sequence[int]) -> None:
        mark_confirmation_sent(self.store, list(subscriber_ids))


class RunBatch(Mailing):
    """A batch of a distributed digest: the subscribers ``first..last`` of one run, whose
    lease the engine holds for every batch (``owner``): claiming is a no-op, and releasing
    only refreshes the run's counters (the run stays with its batches)."""

    def __init__(self, store: Store, config: Config, channel: str, *, owner: str,
                 id_range: tuple[int, int]):
        super().__init__(store, config, channel, owner=owner)
        self.id_range = id_range

    def _in_range(self) -> list[Any]:
        first, last = self.id_range
        return [Subscriber.id >= first, Subscriber.id <= last]

    def claim(self, run_id: int) -> bool:
        return True

    def release(self, run_id: int, *, state: str | None = None,
                detail: str | None = None) -> None:
        self.touch(run_id)


# --------------------------------------------------------------------------- the core's calls


def confirmed_subscribers(store: Store, channel: str) -> int:
    """How many confirmed subscribers the list channel ``channel`` has (who a mail reaches)."""
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber).where(
            Subscriber.channel == channel, Subscriber.state == "confirmed")) or 0)


def audience_of(rt: Runtime, channel: str) -> Mailing | None:
    """The audience handed to a list channel (``ctx.audience``); None for other channels."""
    adapter = rt.adapters.get(channel)
    if adapter is None or not is_list_channel(adapter):
        return None
    return Mailing(rt.store, rt.config, channel, owner=rt.owner)


async def send_confirmations(rt: Runtime, channel: str, subscriber_ids: list[int]
                             ) -> tuple[int, list[str]]:
    """Ask a list channel to send the double opt-in message to these pending subscribers;
    ``(sent, problems)``."""
    adapter = rt.adapter(channel)
    audience = audience_of(rt, channel)
    if audience is None:
        return 0, [f"channel {channel} has no subscribers (it is not a list channel)"]
    if not subscriber_ids:
        return 0, []
    secret_of(rt.config)  # a missing key: MissingSecret (one clear line), before any mail
    return await adapter.send_confirmations(  # type: ignore[attr-defined]
        subscriber_ids, audience, rt.templates)
