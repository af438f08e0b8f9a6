"""The one clock: aware UTC datetimes. Tests pass ``now=`` where time matters."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
