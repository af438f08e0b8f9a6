"""What a fan-out run reports while it goes and when it ends: :class:`FanoutStats`, shown by
a :class:`Progress` (the CLI's progress line, the dashboard)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class FanoutStats:
    run_id: int = 0
    #: subscribers this run serves in all (those done before this start included)
    total: int = 0
    #: send rows that existed when this start began (a resumed run)
    done_before: int = 0
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    #: 4xx answers that were retried later
    retried: int = 0
    #: messages sent again after a broken connection (they may reach the inbox twice)
    resent: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    slow_path: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.bounced + self.failed

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done_before - self.done)

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return self.remaining / rate if rate > 0 else None


class Progress(Protocol):
    def update(self, stats: FanoutStats) -> None: ...

    def close(self, stats: FanoutStats) -> None: ...
