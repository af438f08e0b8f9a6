"""``GET /metrics``: Prometheus text format, read from the store at each scrape.

The numbers come from the database, not from this process's memory, so they are right
whichever process (``run``, ``worker``, ``serve``) did the work:

- ``distributor_articles_seen_total{source}``: articles stored;
- ``distributor_source_problems{source}``: what the source's latest read skipped;
- ``distributor_deliveries{channel,state}``: the ledger, every state of every channel;
- ``distributor_delivery_latency_seconds{channel}``: from a delivery entering the ledger to
  the platform accepting it (sent deliveries);
- ``distributor_subscribers{channel,state}``; ``distributor_digests{channel,state}``;
- ``distributor_digest_recipients{channel}`` and ``distributor_digest_served{channel,state}``
  for digests being sent (their progress);
- ``distributor_channel_paused{channel}``: 1 while a channel is paused;
- ``distributor_store_up``: 0 when the database could not be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from distributor.interfaces.web.queries import running_digests
from distributor.services.sources import skipped
from distributor.store.models import (
    ArticleRow,
    ChannelState,
    Delivery,
    Digest,
    SourceStateRow,
    Subscriber,
)

if TYPE_CHECKING:
    from distributor.runtime import Runtime

log = logging.getLogger("distributor.interfaces.web.metrics")

LATENCY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)
DELIVERY_STATES = ("pending", "sending", "retry", "sent", "failed", "unknown", "held")


def _latency_seconds(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Delivery.sent_at - Delivery.created_at)
    return (func.julianday(Delivery.sent_at) - func.julianday(Delivery.created_at)) * \
        literal_column("86400.0")


class StoreCollector(Collector):
    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("distributor_store_up", "1 when the database could be read")
        try:
            with self.rt.store.session() as session:
                families = list(self._families(session))
        except Exception as exc:  # the scrape still answers, saying the store is down
            from distributor.store.db import store_problem

            log.warning("metrics: cannot read the store: %s",
                        store_problem(exc, self.rt.config.database,
                                      self.rt.config.where("database")))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session) -> Iterable[Metric]:
        articles = CounterMetricFamily("distributor_articles_seen",
                                       "Articles stored, per source", labels=["source"])
        seen = dict(session.execute(select(ArticleRow.source, func.count())
                                    .group_by(ArticleRow.source)).all())
        for source in sorted({s.name for s in self.rt.config.sources} | set(seen)):
            articles.add_metric([source], int(seen.get(source, 0)))
        yield articles

        problems = GaugeMetricFamily(
            "distributor_source_problems", "What the source's latest read skipped or warned "
            "about (malformed files, entries without a link, a feed cut off): `distributor "
            "sources list`", labels=["source"])
        kept = dict(session.execute(select(SourceStateRow.source, SourceStateRow.problems)).all())
        for source_config in self.rt.config.sources:
            problems.add_metric([source_config.name], skipped(kept.get(source_config.name)))
        yield problems

        paused = GaugeMetricFamily(
            "distributor_channel_paused", "1 while a channel is paused (its credentials were "
            "refused; `distributor channels resume NAME` after fixing them)", labels=["channel"])
        stopped = {s.channel for s in session.scalars(
            select(ChannelState).where(ChannelState.paused_reason.is_not(None)))}
        for channel_config in self.rt.config.channels:
            paused.add_metric([channel_config.name], int(channel_config.name in stopped))
        yield paused

        deliveries = GaugeMetricFamily("distributor_deliveries",
                                       "Deliveries in the ledger, per channel and state",
                                       labels=["channel", "state"])
        found = {(c, s): int(n) for c, s, n in session.execute(
            select(Delivery.channel, Delivery.state, func.count())
            .group_by(Delivery.channel, Delivery.state))}
        channels = sorted({c.name for c in self.rt.config.channels} | {c for c, _ in found})
        for channel in channels:
            for state in sorted(set(DELIVERY_STATES) | {s for c, s in found if c == channel}):
                deliveries.add_metric([channel, state], found.get((channel, state), 0))
        yield deliveries

        latency = HistogramMetricFamily(
            "distributor_delivery_latency_seconds",
            "Seconds from a delivery entering the ledger to the platform accepting it",
            labels=["channel"])
        seconds = _latency_seconds(session)
        columns = [func.count(case((seconds <= bound, 1))) for bound in LATENCY_BUCKETS]
        rows = session.execute(
            select(Delivery.channel, func.count(), func.coalesce(func.sum(seconds), 0.0),
                   *columns)
            .where(Delivery.state == "sent", Delivery.sent_at.is_not(None))
            .group_by(Delivery.channel)).all()
        for row in rows:
            channel, total, total_seconds = row[0], int(row[1]), float(row[2] or 0.0)
            buckets = [(_bound(b), int(n)) for b, n in zip(LATENCY_BUCKETS, row[3:],
                                                            strict=True)]
            buckets.append(("+Inf", total))
            latency.add_metric([channel], buckets, total_seconds)
        yield latency

        subscribers = GaugeMetricFamily("distributor_subscribers",
                                        "Email subscribers, per channel and state",
                                        labels=["channel", "state"])
        for channel, state, n in session.execute(
                select(Subscriber.channel, Subscriber.state, func.count())
                .group_by(Subscriber.channel, Subscriber.state).order_by(Subscriber.channel)):
            subscribers.add_metric([channel, state], int(n))
        yield subscribers

        digests = GaugeMetricFamily("distributor_digests", "Digests, per channel and state",
                                    labels=["channel", "state"])
        for channel, state, n in session.execute(
                select(Digest.channel, Digest.state, func.count())
                .group_by(Digest.channel, Digest.state).order_by(Digest.channel)):
            digests.add_metric([channel, state], int(n))
        yield digests

        recipients = GaugeMetricFamily(
            "distributor_digest_recipients",
            "Subscribers the digests being sent serve in all", labels=["channel"])
        served = GaugeMetricFamily(
            "distributor_digest_served",
            "Subscribers the digests being sent have served so far, by outcome",
            labels=["channel", "state"])
        totals: dict[str, list[int]] = {}
        for progress in running_digests(session):
            t = totals.setdefault(progress.channel, [0, 0, 0, 0])
            t[0] += progress.total
            t[1] += progress.sent
            t[2] += progress.bounced
            t[3] += progress.failed
        for channel, (total, sent, bounced, failed) in sorted(totals.items()):
            recipients.add_metric([channel], total)
            served.add_metric([channel, "sent"], sent)
            served.add_metric([channel, "bounced"], bounced)
            served.add_metric([channel, "failed"], failed)
        yield recipients
        yield served


def _bound(value: float) -> str:
    return str(int(value)) + ".0" if value == int(value) else str(value)


def metrics_endpoint(rt: Runtime) -> Any:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(rt))

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    return metrics
