"""Sources: where articles come from (feeds, folders of article files).

``fetch_source`` is the one entry point the rest of the system calls. A source never raises
anything but :class:`SourceError` for a problem with its input; the caller logs the one line
and moves on to the next source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from distributor.articles import Article
from distributor.config import DirectorySourceConfig, FeedSourceConfig


class SourceError(Exception):
    """A source could not be read. The message is one line: what, where, what to do."""


@dataclass
class SourceState:
    """What a source keeps between polls (stored per source in the database)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FetchResult:
    articles: list[Article] = field(default_factory=list)
    state: SourceState = field(default_factory=SourceState)
    not_modified: bool = False
    #: one-line problems with single items (a malformed file, an entry without a link);
    #: the other items were read
    problems: list[str] = field(default_factory=list)


async def fetch_source(
    config: FeedSourceConfig | DirectorySourceConfig,
    state: SourceState,
    *,
    site_language: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    if config.type == "feed":
        from distributor.sources.feed import fetch_feed

        return await fetch_feed(config, state, site_language=site_language, now=now)
    from distributor.sources.directory import read_directory

    return await read_directory(config, state, site_language=site_language, now=now)
