"""A channel's lasting states (paused, waiting) are logged when they begin or change, not at
every pass of the scheduler: one line per state change, per process."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.store.models import Delivery


class StateNotices:
    """Remembers the last line said about each (channel, kind) and says a line only when the
    state changed; :meth:`clear` when the state ended, so its next beginning is said again."""

    def __init__(self) -> None:
        self._said: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def say(self, log: logging.Logger, level: int, channel: str, kind: str, state: str,
            line: str, *args: object) -> bool:
        """Log ``line % args`` if ``state`` is new for (channel, kind); True when logged."""
        with self._lock:
            if self._said.get((channel, kind)) == state:
                return False
            self._said[(channel, kind)] = state
        log.log(level, line, *args)
        return True

    def clear(self, channel: str, kind: str) -> None:
        with self._lock:
            self._said.pop((channel, kind), None)


#: this process's notices (the scheduler's passes and the dispatcher's drains share them)
NOTICES = StateNotices()


def why_waiting(session: Session, channel: str) -> str:
    """Why a channel's next send waits: the error that held it back, else its pacing."""
    error = session.scalars(
        select(Delivery.last_error).where(
            Delivery.channel == channel, Delivery.state == "retry",
            Delivery.last_error.is_not(None))
        .order_by(Delivery.next_attempt_at.desc()).limit(1)).first()
    if error:
        return f"after: {error}"
    return "its pacing: the platform's allowance or the channel's rate"
