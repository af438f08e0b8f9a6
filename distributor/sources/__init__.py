"""Sources: where articles come from (feeds, folders of article files).

``fetch_source`` is the one entry point the rest of the system calls. A source never raises
anything but :class:`SourceError` for a problem with its input; the caller logs the one line
and moves on to the next source.
"""

from __future__ import annotations

from datetime import datetime

from distributor.config import DirectorySourceConfig, FeedSourceConfig
from distributor.sources.base import FetchResult, SourceBusy, SourceError, SourceState

__all__ = ["FetchResult", "SourceBusy", "SourceError", "SourceState", "fetch_source"]


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
