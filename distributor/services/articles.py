"""Finding an article an editor names: ARTICLE on the command line (a stored id, an article
URL, or a path to an article file), or the text an editor pasted into a chat."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.config import DirectorySourceConfig
from distributor.ledger.ingest import from_row, store_article
from distributor.plugin.desk import DeskError
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow
from distributor.text import detect_language, parse_article_text

_URL = re.compile(r"https?://[^\s<>\"']+")


class ArticleNotFound(click.ClickException):
    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def resolve_article(rt: Runtime, ref: str, *, store: bool) -> Article:
    """Find or load the article ``ref`` names; with ``store``, a file is stored (deduplicated)."""
    if ref.isdigit():
        with rt.store.session() as session:
            row = session.get(ArticleRow, int(ref))
            if row is None:
                raise ArticleNotFound(f"no stored article {ref}; `distributor articles list` "
                                      "shows the ids")
            return from_row(row)
    if ref.startswith(("http://", "https://")):
        with rt.store.session() as session:
            row = session.scalar(select(ArticleRow).where(ArticleRow.url == ref).limit(1))
            if row is None:
                raise ArticleNotFound(f"no stored article with the URL {ref}; run `distributor "
                                      "fetch` to read the sources, or push the article's file")
            return from_row(row)
    path = Path(ref)
    if not path.is_file():
        raise ArticleNotFound(f"{ref} is neither a stored article id, an article URL nor an "
                              "article file (.txt, .md, .json)")
    return _load_file(rt, path, store=store)


def _load_file(rt: Runtime, path: Path, *, store: bool) -> Article:
    from distributor.sources import SourceError
    from distributor.sources.directory import load_article_file

    source = _directory_source_of(rt, path)
    try:
        if source is not None:
            article = load_article_file(path.resolve(), source=source.name,
                                        url_template=source.url_template,
                                        language=source.language,
                                        default_language=rt.config.site.language,
                                        root=source.path.resolve())
        else:
            template = _first_template(rt)
            article = load_article_file(path.resolve(), source="manual", url_template=template,
                                        default_language=rt.config.site.language)
    except SourceError as exc:
        raise ArticleNotFound(str(exc)) from None
    if not store:
        with rt.store.session() as session:
            from distributor.ledger.ingest import find_existing

            existing = find_existing(session, article)
            if existing is not None:
                article.id = existing.id
        return article
    now = utcnow()
    with rt.store.session() as session:
        row, _ = store_article(session, article, now=now)
        # an editor's push is never backlog
        row.backlog = False
        return from_row(row)


def _directory_source_of(rt: Runtime, path: Path) -> DirectorySourceConfig | None:
    resolved = path.resolve()
    for source in rt.config.sources:
        if isinstance(source, DirectorySourceConfig):
            try:
                resolved.relative_to(source.path.resolve())
            except ValueError:
                continue
            return source
    return None


def _first_template(rt: Runtime) -> str | None:
    for source in rt.config.sources:
        if isinstance(source, DirectorySourceConfig) and source.url_template:
            return source.url_template
    return None


def article_from_text(text: str, *, default_language: str = "en",
                      now: datetime | None = None) -> Article:
    """An article from pasted text: the first http(s) link is its URL (a line that is only the
    link is dropped from the text); the rest is parsed like an article file. Raises
    :class:`DeskError` without a link or without a story besides it."""
    match = _URL.search(text)
    if match is None:
        raise DeskError("Which page should the post link to? Send the text again with the "
                        "article's link in it (the first link in the text is used).")
    url = match.group(0).rstrip(".,;:!?)]}»”’")
    lines = [line for line in text.splitlines() if line.strip() not in (url, f"<{url}>")]
    story = "\n".join(lines).strip()
    parsed = parse_article_text(story, language=detect_language(story, default_language))
    if not parsed.lede:
        raise DeskError("There is no article text besides the link. Paste the story itself "
                        "(a short title line first, if it has one) with its link.")
    return Article(
        source="editor", key=url, url=url, title=parsed.title or parsed.headline,
        title_derived=parsed.title is None, dateline=parsed.dateline, lede=parsed.lede,
        body=parsed.body, author=parsed.author, editor=parsed.editor, related=parsed.related,
        language=parsed.language, published=now or utcnow(),
    )
