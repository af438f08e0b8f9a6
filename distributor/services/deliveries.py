"""What an editor can do to deliveries: push (now or at a time), hold, retry, resolve, and the
digest picks. Every interface calls these and formats their typed outcomes
(:mod:`distributor.plugin.desk`); refusals are :class:`~distributor.plugin.desk.Refused` with a
reason, a missing article or delivery :class:`~distributor.plugin.desk.NotFound`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from distributor.clock import utcnow
from distributor.engine.digests import move_in_digest, pick_article, plan_digest, unpick_article
from distributor.ledger.deliveries import (
    hold_delivery,
    request_delivery,
    resolve_delivery,
    retry_delivery,
)
from distributor.plugin.desk import (
    DeliveryView,
    NotFound,
    PickOutcome,
    PushKind,
    PushOutcome,
    RetryOutcome,
)
from distributor.runtime import Runtime
from distributor.services.channels import statuses
from distributor.services.sending import Sender, view
from distributor.store.models import ArticleRow, Delivery


def delivery(rt: Runtime, delivery_id: int) -> DeliveryView:
    with rt.store.session() as session:
        found = session.get(Delivery, delivery_id)
        if found is None:
            raise NotFound("delivery", delivery_id)
        return view(found)


def request_push(rt: Runtime, article_id: int, channels: Sequence[str], *, by: str,
                 force: bool = False, at: datetime | None = None) -> list[PushOutcome]:
    """Record an editor's push (due now, or at ``at``) on each channel; sends nothing."""
    outcomes = []
    with rt.store.session() as session:
        if session.get(ArticleRow, article_id) is None:
            raise NotFound("article", article_id)
        for name in channels:
            row, kind = request_delivery(session, article_id, name, force=force,
                                         requested_by=by, at=at)
            session.flush()
            outcomes.append(PushOutcome(name, kind, view(row),
                                        at if kind is PushKind.SCHEDULED else None))
    return with_channel_states(rt, outcomes)


def with_channel_states(rt: Runtime, outcomes: list[PushOutcome]) -> list[PushOutcome]:
    """Each queued, unsent outcome with what holds its channel: paused, or waiting until."""
    if not any(o.kind is PushKind.QUEUED and o.delivery.state != "sent" for o in outcomes):
        return outcomes
    held = {st.name: st for st in statuses(rt)}
    out = []
    for o in outcomes:
        st = held.get(o.channel)
        if o.kind is PushKind.QUEUED and o.delivery.state != "sent" and st is not None:
            o = replace(o, channel_paused=st.paused_reason,
                        channel_waits_until=st.held_until if st.state == "waiting" else None)
        out.append(o)
    return out


async def push(rt: Runtime, article_id: int, channels: Sequence[str], *, by: str,
               force: bool = False, at: datetime | None = None, sender: Sender | None = None,
               wait: float = 60.0, now: bool = False) -> list[PushOutcome]:
    """An editor's push: recorded, then what is due now is sent (embedded) or handed to the
    workers (distributed) and waited for up to ``wait`` seconds. Each outcome carries the
    delivery as it stands after the wait. A push goes before the channel's other waiting
    posts; ``now``: it does not wait for the channel's ``min_interval`` either."""
    outcomes = request_push(rt, article_id, channels, by=by, force=force, at=at)
    queued = [o.delivery.id for o in outcomes if o.kind is PushKind.QUEUED]
    if not queued:
        return outcomes
    final = await (sender or Sender(rt)).send_and_wait(queued, wait=wait, skip_spacing=now)
    return with_channel_states(
        rt, [replace(o, delivery=final.get(o.delivery.id, o.delivery)) for o in outcomes])


def hold(rt: Runtime, article_id: int, channel: str, *, by: str) -> DeliveryView:
    """An editor's hold on one channel; raises Refused (TOO_LATE) or NotFound."""
    with rt.store.session() as session:
        if session.get(ArticleRow, article_id) is None:
            raise NotFound("article", article_id)
        row = hold_delivery(session, article_id, channel, requested_by=by)
        session.flush()
        return view(row)


def request_retry(rt: Runtime, delivery_id: int, *, force: bool = False) -> RetryOutcome:
    """Make a delivery due again now; sends nothing. Raises NotFound or Refused."""
    with rt.store.session() as session:
        row, kind = retry_delivery(session, delivery_id, force=force)
        session.flush()
        return RetryOutcome(kind, view(row))


async def retry(rt: Runtime, delivery_id: int, *, force: bool = False,
                sender: Sender | None = None, wait: float = 60.0) -> RetryOutcome:
    """An editor's retry: the delivery is due again and sent (or handed to the workers),
    waited for up to ``wait`` seconds."""
    outcome = request_retry(rt, delivery_id, force=force)
    final = await (sender or Sender(rt)).send_and_wait([delivery_id], wait=wait)
    return replace(outcome, delivery=final.get(delivery_id, outcome.delivery))


async def send_now(rt: Runtime, ids: Sequence[int], *, sender: Sender | None = None,
                   wait: float = 60.0) -> dict[int, DeliveryView]:
    """Send deliveries that are due (or hand them to the workers) and wait for them."""
    return await (sender or Sender(rt)).send_and_wait(ids, wait=wait)


def resolve(rt: Runtime, delivery_id: int, *, sent: bool,
            remote_id: str | None = None) -> DeliveryView:
    """Close a delivery an editor checked by hand; raises NotFound or Refused."""
    with rt.store.session() as session:
        row = resolve_delivery(session, delivery_id, sent=sent, remote_id=remote_id)
        session.flush()
        return view(row)


def pick(rt: Runtime, channel: str, article_id: int, *, include: bool,
         by: str | None = None) -> PickOutcome:
    """Put an article into a channel's next digest (``include``) or leave it out."""
    with rt.store.session() as session:
        if session.get(ArticleRow, article_id) is None:
            raise NotFound("article", article_id)
        pick_article(session, channel, article_id, include=include, by=by)
    return PickOutcome(channel, article_id, include)


def move(rt: Runtime, channel: str, article_id: int, step: int, *, by: str | None = None
         ) -> str:
    """Move an article up (negative ``step``) or down in a channel's next digest; a one-line
    answer. Raises NotFound when the article is not in that digest."""
    config = rt.config.channel(channel)
    order = [a.id for a in plan_digest(rt, config, until=utcnow(), period="preview").articles
             if a.id is not None]
    with rt.store.session() as session:
        try:
            return move_in_digest(session, channel, order, article_id, step, by=by)
        except LookupError:
            raise NotFound("article in the next digest", article_id) from None


def unpick(rt: Runtime, channel: str, article_id: int) -> PickOutcome:
    """Forget the editors' choice: the article follows the usual rule again."""
    with rt.store.session() as session:
        changed = unpick_article(session, channel, article_id)
    return PickOutcome(channel, article_id, None, changed=changed)



def recent(rt: Runtime, *, states: Sequence[str] | None = None,
           limit: int = 10) -> list[DeliveryView]:
    with rt.store.session() as session:
        query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
        if states:
            query = query.where(Delivery.state.in_(list(states)))
        return [view(d) for d in session.scalars(query)]
