"""Dry runs: what a real pass would publish, written to the outbox; the ledger is not
touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from distributor.channels.outbox import dry_run_outbox
from distributor.clock import utcnow
from distributor.ledger.deliveries import DEFAULT_WINDOW
from distributor.ledger.ingest import from_row
from distributor.plugin import slugify
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Delivery


@dataclass
class PreviewItem:
    article_id: int
    title: str
    channel: str
    messages: int
    files: list[str]


def outbox_name(article_id: int | None, title: str) -> str:
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
        adapter = dry_run_outbox(rt.adapter(channel.name))
        for article in articles:
            assert article.id is not None
            if (article.id, channel.name) in delivered:
                continue
            messages = adapter.render(article, rt.context(channel, now=now))
            paths = adapter.write(outbox_name(article.id, article.title), messages)
            items.append(PreviewItem(article.id, article.title, channel.name, len(messages),
                                     [str(p) for p in paths]))
    return items
