"""Sending due deliveries: the dispatcher (pacing, retries, progress; adapters only push),
and dry-run passes into the outbox. What each send's outcome does to the ledger is in
:mod:`.send_outcomes`, what a dead process left behind in :mod:`.recovery`; a pass reports
each delivery once (:mod:`.reports`) and says when it waits for a retry (:mod:`.waits`). (An
editor's request is sent by :mod:`distributor.services.sending`.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from distributor.channels.outbox import dry_run_outbox
from distributor.clock import utcnow
from distributor.engine.actions import claim_action, next_due_action, send_action
from distributor.engine.contexts import delivery_key, send_contexts
from distributor.engine.dry_run import PreviewItem, dry_run_pass, outbox_name
from distributor.engine.notices import NOTICES, why_waiting
from distributor.engine.pacing_rules import daily_cap_until, paced_from, spacing_slack
from distributor.engine.recovery import reconcile_unknown, recover_stale
from distributor.engine.reports import merge_latest, settle
from distributor.engine.send_outcomes import (
    DispatchReport,
    fail,
    pace,
    retry_later,
    template_broken,
    unknown,
)
from distributor.engine.waits import retry_wait
from distributor.ledger.deliveries import DUE_STATES, plan_deliveries, record
from distributor.ledger.ingest import from_row
from distributor.plugin import AmbiguousError, PermanentError, TransientError
from distributor.render.dates import site_clock
from distributor.render.problems import TemplateProblem
from distributor.runtime import Runtime
from distributor.store.models import (
    ArticleRow,
    ChannelState,
    Delivery,
    DeliveryEvent,
    DeliveryPart,
)

log = logging.getLogger("distributor.delivery")
__all__ = ["DispatchReport", "Dispatcher", "PreviewItem", "dry_run_pass", "outbox_name"]

LEASE = timedelta(minutes=5)
PACING_WAIT_MAX = 90.0  # a pass waits this long at most for a channel's pacing
#: a post is claimed and made ready this long before its pacing slot, so that its request
#: leaves at the slot itself, the ledger's writes done (a stop does not cut this part short)
LEAD = 0.25


# --------------------------------------------------------------------------- dispatching


def _wake(waker: asyncio.Future[None]) -> None:
    if not waker.done():
        waker.set_result(None)


class Dispatcher:
    """Sends due deliveries, one channel at a time in order, channels side by side."""

    def __init__(self, rt: Runtime, *, patient: bool = True):
        self.rt = rt
        #: waits out a channel's retry after a failed attempt (an outage) within the pass, up
        #: to PACING_WAIT_MAX (`run`, `run --once`); an editor's push is not patient: it
        #: leaves the retry to `distributor run` and says at once when it is due (a pacing
        #: wait is waited either way)
        self.patient = patient
        self.stopping = False
        #: one drain per channel at a time: order and pacing hold within this process
        self._draining: set[str] = set()
        #: the pacing waits under way: stop() ends them at once (nothing is in flight there)
        self._sleepers: set[asyncio.Future[None]] = set()

    def stop(self) -> None:
        """Finish the sends in flight, start no new ones; a pacing wait ends now."""
        self.stopping = True
        for waker in list(self._sleepers):
            waker.get_loop().call_soon_threadsafe(_wake, waker)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when :meth:`stop` is called meanwhile."""
        loop = asyncio.get_running_loop()
        waker: asyncio.Future[None] = loop.create_future()
        self._sleepers.add(waker)
        timer = loop.call_later(seconds, _wake, waker)
        try:
            await waker
        finally:
            timer.cancel()
            self._sleepers.discard(waker)

    # -- recovery (:mod:`.recovery`) -------------------------------------------------------
    async def recover(self, *, now: datetime | None = None) -> DispatchReport:
        """Deliveries left ``sending`` by a process that died: reconcile, else ``unknown``."""
        return await recover_stale(self.rt, now=now)

    async def reconcile_unknown(self, *, now: datetime | None = None) -> DispatchReport:
        """Look again for the posts of recent ``unknown`` deliveries; those found are sent."""
        return await reconcile_unknown(self.rt, now=now)

    # -- the pass ---------------------------------------------------------------------------
    async def run_once(self, *, now: datetime | None = None,
                       only: Iterable[int] | None = None,
                       actions: Iterable[int] | None = None,
                       skip_spacing: bool = False) -> DispatchReport:
        """Send everything that is due (or only the given deliveries and actions, ignoring
        their time). Retractions and corrections due on a channel go before its posts.
        ``skip_spacing`` (an editor's ``push --now``): the given deliveries do not wait for
        the channel's ``min_interval``, only for the platform's own pace."""
        total = await self.recover(now=now)
        if only is None and actions is None:
            merge_latest(total, await self.reconcile_unknown(now=now))
            plan_deliveries(self.rt, now=now)
        targeted = only is not None or actions is not None
        only_ids = set(only or ()) if targeted else None
        action_ids = set(actions or ()) if targeted else None
        names = [c.name for c in self.rt.channels()]
        reports = await asyncio.gather(*(self._drain(name, only_ids, action_ids,
                                                     skip_spacing and only is not None)
                                         for name in names))
        for report in reports:
            merge_latest(total, report)  # each delivery once, in the state it ended in
        return total

    async def send_only(self, channel: str, ids: Iterable[int], *,
                        skip_spacing: bool = False) -> DispatchReport:
        """These deliveries of one channel, in order, ignoring their time (an editor's push;
        ``skip_spacing``: not waiting for ``min_interval``); other channels are not waited
        for."""
        return await self._drain(channel, set(ids), set(), skip_spacing)

    async def drain_channel(self, channel: str) -> DispatchReport:
        """Send what is due on one channel, in order (a worker's job in distributed mode)."""
        return await self._drain(channel, None)

    async def _drain(self, channel: str, only: set[int] | None,
                     actions: set[int] | None = None,
                     skip_spacing: bool = False) -> DispatchReport:
        if channel in self._draining:
            return DispatchReport()  # another pass is sending on this channel right now
        self._draining.add(channel)
        try:
            return await self._drain_channel(channel, only, actions, skip_spacing)
        finally:
            self._draining.discard(channel)

    async def _drain_channel(self, channel: str, only: set[int] | None,
                             actions: set[int] | None = None,
                             skip_spacing: bool = False) -> DispatchReport:
        report = DispatchReport()
        slack = spacing_slack(self.rt, channel) if skip_spacing else 0.0
        said = False  # a failed attempt's warning just said when it is retried
        while not self.stopping:
            now = utcnow()
            with self.rt.store.session() as session:
                state = session.get(ChannelState, channel)
                if state is not None and state.paused_reason:
                    if self._has_due(session, channel, only, now):
                        NOTICES.say(log, logging.WARNING, channel, "paused", state.paused_reason,
                                    "channel %s is paused: %s", channel, state.paused_reason)
                    return report
                NOTICES.clear(channel, "paused")
                wait = 0.0
                if state is not None and state.next_send_at and state.next_send_at > now:
                    wait = max(0.0, (state.next_send_at - now).total_seconds() - slack)
                due = now + timedelta(seconds=min(wait, LEAD))  # what is due at the slot
                action_id = next_due_action(session, channel, actions, due) \
                    if actions is None or actions else None
                delivery_id = None if action_id is not None else \
                    self._next_due(session, channel, only, due)
                why = why_waiting(session, channel) if wait > PACING_WAIT_MAX else ""
                retrying = retry_wait(session, channel, state.next_send_at, wait) \
                    if state is not None and LEAD < wait <= PACING_WAIT_MAX else None
                cap_until = None
                if delivery_id is not None:
                    need = self._parts_left(session, delivery_id)
                    cap_until = daily_cap_until(self.rt, session, channel, now, need)
            if cap_until is not None:
                NOTICES.say(log, logging.INFO, channel, "capped", cap_until.isoformat(),
                            "channel %s reached max_posts_per_day; next post after %s", channel,
                            site_clock(cap_until, self.rt.config.site))
                return report
            if delivery_id is None and action_id is None:
                return report
            lead = LEAD if action_id is None else 0.0
            if wait > lead:
                if wait > PACING_WAIT_MAX:
                    NOTICES.say(log, logging.INFO, channel, "waiting", why,
                                "channel %s waits until %s (%s)", channel,
                                site_clock(now + timedelta(seconds=wait), self.rt.config.site), why)
                    return report
                NOTICES.clear(channel, "waiting")
                if retrying and not self.patient:
                    return report  # the retry is `distributor run`'s (see `patient`)
                if retrying and not said:  # a pass waiting out an outage says so, once
                    log.info("%s", retrying)
                    said = True
                await self._pause(wait - lead)
                continue
            if action_id is not None:
                if claim_action(self.rt, action_id):
                    report.actions.append((action_id, await send_action(self.rt, action_id)))
                continue
            assert delivery_id is not None
            if not self._claim(delivery_id):
                continue
            outcome = await self._send(delivery_id, slot=now + timedelta(seconds=wait))
            settle(report, delivery_id, outcome)  # tried again later in the pass: counted once
            said = outcome == "retry"
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
        # an editor's push goes first, then the articles in the order they were published
        query = self._due_query(channel, only, now).order_by(
            Delivery.requested_by.is_(None),
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

    async def _send(self, delivery_id: int, slot: datetime | None = None) -> str:
        """Send the claimed delivery's parts; the first not before ``slot`` (its pace)."""
        rt = self.rt
        with rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            adapter = rt.adapter(delivery.channel)
            if not delivery.messages:
                try:
                    self._render(delivery)
                except TemplateProblem as problem:  # the user's template, not a bug
                    label = f"delivery {delivery.id} ({delivery.channel}, article " \
                            f"{delivery.article_id})"
                    return template_broken(session, delivery, problem, label)
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
            dry_run_name = outbox_name(delivery.article_id, delivery.article.title)
            requested: list[datetime] = []  # when the parts' requests left (if told)
            context = send_contexts(rt, channel=delivery.channel, delivery_id=delivery_id,
                                    attempt=attempts, base_key=delivery_key(session, delivery),
                                    parts=len(messages), on_request=requested.append)
        if slot is not None and not rt.dry_run:  # the last LEAD of the pace: not cut short
            await asyncio.sleep(max(0.0, (slot - utcnow()).total_seconds()))
        started = utcnow()

        if rt.dry_run:  # the whole delivery as files in the outbox, named for it
            try:
                done = [str(dry_run_outbox(adapter).write(dry_run_name, messages)[0])] \
                    if messages else []
            except PermanentError as exc:
                return fail(self.rt, delivery_id, exc, label)
            messages = messages[:len(done)]
        for index in range(len(done), len(messages)):
            told, part_started = len(requested), utcnow()
            try:
                remote_id = await adapter.send(messages[index], context(done))
            except TransientError as exc:
                return retry_later(self.rt, delivery_id, exc, attempts, label)
            except PermanentError as exc:
                return fail(self.rt, delivery_id, exc, label)
            except AmbiguousError as exc:
                return unknown(self.rt, delivery_id, str(exc), label)
            except Exception as exc:  # an adapter bug: keep the delivery, log the traceback
                log.exception("%s: unexpected error from the adapter", label)
                bug = TransientError(f"unexpected error: {exc!r}", channel_wide=False)
                return retry_later(self.rt, delivery_id, bug, attempts, label)
            with rt.store.session() as session:
                session.add(DeliveryPart(delivery_id=delivery_id, idx=index,
                                         remote_id=str(remote_id),
                                         sent_at=paced_from(requested[told:], part_started)))
                session.execute(update(Delivery).where(Delivery.id == delivery_id)
                                .values(lease_until=utcnow() + LEASE))
            done.append(str(remote_id))

        now = utcnow()
        with rt.store.session() as session:
            delivery = session.get_one(Delivery, delivery_id)
            delivery.remote_id = done[0] if done else None
            delivery.sent_at = now
            delivery.last_error = None
            delivery.lease_owner = delivery.lease_until = None
            record(session, delivery, "sent", f"remote id {delivery.remote_id}")
            channel_cfg = rt.config.channel(delivery.channel)
            configured = getattr(channel_cfg, "rate_per_minute", None)
            pace(session, delivery.channel,
                 adapter_rate=configured or adapter.rate_per_minute,
                 # a thread's last part: the next post keeps the gap after every part
                 now=paced_from(requested[-1:], started, now),
                 hold_until=adapter.hold_until(),
                 min_interval=getattr(channel_cfg, "min_interval", None))
        log.info("%s sent (remote id %s)", label, done[0] if done else "-")
        return "sent"
