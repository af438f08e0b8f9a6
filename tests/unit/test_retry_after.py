"""A platform's Retry-After, read as seconds to wait, whatever the server sends."""

from __future__ import annotations

import pytest

from distributor.plugin import TransientError, retry_after_seconds
from distributor.plugin.errors import RETRY_AFTER_MAX


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("0", 0.0), ("-5", 0.0), ("1.5", 1.5),
    ("1e20", RETRY_AFTER_MAX), ("inf", RETRY_AFTER_MAX), ("nan", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
    ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_MAX), ("soon", None), ("", None),
    (None, None),
])
def test_retry_after_is_seconds_between_now_and_a_week(value: str | None,
                                                       seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_a_transient_error_never_asks_to_wait_forever() -> None:
    assert TransientError("429", float("inf")).retry_after == RETRY_AFTER_MAX
    assert TransientError("429", 1e300).retry_after == RETRY_AFTER_MAX
