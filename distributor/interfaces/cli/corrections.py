"""``distributor retract`` and ``distributor correct``: thin over
:mod:`distributor.services.corrections`. One line per channel; exit status 1 when a channel
failed, its outcome is unknown, or it cannot do it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from distributor.interfaces.cli.common import (
    State,
    UserError,
    _iso,
    _local,
    _rel,
    pass_state,
    run_async,
    tell,
)

if TYPE_CHECKING:
    from distributor.plugin import ActionOutcome


@click.command()
@click.argument("article")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why it is retracted; readers see it where a post cannot be deleted.")
@click.option("--channel", "channel_names", multiple=True, metavar="NAME",
              help="Only this channel (repeatable). Default: every channel it went to.")
@click.option("--dry-run", is_flag=True,
              help="Write what would be done into the outbox; send nothing.")
@pass_state
@run_async
async def retract(state: State, article: str, reason: str, channel_names: Sequence[str],
                  dry_run: bool) -> None:
    """Take ARTICLE back everywhere it was published: delete its posts (or mark them as
    retracted where the platform will not delete), leave it out of the next digest or open
    the next digest with a notice. Exactly once: asking again changes nothing.

    Retract when the story must not stand (wrong at its core, pulled, a court order);
    correct (`distributor correct`) when it stands with a fix.
    """
    await _run(state, article, channel_names, dry_run, "retract", reason=reason)


@click.command()
@click.argument("article")
@click.option("--note", metavar="TEXT",
              help="What was corrected (X replies to the thread with it; email shows it).")
@click.option("--channel", "channel_names", multiple=True, metavar="NAME",
              help="Only this channel (repeatable). Default: every channel it went to.")
@click.option("--dry-run", is_flag=True,
              help="Write what would be done into the outbox; send nothing.")
@pass_state
@run_async
async def correct(state: State, article: str, note: str | None, channel_names: Sequence[str],
                  dry_run: bool) -> None:
    """Bring ARTICLE's posts up to date with the article as it is now: Telegram edits its
    message in place, X replies to the thread with "Ralat: <note>" and the link, email opens
    the next digest with a correction notice. Exactly once per version of the article.
    """
    await _run(state, article, channel_names, dry_run, "correct", note=note)


async def _run(state: State, article: str, channel_names: Sequence[str], dry_run: bool,
               action: str, *, reason: str | None = None, note: str | None = None) -> None:
    from distributor.plugin.desk import DeskError
    from distributor.services import corrections
    from distributor.services.articles import resolve_article

    def targets(config: object) -> list[str]:
        return list(channel_names)

    rt = state.runtime(dry_run=dry_run, announce=dry_run,
                       channels=targets if channel_names else None)
    try:
        art = resolve_article(rt, article, store=False)
        if art.id is None:
            raise UserError(f"{article} was never stored, so nothing was published; "
                            "nothing to " + action)
        try:
            if action == "retract":
                outcomes = await corrections.retract(rt, art.id, channel_names or None,
                                                     reason=reason or "", by="cli")
            else:
                outcomes = await corrections.correct(rt, art.id, channel_names or None,
                                                     note=note, by="cli")
        except DeskError as exc:
            raise UserError(str(exc)) from None
    finally:
        await rt.close()
    if not outcomes:
        click.echo(f"article {art.id} was not published on any channel; nothing to {action}")
        return
    problems = 0
    for outcome in outcomes:
        line, bad = outcome_line(outcome)
        problems += bad
        tell(line, bad)
    if dry_run:
        click.echo("dry run: nothing was sent")
    if problems:
        raise SystemExit(1)


def outcome_line(o: ActionOutcome) -> tuple[str, bool]:
    """What ``retract`` / ``correct`` says about one channel, and whether it is a problem."""
    from distributor.interfaces.words import action_text

    return action_text(o, when=lambda at: _local(_iso(at)), path=_rel)
