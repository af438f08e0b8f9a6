"""The sources as an engineer or editor sees them: when each was last read, whether that
worked, and whether its server asked for a pause (HTTP 429/503 with Retry-After, kept across
restarts). The command line (``distributor sources list``) and the dashboard's channels page
read :func:`source_statuses`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select

from distributor.clock import utcnow
from distributor.config import DirectorySourceConfig, FeedSourceConfig
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, SourceStateRow
from distributor.values import mask_secrets, url_secrets


@dataclass(frozen=True)
class SourceStatus:
    name: str
    type: str
    #: where it reads from: the folder, or the feed's address without what may hold a secret
    #: (a user and password, the query)
    where: str
    last_polled_at: datetime | None = None
    last_ok_at: datetime | None = None
    #: the error of its latest poll, None when that poll worked
    last_error: str | None = None
    #: its server asked not to be polled before then
    poll_after: datetime | None = None
    #: articles stored from it
    articles: int = 0
    #: what its latest read skipped or warned about (a malformed file, an entry without a
    #: link, a feed cut off), one line each
    problems: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """``waiting`` (its server asked for a pause until ``poll_after``), ``failing`` (its
        latest poll did not work), ``skipping`` (it was read, but some of what it holds was
        skipped: see ``problems``), ``ok``, or ``new`` (not polled yet)."""
        if self.poll_after is not None and self.poll_after > utcnow():
            return "waiting"
        if self.last_error:
            return "failing"
        if self.problems:
            return "skipping"
        return "ok" if self.last_polled_at is not None else "new"


def source_statuses(rt: Runtime) -> list[SourceStatus]:
    """Every configured source's status, in channels.yaml's order."""
    with rt.store.session() as session:
        rows = {r.source: r for r in session.scalars(select(SourceStateRow))}
        stored = dict(session.execute(select(ArticleRow.source, func.count())
                                      .group_by(ArticleRow.source)).all())
    out = []
    for source in rt.config.sources:
        row = rows.get(source.name)
        out.append(SourceStatus(
            name=source.name, type=source.type,
            where=_where(source),
            last_polled_at=row.last_polled_at if row else None,
            last_ok_at=row.last_ok_at if row else None,
            # masked again as it is shown: a message stored by an earlier release, or before
            # the address's password or token changed, may hold them
            last_error=_masked(row.last_error, source) if row else None,
            poll_after=row.poll_after if row else None,
            articles=int(stored.get(source.name, 0)),
            problems=tuple(_masked(p, source) or "" for p in (row.problems or ()))
            if row else ()))
    return out


def _where(source: FeedSourceConfig | DirectorySourceConfig) -> str:
    if isinstance(source, DirectorySourceConfig):
        return str(source.path)
    parts = urlsplit(str(source.url))
    if parts.scheme not in ("http", "https"):
        return str(source.url) if parts.scheme != "file" else parts.path
    host = parts.netloc.rpartition("@")[2]  # without a user and password
    return f"{parts.scheme}://{host}{parts.path}{'?…' if parts.query else ''}"


def _masked(error: str | None, source: FeedSourceConfig | DirectorySourceConfig) -> str | None:
    if error is None:
        return None
    secrets = url_secrets(source.url) if isinstance(source, FeedSourceConfig) else []
    return mask_secrets(error, secrets)


def skipped(problems: tuple[str, ...] | list[str] | None) -> int:
    """How many problems a source's latest read had, from the lines kept with it (the last
    may say "... and N more")."""
    problems = list(problems or ())
    if problems and problems[-1].startswith("... and "):
        try:
            return len(problems) - 1 + int(problems[-1].split()[2])
        except (IndexError, ValueError):
            pass
    return len(problems)
