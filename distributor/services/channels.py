"""The channels as an engineer or editor sees them: on or off, paused (and why), held back
until a time (and why), how much waits for them; and resuming a paused one. The command line,
the dashboard, ``/metrics`` and ``/healthz`` all read :func:`statuses`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from distributor.clock import utcnow
from distributor.engine.digests import plan_digest, render_plan
from distributor.ledger.deliveries import DUE_STATES
from distributor.ledger.subscribers import SubscriberError, normalize_email
from distributor.plugin import TestSending
from distributor.plugin.desk import NotFound
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery, Subscriber

log = logging.getLogger("distributor.channels")


@dataclass(frozen=True)
class ChannelStatus:
    name: str
    type: str
    publish: str
    enabled: bool
    #: why the channel is paused (its credentials were refused), else None
    paused_reason: str | None = None
    paused_at: datetime | None = None
    #: the channel's next send waits until then (pacing, a platform's Retry-After, an outage)
    held_until: datetime | None = None
    #: deliveries waiting to be sent on it (pending or to be retried)
    waiting: int = 0
    #: the error of its latest retry, when one is waiting
    last_error: str | None = None
    #: the earliest time one of its waiting deliveries is due (a retry's next try, a push
    #: scheduled for later), when any waits
    next_due: datetime | None = None

    @property
    def state(self) -> str:
        """``disabled``, ``paused``, ``waiting`` (held back until ``held_until``) or
        ``active``."""
        if not self.enabled:
            return "disabled"
        if self.paused_reason:
            return "paused"
        if self.held_until is not None and self.held_until > utcnow():
            return "waiting"
        return "active"


def statuses(rt: Runtime) -> list[ChannelStatus]:
    """Every configured channel's status, in channels.yaml's order."""
    with rt.store.session() as session:
        states = {s.channel: s for s in session.scalars(select(ChannelState))}
        waiting: dict[str, int] = {}
        next_due: dict[str, datetime] = {}
        for name, count, due in session.execute(
                select(Delivery.channel, func.count(), func.min(Delivery.next_attempt_at))
                .where(Delivery.state.in_(DUE_STATES)).group_by(Delivery.channel)):
            waiting[name] = int(count)
            if due is not None:
                next_due[name] = due if due.tzinfo else due.replace(tzinfo=UTC)
        errors: dict[str, str] = {}
        for name, error in session.execute(
                select(Delivery.channel, Delivery.last_error).where(
                    Delivery.state == "retry", Delivery.last_error.is_not(None))
                .order_by(Delivery.next_attempt_at)):
            errors[name] = error or ""  # the latest retry's error wins
    out = []
    for channel in rt.config.channels:
        st = states.get(channel.name)
        out.append(ChannelStatus(
            name=channel.name, type=channel.type, publish=channel.publish,
            enabled=channel.enabled,
            paused_reason=st.paused_reason if st else None,
            paused_at=st.paused_at if st else None,
            held_until=st.next_send_at if st else None,
            waiting=waiting.get(channel.name, 0),
            last_error=errors.get(channel.name), next_due=next_due.get(channel.name)))
    return out


def status(rt: Runtime, name: str) -> ChannelStatus:
    for found in statuses(rt):
        if found.name == name:
            return found
    raise NotFound("channel", name)


def resume(rt: Runtime, name: str, *, by: str) -> bool:
    """Resume a paused channel (after its credentials were fixed): True if it was paused.
    Its waiting deliveries go out on the next pass, in their order."""
    if name not in {c.name for c in rt.config.channels}:
        raise NotFound("channel", name)
    with rt.store.session() as session:
        st = session.get(ChannelState, name)
        if st is None or not st.paused_reason:
            return False
        st.paused_reason = None
        st.paused_at = None
    log.info("channel %s resumed by %s", name, by)
    return True


def audience_sizes(rt: Runtime, names: list[str] | None = None) -> dict[str, int]:
    """For each list channel (a mailing list: its class says ``audience = True``) among
    ``names`` (default: all), how many confirmed subscribers a send would reach."""
    lists = [c.name for c in rt.config.channels
             if (names is None or c.name in names)
             and getattr(rt.adapters.get(c.name), "audience", False)]
    if not lists:
        return {}
    with rt.store.session() as session:
        found = dict(session.execute(
            select(Subscriber.channel, func.count()).where(
                Subscriber.channel.in_(lists), Subscriber.state == "confirmed")
            .group_by(Subscriber.channel)).all())
    return {name: int(found.get(name, 0)) for name in lists}


async def send_digest_test(rt: Runtime, channel: str, address: str) -> str:
    """The channel's next digest as it stands, to one address as a test (the channel's
    ``send_test``); nothing is recorded. Raises NotFound for a channel that cannot, or
    ValueError for an address that is not one; a platform's refusal as its ChannelError."""
    config = next((c for c in rt.config.channels if c.name == channel), None)
    adapter = rt.adapters.get(channel)
    if config is None or config.publish != "digest" or not isinstance(adapter, TestSending):
        raise NotFound("digest channel that can send a test", channel)
    try:
        to, _key = normalize_email(address)
    except SubscriberError as exc:
        raise ValueError(str(exc)) from None
    plan = plan_digest(rt, config, until=utcnow(), period="test")
    if not plan.articles:
        raise ValueError(f"the next digest of {channel} has no article yet")
    messages = render_plan(rt, config, plan)
    remote = await adapter.send_test(messages, to)
    log.info("a test of the digest of %s went to %s (%d articles)", channel, to,
             len(plan.articles))
    return remote
