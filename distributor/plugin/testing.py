"""Contexts for testing a channel on its own, without the core's store:

    ctx = send_context("hook")                        # a first post
    ctx = send_context("x", remote_ids=["1", "2"])    # the third post of a thread
    dctx = digest_context("hook", articles)           # a digest
    channel.setup(memory_env("hook"))                 # its start, with its state in memory

Each gets a fresh :class:`~distributor.plugin.MemoryState` unless ``state`` is given.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.plugin.audience import Audience
from distributor.plugin.context import ChannelLog, DigestContext, SendContext
from distributor.plugin.env import memory_env  # noqa: F401  (a ChannelEnv for setup)
from distributor.plugin.state import MemoryState, StateStore

_ids = itertools.count(1)


def send_context(channel: str = "test", *, remote_ids: list[str] | tuple[str, ...] = (),
                 previous_id: str | None = None, attempt: int = 1,
                 delivery_id: int | None = None, parts: int | None = None,
                 state: StateStore | None = None, idempotency_key: str | None = None,
                 audience: Audience | None = None,
                 on_request: Callable[[datetime], None] | None = None) -> SendContext:
    """A :class:`SendContext` for the next part after ``remote_ids`` (or after
    ``previous_id``); ``on_request`` hears what the channel says of its request
    (:meth:`SendContext.request_sent`: pass ``list.append`` to collect the times)."""
    done = tuple(remote_ids) or ((previous_id,) if previous_id is not None else ())
    delivery = delivery_id if delivery_id is not None else next(_ids)
    return SendContext(
        channel=channel, idempotency_key=idempotency_key or f"test-{delivery}-{len(done)}",
        log=ChannelLog(channel, f"delivery {delivery}"), state=state or MemoryState(),
        attempt=attempt, delivery_id=delivery, part=len(done),
        parts=parts if parts is not None else len(done) + 1, remote_ids=done,
        audience=audience, on_request=on_request)


def digest_context(channel: str = "test", articles: list[Article] | None = None, *,
                   digest_id: int | None = None, period: str = "manual:test",
                   until: datetime | None = None, state: StateStore | None = None,
                   remote_ids: list[str] | None = None, observer: Any = None,
                   audience: Audience | None = None) -> DigestContext:
    """A :class:`DigestContext`; its ``remote_ids`` grow as the channel records parts."""
    digest = digest_id if digest_id is not None else next(_ids)
    return DigestContext(channel=channel, digest_id=digest, period=period,
                         until=until or utcnow(), articles=list(articles or []),
                         idempotency_key=f"test-digest-{digest}",
                         log=ChannelLog(channel, f"digest {digest}"),
                         state=state or MemoryState(), remote_ids=list(remote_ids or []),
                         observer=observer, audience=audience)
