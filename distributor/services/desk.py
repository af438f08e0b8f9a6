"""The editor services a channel's editor bot receives at start: :class:`ServiceDesk`, the
core's implementation of :class:`distributor.plugin.desk.Desk`. The bot imports nothing of the
core but the plugin API; what it asks for goes through the same services as the command line
and the dashboard."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.config import ChannelConfig, cron_trigger
from distributor.engine.digests import digest_channels, plan_digest, schedule_of
from distributor.ledger.ingest import find_existing, from_row, store_article
from distributor.plugin.actions import ActionOutcome
from distributor.plugin.desk import (
    DeliveryView,
    DeskStatus,
    NotFound,
    PickOutcome,
    Placement,
    PushOutcome,
    RetryOutcome,
)
from distributor.render.context import Message
from distributor.runtime import Runtime
from distributor.services import deliveries as services
from distributor.services.articles import ArticleNotFound, article_from_text, resolve_article
from distributor.services.sending import Sender, view
from distributor.store.models import ArticleRow, ChannelState, Delivery

log = logging.getLogger("distributor.services")


class ServiceDesk:
    """:class:`~distributor.plugin.desk.Desk` on a runtime; pushes and retries go through
    ``sender`` (the scheduler's dispatcher in embedded mode, the workers in distributed)."""

    def __init__(self, rt: Runtime, sender: Sender | None = None):
        self.rt = rt
        self.sender = sender or Sender(rt)
        self.site = rt.config.site
        self.web = rt.config.web
        self.dry_run = rt.dry_run

    def channels(self) -> list[ChannelConfig]:
        return self.rt.channels()

    def publishable(self) -> list[ChannelConfig]:
        return [c for c in self.rt.channels() if c.publish in ("instant", "manual")]

    def digest_channels(self) -> list[ChannelConfig]:
        return digest_channels(self.rt)

    def find_article(self, ref: str) -> Article:
        try:
            return resolve_article(self.rt, ref, store=False)
        except ArticleNotFound:
            raise NotFound("article", ref) from None

    def read_pasted(self, text: str, *, now: datetime) -> Article:
        return article_from_text(text, default_language=self.site.language, now=now)

    def take_pasted(self, article: Article, *, by: str) -> tuple[Article, bool]:
        with self.rt.store.session() as session:
            existing = find_existing(session, article)
            if existing is not None:
                return from_row(existing), True
            row, _ = store_article(session, article, now=article.published or utcnow())
            row.backlog = True  # nothing publishes it until an editor says so
            row.editor = row.editor or by
            session.flush()
            return from_row(row), False

    def article(self, article_id: int) -> tuple[Article, bool]:
        with self.rt.store.session() as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise NotFound("article", article_id)
            return from_row(row), row.backlog

    def render(self, channel: str, article: Article) -> list[Message]:
        config = self.rt.config.channel(channel)
        return self.rt.adapter(channel).render(article, self.rt.context(config))

    def deliveries_of(self, article_id: int) -> dict[str, DeliveryView]:
        with self.rt.store.session() as session:
            return {d.channel: view(d) for d in session.scalars(
                select(Delivery).where(Delivery.article_id == article_id))}

    def placement(self, article_id: int, now: datetime) -> list[Placement]:
        out = []
        for channel in digest_channels(self.rt):
            plan = plan_digest(self.rt, channel, until=now, period="placement")
            schedule = schedule_of(channel)
            assert schedule is not None
            fire = cron_trigger(schedule, timezone=self.site.tz).get_next_fire_time(None, now)
            out.append(Placement(channel.name, any(a.id == article_id for a in plan.articles),
                                 fire))
        return out

    def status(self, *, last: int = 10) -> DeskStatus:
        with self.rt.store.session() as session:
            paused = {s.channel: s.paused_reason or "" for s in session.scalars(
                select(ChannelState).where(ChannelState.paused_reason.is_not(None)))}
        return DeskStatus(recent=services.recent(self.rt, limit=last),
                          waiting=services.recent(self.rt, states=("unknown", "failed"),
                                                  limit=20),
                          paused=paused)

    async def push(self, article_id: int, channels: Sequence[str], *, by: str,
                   force: bool = False, wait: float = 30.0) -> list[PushOutcome]:
        return await services.push(self.rt, article_id, list(channels), by=by, force=force,
                                   sender=self.sender, wait=wait)

    async def retry(self, delivery_id: int, *, force: bool = False,
                    wait: float = 30.0) -> RetryOutcome:
        return await services.retry(self.rt, delivery_id, force=force, sender=self.sender,
                                    wait=wait)

    def resolve(self, delivery_id: int, *, sent: bool,
                remote_id: str | None = None) -> DeliveryView:
        return services.resolve(self.rt, delivery_id, sent=sent, remote_id=remote_id)

    async def retract(self, article_id: int, channels: list[str] | None = None, *,
                      reason: str, by: str, wait: float = 30.0) -> list[ActionOutcome]:
        from distributor.services import corrections

        return await corrections.retract(self.rt, article_id, channels, reason=reason, by=by,
                                         sender=self.sender, wait=wait)

    async def correct(self, article_id: int, channels: list[str] | None = None, *,
                      note: str | None = None, by: str,
                      wait: float = 30.0) -> list[ActionOutcome]:
        from distributor.services import corrections

        return await corrections.correct(self.rt, article_id, channels, note=note, by=by,
                                         sender=self.sender, wait=wait)

    def pick(self, channel: str, article_id: int, *, include: bool, by: str) -> PickOutcome:
        return services.pick(self.rt, channel, article_id, include=include, by=by)
