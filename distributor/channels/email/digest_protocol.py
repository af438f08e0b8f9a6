"""The email channel's side of the plugin API's digest protocol: a thin shim over the
fan-out (one mail to every confirmed subscriber), until the fan-out moves onto the protocol
itself. The fan-out's progress keeps the core's hold on the digest alive and reaches the
interface's display (``ctx.observer``); its numbers go into ``ctx.stats`` for the summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from distributor.plugin import DigestContext


async def send_digest(fan_out: Callable[[Any], Awaitable[Any]], ctx: DigestContext) -> str:
    """Run the fan-out (given the progress object it reports to); returns the run's id."""
    stats = await fan_out(_Watch(ctx))
    ctx.stats.update(stats_numbers(stats))
    return f"fanout-run-{stats.run_id}"


class _Watch:
    """The fan-out's progress (its FanoutStats), told to the digest's context (which keeps
    this process's hold on the digest and counts how many were served) and to the display."""

    def __init__(self, ctx: DigestContext):
        self.ctx = ctx

    def update(self, stats: Any) -> None:
        self.ctx.progress(stats.done_before + stats.done, stats.total)
        if self.ctx.observer is not None:
            self.ctx.observer.update(stats)

    def close(self, stats: Any) -> None:
        self.ctx.progress(stats.done_before + stats.done, stats.total)
        if self.ctx.observer is not None:
            self.ctx.observer.close(stats)


def stats_numbers(stats: Any) -> dict[str, float]:
    """The fan-out's numbers for the summary (``digest send`` prints them)."""
    return {"sent": stats.sent, "bounced": stats.bounced, "failed": stats.failed,
            "retried": stats.retried, "resent": stats.resent,
            "done_before": stats.done_before, "elapsed": round(stats.elapsed, 3),
            "rate": round(stats.rate, 1)}
