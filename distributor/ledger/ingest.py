"""Sources -> stored articles: polling, deduplication and the backlog rule."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.articles import Article, RelatedLink
from distributor.clock import utcnow
from distributor.config import DirectorySourceConfig, FeedSourceConfig
from distributor.ledger.updates import source_updated
from distributor.runtime import Runtime
from distributor.sources import SourceBusy, SourceError, SourceState, fetch_source
from distributor.sources.directory import suffixed_url
from distributor.store.models import ArticleRow, SourceStateRow

log = logging.getLogger("distributor.ingest")


#: how many of a read's problem lines are kept with the source (sources list, dashboard)
MAX_SOURCE_PROBLEMS = 20


def kept_problems(problems: list[str]) -> list[str] | None:
    """The problem lines kept with a source: the first :data:`MAX_SOURCE_PROBLEMS`, and how
    many more there were."""
    if not problems:
        return None
    kept = problems[:MAX_SOURCE_PROBLEMS]
    if len(problems) > len(kept):
        kept.append(f"... and {len(problems) - len(kept)} more (`distributor fetch` lists them)")
    return kept


@dataclass
class PollReport:
    source: str
    new: list[int] = field(default_factory=list)
    seen: int = 0
    not_modified: bool = False
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    #: files changed too recently to be read (maybe still being written): the next poll
    pending: int = 0
    pending_wait: float = 0.0
    #: not polled: the server asked for a pause until then (a feed's Retry-After)
    waiting_until: datetime | None = None


#: NUL and the other control characters (tab and line breaks aside), lone surrogates: no
#: database stores them (PostgreSQL refuses NUL) and no reader wants them
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def clean_article(article: Article) -> Article:
    """A copy of ``article`` without control characters in any of its texts."""
    data = article.model_dump()
    return Article.model_validate({k: _clean(v) for k, v in data.items()})


def to_row(article: Article) -> ArticleRow:
    data = article.model_dump(exclude={"id", "related"})
    return ArticleRow(**data, related=[r.model_dump() for r in article.related])


def from_row(row: ArticleRow) -> Article:
    return Article(
        id=row.id, source=row.source, key=row.key, url=row.url, url_derived=row.url_derived,
        title=row.title,
        title_derived=row.title_derived, dateline=row.dateline, lede=row.lede,
        body=list(row.body or []), author=row.author, editor=row.editor,
        related=[RelatedLink(**r) for r in row.related or []], image=row.image,
        published=row.published, first_seen=row.first_seen, language=row.language,
        tags=list(row.tags or []), content_hash=row.content_hash, backlog=row.backlog,
    )


def find_existing(session: Session, article: Article) -> ArticleRow | None:
    """The stored article this one is a re-read of, or None when it is a new one.

    Within a source an article is its key. Besides, one URL that a feed or a file *gave* is
    one article everywhere (a story that arrives by feed and by folder posts once); a URL
    derived from a ``url_template`` is a guess of the portal's address, so two derived URLs
    (unless the texts are the same: a copy of a file), or a derived and a given one within one
    source, never make two articles one.
    """
    row = session.scalar(
        select(ArticleRow).where(ArticleRow.source == article.source, ArticleRow.key == article.key)
    )
    if row is not None or not article.url:
        return row
    for candidate in session.scalars(
            select(ArticleRow).where(ArticleRow.url == article.url).order_by(ArticleRow.id)):
        if _same_story(candidate, article):
            return candidate
    return None


def _same_story(row: ArticleRow, article: Article) -> bool:
    if row.url_derived and article.url_derived:  # two guesses: the same only as exact copies
        return bool(row.content_hash) and row.content_hash == article.content_hash
    return row.source != article.source or not (row.url_derived or article.url_derived)


def _unique_url(session: Session, article: Article) -> tuple[str, str | None]:
    """A derived URL that no stored article has (``-2``, ``-3``... after the slug), and the
    note that says why it is not the template's; a given URL is kept as it is."""
    taken = session.scalar(select(ArticleRow).where(ArticleRow.url == article.url)
                           .order_by(ArticleRow.id).limit(1))
    if taken is None or not article.url_derived:
        return article.url, None
    number = 2
    while True:
        url = suffixed_url(article, number)
        if session.scalar(select(ArticleRow.id).where(ArticleRow.url == url).limit(1)) is None:
            break
        number += 1
    what = article.key.removeprefix("file:")
    note = (f"{what}: its link {article.url} (from url_template) is already the link of "
            f"article {taken.id} ({taken.key.removeprefix('file:')}); it was stored as a "
            f"separate article with the link {url} (give the file a url: to choose its own)")
    return url, note


def store_article(
    session: Session, article: Article, *, now: datetime, max_age: timedelta | None = None
) -> tuple[ArticleRow, bool]:
    """Store an article unless it is known; return (row, is_new). A new article whose derived
    URL is taken gets a unique one, and :attr:`ArticleRow.url_note` says so."""
    existing = find_existing(session, article)
    if existing is not None:
        return existing, False
    article = clean_article(article)
    article.first_seen = now
    if max_age is not None and article.published is not None:
        article.backlog = now - article.published > max_age
    url, note = _unique_url(session, article)
    article.url = url
    row = to_row(article)
    row.url_note = note
    session.add(row)
    session.flush()
    return row, True


async def poll_source(
    rt: Runtime, source: FeedSourceConfig | DirectorySourceConfig, *, now: datetime | None = None,
    announce_pending: bool = True,
) -> PollReport:
    """Poll one source and store what is new. Never raises for a bad source.
    ``announce_pending``: log the line about files still being written (read next time)."""
    now = now or utcnow()
    report = PollReport(source=source.name)
    with rt.store.session() as session:
        state_row = session.get(SourceStateRow, source.name) or SourceStateRow(source=source.name)
        state = SourceState(etag=state_row.etag, last_modified=state_row.last_modified)
        poll_after = state_row.poll_after
    if poll_after is not None and now < poll_after:  # the server asked for a pause
        report.waiting_until = poll_after
        log.debug("source %s: not polled before %s (its server asked)", source.name,
                  local_time(rt, poll_after))
        return report
    poll_after = None
    try:
        result = await fetch_source(source, state, site_language=rt.config.site.language, now=now)
    except SourceBusy as exc:
        poll_after = exc.retry_at
        report.error = f"{exc}; not polled again before {local_time(rt, poll_after)}"
    except SourceError as exc:
        report.error = str(exc)
    with rt.store.session() as session:
        state_row = session.get(SourceStateRow, source.name) or SourceStateRow(source=source.name)
        session.add(state_row)
        state_row.last_polled_at = now
        state_row.poll_after = poll_after
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
        report.pending, report.pending_wait = result.pending, result.pending_wait
        if announce_pending:
            say_pending(report)
        for problem in result.problems:
            log.warning("source %s: %s", source.name, problem)
        for article in result.articles:
            row, is_new = store_article(session, article, now=now, max_age=source.max_age)
            if is_new:
                report.new.append(row.id)
                if row.url_note:
                    report.problems.append(row.url_note)
                    log.warning("source %s: %s", source.name, row.url_note)
                log.info("new article %s from %s: %s%s", row.id, source.name, row.title,
                         " (older than max_age: stored, not posted)" if row.backlog else "")
            else:
                report.seen += 1
                source_updated(rt, session, row, article, now=now)  # on_update: edit|note
        if not result.not_modified:  # the source was read again: what it skips now
            state_row.problems = kept_problems(report.problems)
    return report


def local_time(rt: Runtime, when: datetime) -> str:
    """``when`` as the newsroom reads it: in the site's time zone."""
    return when.astimezone(rt.config.site.tz).strftime("%Y-%m-%d %H:%M %Z")


#: how long a one-shot command (``fetch``, ``run --once``) waits for files still being
#: written, to read them in the same run
ONE_SHOT_FILE_WAIT = 30.0


def say_pending(report: PollReport) -> None:
    """The line for files changed too recently to be read: the next poll reads them."""
    if report.pending and not report.error:
        log.info("source %s: %s still being written; the next poll reads them", report.source,
                 "1 file is" if report.pending == 1 else f"{report.pending} files are")


async def poll_all(
    rt: Runtime, *, now: datetime | None = None, wait_for_files: float = 0.0,
    announce_pending: bool = True,
) -> list[PollReport]:
    """Poll every source once. ``wait_for_files``: for up to this many seconds, wait for files
    still being written and read them (a one-shot command right after a copy: see
    :data:`ONE_SHOT_FILE_WAIT`), saying so. ``announce_pending``: log the line about the
    files left for the next poll (a command that says it itself passes False)."""
    reports = []
    for source in rt.config.sources:
        reports.append(await poll_source(rt, source, now=now, announce_pending=False))
    deadline = asyncio.get_running_loop().time() + wait_for_files
    while wait_for_files > 0:
        waiting = [i for i, r in enumerate(reports) if r.pending and not r.error]
        left = deadline - asyncio.get_running_loop().time()
        wait = max((reports[i].pending_wait for i in waiting), default=0.0) + 0.1
        if not waiting or wait > left:
            break
        for i in waiting:
            log.info("source %s: waiting %.0f s for %s still being written", reports[i].source,
                     wait, "1 file" if reports[i].pending == 1 else
                     f"{reports[i].pending} files")
        await asyncio.sleep(wait)
        for i in waiting:
            reports[i] = _merged(reports[i], await poll_source(
                rt, rt.config.sources[i], announce_pending=False))
    if announce_pending:
        for report in reports:
            say_pending(report)
    return reports


def _merged(first: PollReport, then: PollReport) -> PollReport:
    """One report for a source polled twice (the second time for the files being written)."""
    if then.error is not None:
        then.new = first.new + then.new
        return then
    return PollReport(source=first.source, new=first.new + then.new,
                      seen=max(0, then.seen - len(first.new)),
                      problems=first.problems + [p for p in then.problems
                                                 if p not in first.problems],
                      pending=then.pending, pending_wait=then.pending_wait)
