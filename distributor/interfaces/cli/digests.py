"""``digest send``: a channel's digest now, with a progress display and a summary.
Registered by :mod:`distributor.interfaces.cli`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from distributor.interfaces.cli.common import UserError, digest_channel, run_async, say
from distributor.logs import json_logs

# --------------------------------------------------------------------------- digest send


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TerminalProgress:
    """A progress bar on stderr: done/total, messages per second, time left."""

    def __init__(self, label: str, *, stream: Any = None, width: int = 28):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.last = 0.0
        self.drawn = False

    def update(self, stats: Any) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        self._draw(stats)

    def _draw(self, stats: Any) -> None:
        total = max(stats.total, 1)
        done = min(stats.done_before + stats.done, total)
        filled = int(self.width * done / total)
        bar = "█" * filled + "░" * (self.width - filled)
        line = (f"\r{self.label} {bar} {100 * done / total:5.1f}%  {done:,}/{stats.total:,}  "
                f"{stats.rate:,.0f} msg/s  {_duration(stats.eta)} left")
        self.stream.write(line + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self, stats: Any) -> None:
        self._draw(stats)
        self.stream.write("\n")
        self.stream.flush()


class LineProgress:
    """When stderr is not a terminal: a plain line every ``every`` seconds (``emit``: how a
    line is said; with --log-format json, a JSON object)."""

    def __init__(self, label: str, *, stream: Any = None, every: float = 5.0,
                 emit: Callable[[str], None] | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.every = every
        self.last = time.monotonic()
        self.emit = emit or self._write

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def update(self, stats: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        done = stats.done_before + stats.done
        self.emit(f"{self.label}: {done}/{stats.total} served, {stats.rate:.0f} messages/s, "
                  f"{_duration(stats.eta)} left")

    def close(self, stats: Any) -> None:
        return None


def progress_for(label: str, stream: Any = None) -> TerminalProgress | LineProgress:
    """A bar on a terminal, else a line every few seconds; with --log-format json, a JSON
    object every few seconds (never a bar: every line on stderr is one object)."""
    if json_logs():
        return LineProgress(label, emit=say)
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return TerminalProgress(label, stream=stream)
    return LineProgress(label, stream=stream)


@click.command("send")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The digest channel (publish: digest).")
@click.option("--dry-run", is_flag=True,
              help="Render the digest into the outbox and say who would get it; send nothing "
                   "and use nothing up (the articles stay for the real digest).")
@click.pass_obj
@run_async
async def digest_send(state: Any, channel_name: str, dry_run: bool) -> None:
    """Send a channel's digest now, with the articles since its last digest.

    A digest left half-sent by a stopped process is finished first (only the subscribers it
    had not reached get it). On a terminal a progress bar shows messages per second and the
    time left; then a summary. A digest that got no answer (its outcome unknown: it may have
    been published) is one line on stderr saying what to do, and exit status 1. A list
    channel without confirmed subscribers sends nothing and keeps its articles for the next
    digest. --dry-run writes the digest to the outbox and says who would get it.
    """
    from distributor.engine.digests import run_digest, unfinished_digests

    rt = state.runtime(channels=[channel_name], dry_run=dry_run, announce=dry_run)
    try:
        channel = digest_channel(rt, channel_name)
        if dry_run:
            unfinished = unfinished_digests(rt, channel)
            outcome = await run_digest(rt, channel)
        else:
            outcome = await run_digest(rt, channel, progress=progress_for(channel.name))
    finally:
        await rt.close()
    if dry_run:
        for line in dry_run_lines(outcome, unfinished, rt.config.outbox):
            click.echo(line)
        return
    if outcome.state == "unknown":
        raise UserError(unknown_line(outcome))
    click.echo(summary(outcome))
    if outcome.state in ("failed", "interrupted"):
        raise SystemExit(1)


def dry_run_lines(outcome: Any, unfinished: list[int], outbox: Any) -> list[str]:
    """What ``digest send --dry-run`` says: what the digest holds, who would get it, where
    it was written; then that nothing was sent."""
    from distributor.interfaces.cli.common import _rel

    head = f"digest {outcome.channel} (dry run)"
    lines = []
    if unfinished:
        lines.append(f"{head}: a real send would first finish digest {unfinished[0]}, left "
                     "half-sent by a stopped process")
    n = outcome.articles
    articles = f"{n} article{'s' if n != 1 else ''}"
    if outcome.state != "written":
        lines.append(f"{head}: {outcome.state} ({articles}): {outcome.detail}; nothing would "
                     "be sent")
    else:
        messages = f"{outcome.messages} message{'s' if outcome.messages != 1 else ''}"
        if outcome.recipients is None:
            who = f"{articles} in {messages} to the channel"
        elif outcome.recipients == 0:
            who = (f"{articles}, but the channel has no confirmed subscribers: a real send "
                   "sends nothing and keeps the articles for the next digest")
        else:
            people = outcome.recipients
            who = (f"{articles} to {people} confirmed subscriber{'s' if people != 1 else ''}, "
                   "one mail each")
        where = f"; written to {_rel(outcome.files[0])}" if outcome.files else ""
        lines.append(f"{head}: {who}{where}")
    lines.append(f"dry run: nothing was sent and nothing used up; see {_rel(str(outbox))}/")
    return lines


def unknown_line(outcome: Any) -> str:
    """A digest whose outcome is unknown, and what to do, in one line."""
    ids = ", ".join(str(i) for i in outcome.article_ids) or "none"
    return (f"digest {outcome.channel} ({outcome.period}, {outcome.articles} articles): "
            f"{outcome.detail}. Check {outcome.channel}; if it did not arrive, put its "
            f"articles ({ids}) back with `distributor digest add ID --channel "
            f"{outcome.channel}` and run `distributor digest send --channel "
            f"{outcome.channel}` again")


def summary(outcome: Any) -> str:
    head = f"digest {outcome.channel}: {outcome.state}"
    if outcome.resumed:
        head += " (resumed)"
    head += f" ({outcome.articles} articles)"
    stats = outcome.stats
    if outcome.detail and not stats:
        return f"{head}: {outcome.detail}"
    if not stats:
        return head
    mails = int(stats["sent"])
    lines = [f"{head}: {mails} mail{'' if mails == 1 else 's'} accepted in "
             f"{stats['elapsed']:.1f} s ({stats['rate']:.0f} messages/s)"]
    lines.append(f"  bounced {int(stats['bounced'])}, failed {int(stats['failed'])}, "
                 f"4xx retried {int(stats['retried'])}, sent again after a broken connection "
                 f"{int(stats['resent'])}")
    if stats.get("done_before"):
        lines.append(f"  {int(stats['done_before'])} subscribers were served by the earlier "
                     "process; messages in flight when it stopped may have been sent twice")
    return "\n".join(lines)
