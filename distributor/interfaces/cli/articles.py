"""Commands on articles: ``articles list``, ``preview``, ``push`` and ``digest preview``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from distributor.interfaces.cli.common import (
    State,
    UserError,
    _channel,
    _iso,
    _local,
    _print_messages,
    _rel,
    _short,
    _table,
    _write_html,
    digest_channel,
    pass_state,
    pauses_said_below,
    run_async,
    tell,
)
from distributor.interfaces.cli.lazy import LazyGroup

if TYPE_CHECKING:
    from distributor.config import Config
    from distributor.plugin.desk import PushOutcome

# --------------------------------------------------------------------------- articles


@click.group()
def articles() -> None:
    """Stored articles."""


@articles.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="Newest first, at most this many (0: all).")
@pass_state
def articles_list(state: State, as_json: bool, limit: int) -> None:
    """List stored articles, newest first."""
    from sqlalchemy import select

    from distributor.interfaces.cli.deliveries import action_data
    from distributor.store.models import ArticleRow, DeliveryAction

    rt = state.runtime(sends=False)
    with rt.store.session() as session:
        newest = select(ArticleRow).order_by(ArticleRow.first_seen.desc(), ArticleRow.id.desc())
        rows = session.scalars(newest.limit(limit or None)).all()
        actions: dict[int, list[DeliveryAction]] = {}
        for a in session.scalars(select(DeliveryAction).where(DeliveryAction.article_id.in_(
                [r.id for r in rows])).order_by(DeliveryAction.id)):
            actions.setdefault(a.article_id, []).append(a)
        data = [{"id": str(r.id), "title": r.title, "url": r.url, "source": r.source,
                 "published": _iso(r.published), "first_seen": _iso(r.first_seen),
                 "language": r.language, "backlog": r.backlog,
                 "deliveries": {d.channel: d.state for d in r.deliveries},
                 "retraction": _retraction(actions.get(r.id, [])),
                 "corrections": [{"channel": a.channel} | action_data(a)
                                 for a in actions.get(r.id, []) if a.action == "correct"]}
                for r in rows]
    rt.store.dispose()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no articles yet; run `distributor fetch`")
        return
    for a in data:
        if a["retraction"]:
            a["deliveries"] = {k: f"{v}, retracted" for k, v in a["deliveries"].items()}
    click.echo(_table(["ID", "FIRST SEEN", "SOURCE", "TITLE", "DELIVERIES"], [
        [a["id"], _local(a["first_seen"]), a["source"], _short(a["title"], 50),
         " ".join(f"{k}:{v}" for k, v in sorted(a["deliveries"].items()))
         + (" (backlog)" if a["backlog"] else "")] for a in data]))


def _retraction(actions: Sequence[object]) -> dict[str, object] | None:
    """An article's retraction: the reason, who asked, when, and its state per channel."""
    rows: list[Any] = [a for a in actions if getattr(a, "action", None) == "retract"]
    if not rows:
        return None
    first = rows[0]
    return {"reason": first.reason, "requested_by": first.requested_by,
            "requested_at": _iso(first.created_at),
            "channels": {a.channel: a.state for a in rows}}


# --------------------------------------------------------------------------- preview / push


@click.command()
@click.argument("article")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The channel to render for.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the channel, the articles and the messages exactly "
                   "as they would be sent.")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the preview as an HTML page to FILE, to open in a browser.")
@pass_state
def preview(state: State, article: str, channel_name: str, as_json: bool,
            html_path: str | None) -> None:
    """Show exactly what ARTICLE would look like on a channel; sends nothing.

    ARTICLE is a stored article id, an article URL, or a path to an article file.
    """
    rt = state.runtime(dry_run=True)
    from distributor.services.articles import resolve_article

    try:
        channel = _channel(rt, channel_name)
        art = resolve_article(rt, article, store=False)
        messages = rt.adapter(channel.name).render(art, rt.context(channel))
    finally:
        rt.store.dispose()
    if html_path:
        _write_html(html_path, messages, f"{art.title} ({channel.name})")
    if as_json:
        click.echo(json.dumps({
            "channel": channel.name, "type": channel.type,
            "article": {"id": str(art.id) if art.id is not None else None, "title": art.title,
                        "url": art.url, "lede": art.lede},
            "messages": messages}, ensure_ascii=False, indent=2))
        return
    _print_messages(messages)


@click.command()
@click.argument("article")
@click.option("--channel", "channel_names", multiple=True, metavar="NAME",
              help="Push to this channel (repeatable). Default: every instant and manual channel.")
@click.option("--force", is_flag=True, help="Post again even where it was already published.")
@click.option("--dry-run", is_flag=True, help="Write to the outbox instead of sending.")
@click.option("--now", "right_now", is_flag=True,
              help="Do not wait for the channel's min_interval (the platform's pace holds).")
@pass_state
@run_async
async def push(state: State, article: str, channel_names: Sequence[str], force: bool,
               dry_run: bool, right_now: bool) -> None:
    """Publish ARTICLE now (breaking news). Idempotent: never posts twice unless --force.

    ARTICLE is a stored article id, an article URL, or a path to an article file.
    """
    def targets(config: Config) -> list[str]:  # default: every instant and manual channel
        return list(channel_names) or [c.name for c in config.channels
                                       if c.enabled and c.publish in ("instant", "manual")]

    rt = state.runtime(dry_run=dry_run, announce=dry_run, channels=targets)
    from distributor.engine.dispatcher import outbox_name
    from distributor.services import deliveries as desk
    from distributor.services.articles import resolve_article

    try:
        channels = [_channel(rt, n) for n in targets(rt.config)]
        if not channels:
            raise UserError("no instant or manual channel to push to; name one with --channel")
        art = resolve_article(rt, article, store=not dry_run)
        if dry_run:
            for channel in channels:
                adapter = rt.adapter(channel.name)
                paths = adapter.write(outbox_name(art.id, art.title),
                                      adapter.render(art, rt.context(channel)))
                click.echo(f"{channel.name}: written to {_rel(str(paths[0]))}")
            return
        assert art.id is not None
        with pauses_said_below():  # each channel's line says it
            outcomes = await desk.push(rt, art.id, [c.name for c in channels], by="cli",
                                       force=force, now=right_now)
    finally:
        await rt.close()
    problems = 0
    distributed = rt.config.execution == "distributed"
    for outcome in outcomes:
        line, bad = push_line(outcome, distributed=distributed)
        problems += bad
        tell(line, bad)
    if problems:
        raise SystemExit(1)


def push_line(outcome: PushOutcome, *, distributed: bool = False) -> tuple[str, bool]:
    """What ``push`` says about one channel, and whether it is a problem: anything not
    published is (exit status 0 means everything asked for happened: DESIGN.md, Contract 2),
    a post that waits for its channel too, saying who sends it later."""
    from distributor.plugin.desk import PushKind

    name, d = outcome.channel, outcome.delivery
    by = "a running `distributor worker`" if distributed else "`distributor run` while it runs"
    if outcome.kind is PushKind.ALREADY_SENT:
        return (f"{name}: already published {_local(_iso(d.sent_at))} (remote id "
                f"{d.remote_id}); --force posts it again"), False
    if outcome.kind is PushKind.UNKNOWN:
        return (f"error: {name}: delivery {d.id} may already be published (state unknown); "
                "check the channel, then --force"), True
    if outcome.kind is not PushKind.QUEUED:
        return f"{name}: being sent right now by another process", False
    if d.state in ("pending", "retry") and outcome.channel_paused:
        return (f"error: {name}: not published: the channel is paused ({outcome.channel_paused});"
                f" fix it, then `distributor channels resume {name}` sends it (delivery "
                f"{d.id})"), True
    if d.state == "pending" and outcome.channel_waits_until is not None:
        return (f"error: {name}: not published yet: the channel waits until "
                f"{_local(_iso(outcome.channel_waits_until))} (its pacing or the platform's "
                f"answer); delivery {d.id} goes out then, sent by {by}"), True
    if d.state in ("pending", "sending") and distributed:  # still with a worker
        return (f"error: {name}: not published yet: queued for the workers (delivery {d.id}); "
                f"{by} sends it; `distributor deliveries list` shows how it ends"), True
    if d.state in ("pending", "sending"):  # its channel holds it (max_posts_per_day)
        return (f"error: {name}: not published yet: delivery {d.id} waits for its channel "
                f"(its pacing or max_posts_per_day); sent by {by}"), True
    if d.state == "sent":
        return f"{name}: published (remote id {d.remote_id})", False
    if d.state == "retry":
        return (f"error: {name}: not published yet: {d.last_error}; it is tried again at "
                f"{_local(_iso(d.next_attempt_at))} by {by}"), True
    return f"error: {name}: {d.state}: {d.last_error}", True


# --------------------------------------------------------------------------- digests


@click.group(cls=LazyGroup, lazy_commands={
    "add": "distributor.interfaces.cli.editors:digest_add",
    "remove": "distributor.interfaces.cli.editors:digest_remove",
    "send": "distributor.interfaces.cli.digests:digest_send",  # progress bar, resuming
})
def digest() -> None:
    """Digests: an email channel's mail to its subscribers, a chat channel's digest post."""


@digest.command("preview")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The digest channel whose digest it is (publish: digest).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the channel, the articles and the messages exactly "
                   "as they would be sent.")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the digest's HTML mail to FILE, to open in a browser.")
@pass_state
def digest_preview(state: State, channel_name: str, as_json: bool,
                   html_path: str | None) -> None:
    """Show the next digest of a channel as it stands now; sends nothing."""
    from distributor.clock import utcnow
    from distributor.engine.digests import plan_digest, render_plan

    rt = state.runtime(dry_run=True)
    try:
        channel = digest_channel(rt, channel_name)
        now = utcnow()
        plan = plan_digest(rt, channel, until=now, period="preview")
        messages = render_plan(rt, channel, plan)
    finally:
        rt.store.dispose()
    if html_path:
        _write_html(html_path, messages, f"digest {channel.name}")
    if as_json:
        click.echo(json.dumps({
            "channel": channel.name, "type": channel.type,
            "articles": [{"id": str(a.id), "title": a.title, "url": a.url, "lede": a.lede}
                         for a in plan.articles],
            "messages": messages}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{len(plan.articles)} articles since {_local(_iso(plan.since))}")
    _print_messages(messages)
