"""The contexts the core hands a channel (the plugin API's :class:`SendContext` and
:class:`DigestContext`): ids, attempt, what was posted already, an idempotency key, a logger
naming the channel and what it sends, and the channel's key-value state.

An idempotency key is stable for a (delivery, part) across retries, restarts and workers, and
new once an editor queues the delivery again (``push --force``, ``deliveries retry``): it is
derived from the delivery's id, its creation time (so a new database never repeats one) and
how often it has been queued. Opaque to channels: at most 64 ASCII characters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distributor.ledger.channel_state import StoredState
from distributor.ledger.mailing import audience_of
from distributor.plugin import Adapter, Audience, ChannelLog, SendContext
from distributor.runtime import Runtime
from distributor.store.models import Delivery, DeliveryEvent

_NAMESPACE = uuid.UUID("6f3c8a53-2d7e-4d6b-9a55-1f0a3e1f7b20")


def key_for(kind: str, ident: int, created: datetime | None, generation: int = 0) -> str:
    stamp = created.isoformat() if created is not None else ""
    return uuid.uuid5(_NAMESPACE, f"{kind}/{ident}/{stamp}/{generation}").hex


def delivery_key(session: Session, delivery: Delivery) -> str:
    """The base of the idempotency keys of this delivery's parts (``<base>-<part>``)."""
    queued = session.scalar(select(func.count()).select_from(DeliveryEvent).where(
        DeliveryEvent.delivery_id == delivery.id, DeliveryEvent.state == "pending")) or 0
    return key_for("delivery", delivery.id, delivery.created_at, int(queued))


def send_contexts(rt: Runtime, *, channel: str, delivery_id: int, attempt: int, base_key: str,
                  parts: int, on_request: Callable[[datetime], None] | None = None
                  ) -> Callable[[list[str]], SendContext]:
    """A maker of the :class:`SendContext` of the next part, given the ids posted so far
    (``on_request``: told when a part's request left, :meth:`SendContext.request_sent`)."""
    log = ChannelLog(channel, f"delivery {delivery_id}")
    state = StoredState(rt.store, channel)
    audience = channel_audience(rt, channel)

    def make(done: list[str]) -> SendContext:
        return SendContext(channel=channel, idempotency_key=f"{base_key}-{len(done)}", log=log,
                           state=state, attempt=attempt, delivery_id=delivery_id,
                           part=len(done), parts=parts, remote_ids=tuple(done),
                           audience=audience, on_request=on_request)

    return make


def channel_state(rt: Runtime, channel: str) -> StoredState:
    return StoredState(rt.store, channel)


def channel_audience(rt: Runtime, channel: str) -> Audience | None:
    """``ctx.audience``: the core's subscribers and runs for a list channel, else None."""
    return audience_of(rt, channel)


def reconciling(rt: Runtime, channel: str) -> Adapter | None:
    """The channel's adapter, about to be asked to ``reconcile`` (which takes no context): a
    list channel is handed its audience first (``use_audience``)."""
    adapter = rt.adapters.get(channel)
    use = getattr(adapter, "use_audience", None)
    audience = channel_audience(rt, channel) if callable(use) else None
    if use is not None and audience is not None:
        use(audience)
    return adapter
