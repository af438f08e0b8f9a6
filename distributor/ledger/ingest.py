"""Sources -> stored articles: polling, deduplication and the backlog rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.articles import Article, RelatedLink
from distributor.clock import utcnow
from distributor.config import DirectorySourceConfig, FeedSourceConfig
from distributor.ledger.updates import source_updated
from distributor.runtime import Runtime
from distributor.sources import SourceError, SourceState, fetch_source
from distributor.store.models import ArticleRow, SourceStateRow

log = logging.getLogger("distributor.ingest")


@dataclass
class PollReport:
    source: str
    new: list[int] = field(default_factory=list)
    seen: int = 0
    not_modified: bool = False
    problems: list[str] = field(default_factory=list)
    error: str | None = None


def to_row(article: Article) -> ArticleRow:
    data = article.model_dump(exclude={"id", "related"})
    return ArticleRow(**data, related=[r.model_dump() for r in article.related])


def from_row(row: ArticleRow) -> Article:
    return Article(
        id=row.id, source=row.source, key=row.key, url=row.url, title=row.title,
        title_derived=row.title_derived, dateline=row.dateline, lede=row.lede,
        body=list(row.body or []), author=row.author, editor=row.editor,
        related=[RelatedLink(**r) for r in row.related or []], image=row.image,
        published=row.published, first_seen=row.first_seen, language=row.language,
        tags=list(row.tags or []), content_hash=row.content_hash, backlog=row.backlog,
    )


def find_existing(session: Session, article: Article) -> ArticleRow | None:
    """The stored article this one is a re-read of: same source and key, or same URL."""
    row = session.scalar(
        select(ArticleRow).where(ArticleRow.source == article.source, ArticleRow.key == article.key)
    )
    if row is None and article.url:
        row = session.scalar(select(ArticleRow).where(ArticleRow.url == article.url).limit(1))
    return row


def store_article(
    session: Session, article: Article, *, now: datetime, max_age: timedelta | None = None
) -> tuple[ArticleRow, bool]:
    """Store an article unless it is known; return (row, is_new)."""
    existing = find_existing(session, article)
    if existing is not None:
        return existing, False
    article = article.model_copy()
    article.first_seen = now
    if max_age is not None and article.published is not None:
        article.backlog = now - article.published > max_age
    row = to_row(article)
    session.add(row)
    session.flush()
    return row, True


async def poll_source(
    rt: Runtime, source: FeedSourceConfig | DirectorySourceConfig, *, now: datetime | None = None
) -> PollReport:
    """Poll one source and store what is new. Never raises for a bad source."""
    now = now or utcnow()
    report = PollReport(source=source.name)
    with rt.store.session() as session:
        state_row = session.get(SourceStateRow, source.name) or SourceStateRow(source=source.name)
        state = SourceState(etag=state_row.etag, last_modified=state_row.last_modified)
    try:
        result = await fetch_source(source, state, site_language=rt.config.site.language, now=now)
    except SourceError as exc:
        report.error = str(exc)
    with rt.store.session() as session:
        state_row = session.get(SourceStateRow, source.name) or SourceStateRow(source=source.name)
        session.add(state_row)
        state_row.last_polled_at = now
        if report.error is not None:
            state_row.last_error = report.error
            log.warning("source %s: %s", source.name, report.error)
            return report
        state_row.last_error = None
        state_row.last_ok_at = now
        state_row.etag = result.state.etag
        state_row.last_modified = result.state.last_modified
        report.not_modified = result.not_modified
        report.problems = list(result.problems)
        for problem in result.problems:
            log.warning("source %s: %s", source.name, problem)
        for article in result.articles:
            row, is_new = store_article(session, article, now=now, max_age=source.max_age)
            if is_new:
                report.new.append(row.id)
                log.info("new article %s from %s: %s%s", row.id, source.name, row.title,
                         " (older than max_age: stored, not posted)" if row.backlog else "")
            else:
                report.seen += 1
                source_updated(rt, session, row, article, now=now)  # on_update: edit|note
    return report


async def poll_all(rt: Runtime, *, now: datetime | None = None) -> list[PollReport]:
    reports = []
    for source in rt.config.sources:
        reports.append(await poll_source(rt, source, now=now))
    return reports
