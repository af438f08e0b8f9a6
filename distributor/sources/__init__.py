"""Sources: where articles come from (feeds, folders of article files).

``fetch_source`` is the one entry point the rest of the system calls. A source never raises
anything but :class:`SourceError` for a problem with its input; the caller logs the one line
and moves on to the next source.
"""

from __future__ import annotations

from datetime import datetime

from distributor.config import DirectorySourceConfig, FeedSourceConfig
from distributor.sources.base import FetchResult, SourceBusy, SourceError, SourceState
from distributor.values import mask_secrets, url_secrets

__all__ = ["FetchResult", "SourceBusy", "SourceError", "SourceState", "fetch_source"]


async def fetch_source(
    config: FeedSourceConfig | DirectorySourceConfig,
    state: SourceState,
    *,
    site_language: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """What ``config``'s source holds now. Raises :class:`SourceError` (one line). A password
    or token written into a feed's address is in none of its lines (``***``)."""
    if config.type == "feed":
        from distributor.sources.feed import fetch_feed

        secrets = url_secrets(config.url)
        if not secrets:
            return await fetch_feed(config, state, site_language=site_language, now=now)
        try:
            result = await fetch_feed(config, state, site_language=site_language, now=now)
        except SourceBusy as exc:
            raise SourceBusy(mask_secrets(str(exc), secrets), exc.retry_at) from None
        except SourceError as exc:
            raise SourceError(mask_secrets(str(exc), secrets)) from None
        result.problems = [mask_secrets(p, secrets) for p in result.problems]
        return result
    from distributor.sources.directory import read_directory

    return await read_directory(config, state, site_language=site_language, now=now)
