"""The delivery ledger: which article goes to which channel, and its state machine.

States: ``pending -> sending -> sent``; ``sending -> retry -> sending`` (transient failure);
``-> failed`` (permanent, with the platform's reason); ``-> unknown`` (the request may have
reached the platform, but no answer came). The ledger, not memory, decides what still has to
be sent, so a restart continues exactly where the last process stopped.

The dispatcher owns pacing, retries and progress; adapters only push (listmonk's split).
Every posted part is recorded right after the platform accepted it, never before.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from distributor.channels.base import (
    AmbiguousError,
    PermanentError,
    TransientError,
)
from distributor.channels.outbox import OutboxAdapter
from distributor.ingest import from_row
from distributor.runtime import Runtime, owner_gone
from distributor.store.models import (
    ArticleRow,
    ChannelState,
    Delivery,
    DeliveryEvent,
    DeliveryPart,
)

log = logging.getLogger("distributor.delivery")

STATES = ("pending", "sending", "retry", "sent", "failed", "unknown", "held")
DUE_STATES = ("pending", "retry")
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds; doubles per attempt
BACKOFF_MAX = 6 * 3600.0
PACING_WAIT_MAX = 90.0  # a pass waits this long at most for a channel's pacing
DEFAULT_WINDOW = timedelta(days=2)
RECONCILE_WINDOW = timedelta(hours=24)  # Telegram keeps updates 24 hours; older is for editors


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait: exponential with full jitter, never less than retry_after."""
    base = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    delay = base / 2 + random.uniform(0, base / 2)
    return max(delay, retry_after or 0.0)


def record(session: Session, delivery: Delivery, state: str, detail: str | None = None) -> None:
    delivery.state = state
    session.add(DeliveryEvent(delivery_id=delivery.id, state=state, detail=detail))


def _insert_ignore(session: Session, rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Delivery).values(rows).on_conflict_do_nothing().returning(Delivery.id)
    return len(session.execute(stmt).all())


# --------------------------------------------------------------------------- planning


def plan_deliveries(rt: Runtime, *, now: datetime | None = None) -> int:
    """Create a pending delivery for each (recent article, instant channel) not in the ledger.

    Articles that were older than their source's ``max_age`` when first seen (the backlog)
    are never planned; neither are articles first seen longer than ``max_age`` ago, so a
    channel added later does not post old news.
    """
    now = now or utcnow()
    windows = {s.name: s.max_age for s in rt.config.sources}
    widest = max([*windows.values(), DEFAULT_WINDOW])
    channels = [c.name for c in rt.channels() if c.publish == "instant"]
    if not channels:
        return 0
    rows: list[dict[str, object]] = []
    with rt.store.session() as session:
        for name in channels:
            missing = session.execute(
                select(ArticleRow.id, ArticleRow.source, ArticleRow.first_seen).where(
                    ArticleRow.backlog.is_(False), ArticleRow.first_seen >= now - widest,
                    ~select(Delivery.id).where(Delivery.article_id == ArticleRow.id,
                                               Delivery.channel == name).exists())
            ).all()
            rows.extend(
                {"article_id": article_id, "channel": name, "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now, "updated_at": now}
                for article_id, source, first_seen in missing
                if first_seen >= now - windows.get(source, DEFAULT_WINDOW))
        created = _insert_ignore(session, rows)
    if created:
        log.info("planned %d new deliveries", created)
    return created


def _the_delivery(session: Session, article_id: int, channel: str, state: str,
                  requested_by: str | None, now: datetime) -> Delivery:
    """The (article, channel) row, created in ``state`` if there was none; locked."""
    _insert_ignore(session, [{"article_id": article_id, "channel": channel, "state": state,
                              "attempts": 0, "next_attempt_at": now, "created_at": now,
                              "updated_at": now, "requested_by": requested_by}])
    return session.scalars(
        select(Delivery).where(Delivery.article_id == article_id, Delivery.channel == channel)
        .with_for_update()
    ).one()


def request_delivery(
    session: Session, article_id: int, channel: str, *, force: bool = False,
    requested_by: str | None = None, now: datetime | None = None, at: datetime | None = None,
) -> tuple[Delivery, str]:
    """An editor's push: make the delivery due now (or at ``at``). Returns (delivery, what
    happened): ``queued``, ``scheduled``, ``already-sent``, ``in-flight`` or ``unknown``.

    A held delivery is released by a push.
    """
    now = now or utcnow()
    delivery = _the_delivery(session, article_id, channel, "pending", requested_by, now)
    if delivery.state == "sending" and delivery.lease_until and delivery.lease_until > now:
        return delivery, "in-flight"
    if delivery.state == "sent" and not force:
        return delivery, "already-sent"
    if delivery.state == "unknown" and not force:
        return delivery, "unknown"
    if delivery.state in ("sent", "unknown", "failed", "held") or force:
        if delivery.state == "sent" or force:
            delivery.parts.clear()
            delivery.messages = None
            delivery.remote_id = None
            delivery.sent_at = None
        delivery.attempts = 0
        record(session, delivery, "pending", f"pushed by {requested_by or 'an editor'}"
               + (" (forced)" if force else ""))
    delivery.next_attempt_at = at if at is not None and at > now else now
    delivery.requested_by = requested_by or delivery.requested_by
    if at is not None and at > now:
        delivery.last_error = None
        session.add(DeliveryEvent(delivery_id=delivery.id, state=delivery.state,
                                  detail=f"scheduled for {at.isoformat(timespec='minutes')}"))
        return delivery, "scheduled"
    return delivery, "queued"


def hold_delivery(session: Session, article_id: int, channel: str, *,
                  requested_by: str | None = None, now: datetime | None = None) -> str:
    """An editor's hold: the article is not published on this channel until released (a push
    or ``deliveries retry``). Raises ValueError when it is too late."""
    now = now or utcnow()
    delivery = _the_delivery(session, article_id, channel, "held", requested_by, now)
    if delivery.state == "held":
        if not session.scalar(select(DeliveryEvent.id).where(
                DeliveryEvent.delivery_id == delivery.id).limit(1)):
            record(session, delivery, "held", f"held by {requested_by or 'an editor'}")
        return f"article {article_id} is held on {channel}"
    if delivery.state in ("sent", "sending", "unknown"):
        raise ValueError(f"article {article_id} is already {delivery.state} on {channel}; "
                         "it cannot be held")
    record(session, delivery, "held", f"held by {requested_by or 'an editor'}")
    return f"article {article_id} is held on {channel}"


# --------------------------------------------------------------------------- dispatching


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)

    def merge(self, other: DispatchReport) -> None:
        for name in ("sent", "retry", "failed", "unknown"):
            getattr(self, name).extend(getattr(other, name))




class Dispatcher:
    """Sends due deliveries, one channel at a time in order, channels side by side."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.stopping = False
        #: one drain per channel at a time: order and pacing hold within this process
        self._draining: set[str] = set()

    def stop(self) -> None:
        """Finish the sends in flight, start no new ones."""
        self.stopping = True

    # -- recovery ---------------------------------------------------------------------------
    async def recover(self, *, now: datetime | None = None) -> DispatchReport:
        """Deliveries left ``sending`` by a process that died: reconcile, else ``unknown``."""
        now = now or utcnow()
        recovered = DispatchReport()
        with self.rt.store.session() as session:
            stale = session.scalars(select(Delivery).where(Delivery.state == "sending")).all()
            stale = [d for d in stale if d.lease_owner != self.rt.owner and (
                (d.lease_until is not None and d.lease_until < now) or owner_gone(d.lease_owner))]
            for delivery in stale:
                adapter = self.rt.adapters.get(delivery.channel)
                remote = None
                if adapter is not None and delivery.messages:
                    try:
                        remote = await adapter.reconcile(
                            delivery.messages, [p.remote_id for p in delivery.parts])
                    except Exception as exc:  # reconciliation is best effort
                        log.warning("could not reconcile delivery %s: %s", delivery.id, exc)
                if remote is not None:
                    self._reconciled(session, delivery, str(remote), now, recovered,
                                     "after a crash")
                else:
                    delivery.last_error = (
                        "the process sending this stopped before the platform answered; it may "
                        "or may not have been published. Check the channel, then run "
                        f"`distributor deliveries retry {delivery.id} --force` to send it or "
                        f"`distributor deliveries resolve {delivery.id} --sent` to close it")
                    record(session, delivery, "unknown", "interrupted while sending")
                    log.warning("delivery %s (%s) is unknown: interrupted while sending",
                                delivery.id, delivery.channel)
                    recovered.unknown.append(delivery.id)
                delivery.lease_owner = None
                delivery.lease_until = None
        return recovered

    def _reconciled(self, session: Session, delivery: Delivery, remote: str, now: datetime,
                    report: DispatchReport, when: str) -> None:
        """The part in flight was found on the platform: record it; a thread goes on."""
        done, total = len(delivery.parts), len(delivery.messages or [])
        if done < total:
            delivery.parts.append(DeliveryPart(idx=done, remote_id=remote))
        if len(delivery.parts) < total:
            delivery.next_attempt_at = now
            record(session, delivery, "retry",
                   f"part {done + 1} of {total} found on the platform {when}; resuming")
            report.retry.append(delivery.id)
        else:
            delivery.remote_id = delivery.parts[0].remote_id if delivery.parts else remote
            delivery.sent_at = now
            delivery.last_error = None
            record(session, delivery, "sent", f"reconciled {when}")
            report.sent.append(delivery.id)

    async def reconcile_unknown(self, *, now: datetime | None = None) -> DispatchReport:
        """Look again for the posts of recent ``unknown`` deliveries (the platform may show a
        post later than it answered); those found are marked sent, the rest stay for editors."""
        now = now or utcnow()
        report = DispatchReport()
        with self.rt.store.session() as session:
            unknown = session.scalars(select(Delivery).where(
                Delivery.state == "unknown", Delivery.updated_at >= now - RECONCILE_WINDOW)).all()
            for delivery in unknown:
                adapter = self.rt.adapters.get(delivery.channel)
                if adapter is None or not delivery.messages:
                    continue
                try:
                    remote = await adapter.reconcile(
                        delivery.messages, [p.remote_id for p in delivery.parts])
                except Exception as exc:  # best effort: it stays unknown
                    log.debug("could not reconcile delivery %s: %s", delivery.id, exc)
                    continue
                if remote is not None:
                    self._reconciled(session, delivery, str(remote), now, report, "later")
                    log.info("delivery %s (%s) was published after all (remote id %s)",
                             delivery.id, delivery.channel, remote)
        return report

    # -- the pass ---------------------------------------------------------------------------
    async def run_once(self, *, now: datetime | None = None,
                       only: Iterable[int] | None = None) -> DispatchReport:
        """Send everything that is due (or only the given deliveries, ignoring their time)."""
        total = await self.recover(now=now)
        if only is None:
            total.merge(await self.reconcile_unknown(now=now))
            plan_deliveries(self.rt, now=now)
        only_ids = set(only) if only is not None else None
        names = [c.name for c in self.rt.channels()]
        reports = await asyncio.gather(*(self._drain(name, only_ids) for name in names))
        for report in reports:
            total.merge(report)
        return total

    async def drain_channel(self, channel: str) -> DispatchReport:
        """Send what is due on one channel, in order (a worker's job in distributed mode)."""
        return await self._drain(channel, None)

    async def _drain(self, channel: str, only: set[int] | None) -> DispatchReport:
        if channel in self._draining:
            return DispatchReport()  # another pass is sending on this channel right now
        self._draining.add(channel)
        try:
            return await self._drain_channel(channel, only)
        finally:
            self._draining.discard(channel)

    async def _drain_channel(self, channel: str, only: set[int] | None) -> DispatchReport:
        report = DispatchReport()
        while not self.stopping:
            now = utcnow()
            with self.rt.store.session() as session:
                state = session.get(ChannelState, channel)
                if state is not None and state.paused_reason:
                    if self._has_due(session, channel, only, now):
                        log.warning("channel %s is paused: %s", channel, state.paused_reason)
                    return report
                wait = 0.0
                if state is not None and state.next_send_at and state.next_send_at > now:
                    wait = (state.next_send_at - now).total_seconds()
                delivery_id = self._next_due(session, channel, only, now)
                cap_until = None
                if delivery_id is not None:
                    need = self._parts_left(session, delivery_id)
                    cap_until = self._daily_cap_until(session, channel, now, need)
            if cap_until is not None:
                log.info("channel %s reached max_posts_per_day; next post after %s", channel,
                         cap_until.isoformat(timespec="seconds"))
                return report
            if delivery_id is None:
                return report
            if wait > 0:
                if wait > PACING_WAIT_MAX:
                    log.info("channel %s waits %.0fs (rate limit)", channel, wait)
                    return report
                await asyncio.sleep(wait)
                continue
            if not self._claim(delivery_id):
                continue
            outcome = await self._send(delivery_id)
            getattr(report, outcome).append(delivery_id)
        return report

    def _parts_left(self, session: Session, delivery_id: int) -> int:
        """How many posts the delivery still needs (rendering it now if it was not yet)."""
        delivery = session.get_one(Delivery, delivery_id)
        if not delivery.messages:
            try:
                self._render(delivery)
            except Exception:
                return 1  # _send records the rendering failure
        return max(1, len(delivery.messages or []) - len(delivery.parts))

    def _render(self, delivery: Delivery) -> None:
        channel_cfg = self.rt.config.channel(delivery.channel)
        adapter = self.rt.adapter(delivery.channel)
        delivery.messages = adapter.render(from_row(delivery.article),
                                           self.rt.context(channel_cfg))

    def _daily_cap_until(self, session: Session, channel: str, now: datetime,
                         need: int = 1) -> datetime | None:
        """When posting ``need`` more posts would pass the channel's ``max_posts_per_day``: the
        time enough posts have left the 24-hour window; else None. Every posted part counts
        (a thread of 3 is 3 posts), and a thread is never started that the cap would cut."""
        cap = getattr(self.rt.config.channel(channel), "max_posts_per_day", None)
        if not cap:
            return None
        need = max(1, min(need, cap))
        recent = session.scalars(
            select(DeliveryPart.sent_at).join(Delivery)
            .where(Delivery.channel == channel, DeliveryPart.sent_at > now - timedelta(days=1))
            .order_by(DeliveryPart.sent_at.desc()).limit(cap)).all()
        if len(recent) + need <= cap:
            return None
        return recent[cap - need] + timedelta(days=1)

    def _due_query(self, channel: str, only: set[int] | None, now: datetime) -> Select[int]:
        query = select(Delivery.id).join(ArticleRow).where(
            Delivery.channel == channel, Delivery.state.in_(DUE_STATES))
        if only is not None:
            return query.where(Delivery.id.in_(only))
        return query.where(Delivery.next_attempt_at <= now)

    def _has_due(self, session: Session, channel: str, only: set[int] | None,
                 now: datetime) -> bool:
        return session.scalar(self._due_query(channel, only, now).limit(1)) is not None

    def _next_due(self, session: Session, channel: str, only: set[int] | None,
                  now: datetime) -> int | None:
        query = self._due_query(channel, only, now).order_by(
            func.coalesce(ArticleRow.published, ArticleRow.first_seen), ArticleRow.id).limit(1)
        return session.scalar(query)

    def _claim(self, delivery_id: int) -> bool:
        now = utcnow()
        with self.rt.store.session() as session:
            result = session.execute(
                update(Delivery)
                .where(and_(Delivery.id == delivery_id, Delivery.state.in_(DUE_STATES)))
                .values(state="sending", lease_owner=self.rt.owner, lease_until=now + LEASE,
                        attempts=Delivery.attempts + 1, updated_at=now)
            )
            claimed = getattr(result, "rowcount", 0) == 1
            if claimed:
                session.add(DeliveryEvent(delivery_id=delivery_id, state="sending"))
        return claimed

    async def _send(self, delivery_id: int) -> str:
        rt = self.rt
        with rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            adapter = rt.adapter(delivery.channel)
            if not delivery.messages:
                try:
                    self._render(delivery)
                except Exception as exc:
                    log.exception("rendering article %s for %s failed", delivery.article_id,
                                  delivery.channel)
                    delivery.last_error = f"rendering failed (a bug, please report it): {exc}"
                    record(session, delivery, "failed", delivery.last_error)
                    delivery.lease_owner = delivery.lease_until = None
                    return "failed"
            messages = list(delivery.messages or [])
            done = [p.remote_id for p in delivery.parts]
            attempts = delivery.attempts
            label = f"delivery {delivery.id} ({delivery.channel}, article {delivery.article_id})"
            outbox = adapter if isinstance(adapter, OutboxAdapter) and adapter.wraps else None
            dry_run_name = outbox_name(delivery.article_id, delivery.article.title)

        if outbox is not None:  # a dry run: the whole delivery as files, named for it
            try:
                done = [str(outbox.write(dry_run_name, messages)[0])] if messages else []
            except PermanentError as exc:
                return self._fail(delivery_id, exc, label)
            messages = messages[:len(done)]
        previous = done[-1] if done else None
        for index in range(len(done), len(messages)):
            try:
                remote_id = await adapter.send(messages[index], previous_id=previous)
            except TransientError as exc:
                return self._retry(delivery_id, exc, attempts, label)
            except PermanentError as exc:
                return self._fail(delivery_id, exc, label)
            except AmbiguousError as exc:
                return self._unknown(delivery_id, str(exc), label)
            except Exception as exc:  # an adapter bug: keep the delivery, log the traceback
                log.exception("%s: unexpected error from the adapter", label)
                return self._retry(delivery_id, TransientError(f"unexpected error: {exc!r}",
                                                               channel_wide=False),
                                   attempts, label)
            with rt.store.session() as session:
                session.add(DeliveryPart(delivery_id=delivery_id, idx=index,
                                         remote_id=str(remote_id)))
                session.execute(update(Delivery).where(Delivery.id == delivery_id)
                                .values(lease_until=utcnow() + LEASE))
            done.append(str(remote_id))
            previous = str(remote_id)

        now = utcnow()
        with rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            delivery.remote_id = done[0] if done else None
            delivery.sent_at = now
            delivery.last_error = None
            delivery.lease_owner = delivery.lease_until = None
            record(session, delivery, "sent", f"remote id {delivery.remote_id}")
            configured = getattr(rt.config.channel(delivery.channel), "rate_per_minute", None)
            self._pace(session, delivery.channel,
                       adapter_rate=configured or adapter.rate_per_minute, now=now,
                       hold_until=adapter.hold_until())
        log.info("%s sent (remote id %s)", label, done[0] if done else "-")
        return "sent"

    def _pace(self, session: Session, channel: str, *, adapter_rate: float | None,
              now: datetime, hold_until: datetime | None = None) -> None:
        """The channel's next send: after its pacing interval, and not before the platform
        allows (an allowance used up), in the store so every process and worker holds it."""
        next_at = now + timedelta(seconds=60.0 / adapter_rate) if adapter_rate else None
        if hold_until is not None and hold_until > now:
            next_at = max(next_at or hold_until, hold_until)
            log.info("channel %s: the platform's allowance is used up; next post after %s",
                     channel, hold_until.isoformat(timespec="seconds"))
        if next_at is None:
            return
        state = session.get(ChannelState, channel) or ChannelState(channel=channel)
        session.add(state)
        state.next_send_at = next_at

    def _retry(self, delivery_id: int, exc: TransientError, attempts: int, label: str) -> str:
        now = utcnow()
        with self.rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            delivery.lease_owner = delivery.lease_until = None
            delivery.last_error = exc.message
            if exc.retry_after is not None:
                # rate limits are not failures: they never use up attempts
                delivery.attempts = max(0, attempts - 1)
            elif attempts >= MAX_ATTEMPTS:
                delivery.last_error = f"gave up after {attempts} attempts: {exc.message}"
                record(session, delivery, "failed", delivery.last_error)
                log.error("%s failed: %s", label, delivery.last_error)
                return "failed"
            # the platform said when: wait just that (plus a little jitter); else back off
            wait = (exc.retry_after + random.uniform(0, 1) if exc.retry_after is not None
                    else backoff(attempts))
            delivery.next_attempt_at = now + timedelta(seconds=wait)
            record(session, delivery, "retry", exc.message)
            if exc.channel_wide:
                state = session.get(ChannelState, delivery.channel) or \
                    ChannelState(channel=delivery.channel)
                session.add(state)
                state.next_send_at = max(state.next_send_at or now, delivery.next_attempt_at)
        log.warning("%s: %s; retrying in %.0fs", label, exc.message, wait)
        return "retry"

    def _fail(self, delivery_id: int, exc: PermanentError, label: str) -> str:
        with self.rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            delivery.lease_owner = delivery.lease_until = None
            delivery.last_error = exc.message
            record(session, delivery, "failed", exc.message)
            paused = self._sharing_credentials(delivery.channel) if exc.pause_channel else []
            for name in paused:
                state = session.get(ChannelState, name) or ChannelState(channel=name)
                session.add(state)
                state.paused_reason = exc.message
                state.paused_at = utcnow()
            if exc.pause_channel:
                # the article is not at fault: it goes out once the channel is fixed
                delivery.attempts = 0
                record(session, delivery, "retry", "channel paused")
        if exc.pause_channel:
            also = (f"; also paused, on the same credentials: {', '.join(paused[1:])}"
                    if len(paused) > 1 else "")
            log.error("channel paused: %s: %s%s (fix it, then `distributor channels resume "
                      "NAME`)", label, exc.message, also)
            return "retry"
        log.error("%s failed: %s", label, exc.message)
        return "failed"

    def _sharing_credentials(self, channel: str) -> list[str]:
        """The channel and every other channel on the same credentials (one bot token)."""
        key = self.rt.adapter(channel).credential_key
        if key is None:
            return [channel]
        return [channel] + [name for name, adapter in self.rt.adapters.items()
                            if name != channel and adapter.credential_key == key]

    def _unknown(self, delivery_id: int, reason: str, label: str) -> str:
        with self.rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            delivery.lease_owner = delivery.lease_until = None
            delivery.last_error = reason
            record(session, delivery, "unknown", reason)
        log.error("%s: outcome unknown (%s); check the channel, then `deliveries retry %s "
                  "--force` or `deliveries resolve %s --sent`", label, reason, delivery_id,
                  delivery_id)
        return "unknown"


async def send_requested(rt: Runtime, ids: Iterable[int], *,
                         wait: float = 60.0) -> None:
    """Send the deliveries an editor asked for: in this process (embedded mode), or by the
    workers (distributed mode: a drain job per channel, so each channel's order and lock
    hold), waiting up to ``wait`` seconds for them to settle."""
    ids = list(ids)
    if rt.config.execution != "distributed" or rt.dry_run:
        await Dispatcher(rt).run_once(only=ids)
        return
    from distributor.workers import hand_to_workers

    await hand_to_workers(rt, ids)
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        with rt.store.session() as session:
            busy = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.id.in_(ids), Delivery.state.in_(("pending", "sending"))))
        if not busy:
            return
        await asyncio.sleep(0.5)


def retry_delivery(session: Session, delivery_id: int, *, force: bool = False) -> str:
    """An editor's retry. Returns a one-line answer; raises LookupError/ValueError."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise LookupError(f"no delivery {delivery_id}; `distributor deliveries list` shows them")
    if delivery.state == "unknown" and not force:
        raise ValueError(
            f"delivery {delivery_id} may already have been published (state unknown); check "
            f"the channel, then use --force to send it anyway or `deliveries resolve "
            f"{delivery_id} --sent`")
    if delivery.state == "sent" and not force:
        raise ValueError(f"delivery {delivery_id} was sent already; use --force to send again")
    if delivery.state == "sending":
        raise ValueError(f"delivery {delivery_id} is being sent right now")
    if delivery.state in ("pending", "retry") and delivery.next_attempt_at <= utcnow():
        return f"delivery {delivery_id} ({delivery.channel}) is queued already"
    if delivery.state == "sent":
        delivery.parts.clear()
        delivery.messages = None
        delivery.remote_id = None
        delivery.sent_at = None
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    record(session, delivery, "pending", "retry requested" + (" (forced)" if force else ""))
    return f"delivery {delivery_id} ({delivery.channel}) is queued again"


def resolve_delivery(session: Session, delivery_id: int, *, sent: bool,
                     remote_id: str | None = None) -> str:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise LookupError(f"no delivery {delivery_id}; `distributor deliveries list` shows them")
    if delivery.state not in ("unknown", "failed", "retry", "pending", "held"):
        raise ValueError(f"delivery {delivery_id} is {delivery.state}; only unknown, failed, "
                         "retry, pending or held deliveries can be resolved")
    if sent:
        delivery.sent_at = utcnow()
        delivery.remote_id = remote_id or delivery.remote_id
        record(session, delivery, "sent", "resolved by an editor")
    else:
        record(session, delivery, "failed", "closed by an editor")
    return f"delivery {delivery_id} is now {delivery.state}"


# --------------------------------------------------------------------------- dry runs


@dataclass
class PreviewItem:
    article_id: int
    title: str
    channel: str
    messages: int
    files: list[str]


def outbox_name(article_id: int | None, title: str) -> str:
    from distributor.text import slugify

    return f"{article_id if article_id is not None else 'new'}-{slugify(title, max_len=50)}"


def dry_run_pass(rt: Runtime, *, now: datetime | None = None,
                 channels: list[str] | None = None) -> list[PreviewItem]:
    """What a real pass would publish, written to the outbox; the ledger is not touched."""
    now = now or utcnow()
    windows = {s.name: s.max_age for s in rt.config.sources}
    items: list[PreviewItem] = []
    with rt.store.session() as session:
        rows = session.scalars(
            select(ArticleRow).where(ArticleRow.backlog.is_(False))
            .order_by(func.coalesce(ArticleRow.published, ArticleRow.first_seen), ArticleRow.id)
        ).all()
        rows = [r for r in rows if r.first_seen >= now - windows.get(r.source, DEFAULT_WINDOW)]
        delivered = set(session.execute(
            select(Delivery.article_id, Delivery.channel).where(Delivery.state == "sent")
        ))
        articles = [from_row(r) for r in rows]
    for channel in rt.channels():
        if channel.publish != "instant" or (channels and channel.name not in channels):
            continue
        adapter = rt.adapter(channel.name)
        assert isinstance(adapter, OutboxAdapter)
        for article in articles:
            assert article.id is not None
            if (article.id, channel.name) in delivered:
                continue
            messages = adapter.render(article, rt.context(channel, now=now))
            paths = adapter.write(outbox_name(article.id, article.title), messages)
            items.append(PreviewItem(article.id, article.title, channel.name, len(messages),
                                     [str(p) for p in paths]))
    return items
