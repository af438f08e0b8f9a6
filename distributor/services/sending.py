"""Sending what an editor asked for, and waiting for how it ended.

Embedded mode sends in this process, through a dispatcher (the scheduler's own when it runs
here, so an editor's push and the scheduled passes share one drain per channel: order and
pacing hold). Distributed mode hands one drain job per channel to the workers and waits for
them. Every interface (command line, dashboard, editor bot) sends through a :class:`Sender`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import select

from distributor.engine.dispatcher import Dispatcher
from distributor.plugin.desk import DeliveryView
from distributor.runtime import Runtime
from distributor.store.models import Delivery

log = logging.getLogger("distributor.services")

#: how often a wait looks at the ledger
POLL = 0.3
HandOver = Callable[[list[int]], Awaitable[None]]


def view(d: Delivery) -> DeliveryView:
    return DeliveryView(id=d.id, article_id=d.article_id, channel=d.channel, state=d.state,
                        remote_id=d.remote_id, sent_at=d.sent_at,
                        next_attempt_at=d.next_attempt_at, updated_at=d.updated_at,
                        last_error=d.last_error,
                        title=d.article.title if d.article is not None else "")


def channels_of(rt: Runtime, ids: Iterable[int]) -> dict[str, list[int]]:
    """The deliveries grouped by channel, each group in id order."""
    out: dict[str, list[int]] = {}
    with rt.store.session() as session:
        for delivery_id, channel in session.execute(
                select(Delivery.id, Delivery.channel).where(Delivery.id.in_(list(ids)))
                .order_by(Delivery.id)):
            out.setdefault(channel, []).append(delivery_id)
    return out


def views(rt: Runtime, ids: Iterable[int]) -> dict[int, DeliveryView]:
    wanted = list(ids)
    if not wanted:
        return {}
    with rt.store.session() as session:
        return {d.id: view(d) for d in session.scalars(
            select(Delivery).where(Delivery.id.in_(wanted)))}


class Sender:
    """Sends the deliveries an editor asked for and waits for their outcome.

    ``dispatcher``: a dispatcher shared with a scheduler in this process (else one that does
    not wait out an outage's retries: the editor hears at once when the next try is, and
    `distributor run` makes it); ``hand_over``: how distributed mode gives deliveries to the
    workers (default: a drain job per channel on a short-lived queue connection)."""

    def __init__(self, rt: Runtime, *, dispatcher: Dispatcher | None = None,
                 hand_over: HandOver | None = None):
        self.rt = rt
        self.shared = dispatcher is not None
        self.dispatcher = dispatcher or Dispatcher(rt, patient=False)
        self.hand_over = hand_over
        self._lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def distributed(self) -> bool:
        return self.hand_over is not None or (
            self.rt.config.execution == "distributed" and not self.rt.dry_run)

    async def send(self, ids: Iterable[int], *, skip_spacing: bool = False) -> None:
        """Send them now here (embedded), or hand them to the workers (distributed);
        ``skip_spacing``: without waiting for the channel's ``min_interval`` (here)."""
        wanted = list(ids)
        if not wanted:
            return
        if self.hand_over is not None:
            await self.hand_over(wanted)
        elif self.distributed:
            from distributor.engine.distributed import hand_to_workers

            await hand_to_workers(self.rt, wanted)
        else:
            async with self._lock:  # one recovery at a time
                await self.dispatcher.recover()
            # each channel its own queue: a channel that waits (an outage, a Retry-After)
            # never holds up a push to a healthy one; within a channel, order and pacing hold
            await asyncio.gather(*(self._send_on(channel, ids, skip_spacing)
                                   for channel, ids in channels_of(self.rt, wanted).items()))

    async def _send_on(self, channel: str, ids: list[int], skip_spacing: bool) -> None:
        async with self._locks.setdefault(channel, asyncio.Lock()):
            await self.dispatcher.send_only(channel, ids, skip_spacing=skip_spacing)

    async def send_and_wait(self, ids: Iterable[int], *, wait: float = 60.0,
                            skip_spacing: bool = False) -> dict[int, DeliveryView]:
        """Send, then wait up to ``wait`` seconds while the workers (or a scheduler's pass in
        this process) still have them; returns each delivery as it stands."""
        wanted = list(ids)
        await self.send(wanted, skip_spacing=skip_spacing)
        if self.distributed or self.shared:
            await self.wait(wanted, wait)
        return views(self.rt, wanted)

    async def wait(self, ids: list[int], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all(v.settled for v in views(self.rt, ids).values()):
                return
            await asyncio.sleep(POLL)
