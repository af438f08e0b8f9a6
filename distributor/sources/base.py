"""What every source returns: its articles, its state between polls, its problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from distributor.articles import Article


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
    #: files changed too recently to be read (maybe still being written): read at the next poll
    pending: int = 0
    #: seconds after which they may be read
    pending_wait: float = 0.0
