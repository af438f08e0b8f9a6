"""The three outcomes a failed send can have. The core decides what follows from each:
a transient error is retried (after ``retry_after`` when given), a permanent one ends the
delivery as ``failed`` with the platform's reason, an ambiguous one makes it ``unknown`` (never
sent again by itself: reconciled where the channel can, else shown to editors)."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime


class ChannelError(Exception):
    """Base of the three outcomes a failed send can have."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


#: the longest wait a platform's answer can impose (a "Retry-After: 1e20" or "inf" from a broken
#: or hostile server is taken as a week, not as an error that stops the work)
RETRY_AFTER_MAX = 7 * 24 * 3600.0


def _bounded(seconds: float | None) -> float | None:
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


class TransientError(ChannelError):
    """Nothing was published; trying again later may work (429, 5xx, connection refused).

    ``retry_after``: seconds the platform asked to wait (Retry-After); a rate limit never
    uses up attempts. ``channel_wide``: the whole channel waits (rate limits, outages), which
    keeps the order of the posts queued behind it.
    """

    def __init__(self, message: str, retry_after: float | None = None, *,
                 channel_wide: bool = True):
        super().__init__(message)
        self.retry_after = _bounded(retry_after)
        self.channel_wide = channel_wide


class ChannelBusy(TransientError):
    """Another process is sending this very thing right now (it holds the lease); nothing was
    done here. The core leaves the work to that process."""

    def __init__(self, message: str):
        super().__init__(message, channel_wide=False)


class PermanentError(ChannelError):
    """Nothing was published and trying again will not help (bad request, no rights).

    ``pause_channel``: the channel itself is unusable (bad credentials): the core stops
    sending on it until an editor resumes it.
    """

    def __init__(self, message: str, *, pause_channel: bool = False):
        super().__init__(message)
        self.pause_channel = pause_channel


class AmbiguousError(ChannelError):
    """The request may have reached the platform, but no answer came: the outcome is unknown."""


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP ``Retry-After`` value in seconds (it is a number of seconds or an HTTP date);
    None when it is missing or unreadable; a week at most (:data:`RETRY_AFTER_MAX`). For
    :class:`TransientError`'s ``retry_after``."""
    if not value:
        return None
    try:
        return _bounded(float(value))
    except ValueError:
        pass
    try:
        return _bounded(parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
