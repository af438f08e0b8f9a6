"""What every source returns: its articles, its state between polls, its problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from distributor.articles import Article


class SourceError(Exception):
    """A source could not be read. The message is one line: what, where, what to do."""


class SourceBusy(SourceError):
    """The server asked not to be polled again before ``retry_at`` (an HTTP 429 or 503 with
    ``Retry-After``); the caller keeps that time and skips the polls before it."""

    def __init__(self, message: str, retry_at: datetime):
        super().__init__(message)
        self.retry_at = retry_at


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
