"""The command line (Contract 2 of DESIGN.md). Thin: parsing, output, exit codes."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from distributor import __version__
from distributor.config import Config
from distributor.interfaces.cli.common import (
    State,
    UserError,
    _channel,
    _iso,
    _local,
    _print_messages,
    _print_previews,
    _rel,
    _short,
    _table,
    _write_html,
    pass_state,
    run_async,
)
from distributor.logs import setup_logging

log = logging.getLogger("distributor")


#: options of the main command that are also understood after the subcommand
_GLOBAL_OPTIONS = ("--config", "--log-format")


class _Main(click.Group):
    """``distributor check --config x.yaml`` means ``distributor --config x.yaml check``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        front: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest.extend(args[i:])
                break
            name = arg.split("=", 1)[0]
            if rest and name in _GLOBAL_OPTIONS:
                if "=" in arg:
                    front.append(arg)
                elif i + 1 < len(args):
                    front.extend(args[i:i + 2])
                    i += 1
                else:
                    rest.append(arg)
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, front + rest)


@click.group(cls=_Main,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", metavar="PATH", envvar="DISTRIBUTOR_CONFIG",
              help="Configuration file. Default: $DISTRIBUTOR_CONFIG, else ./channels.yaml.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Readable lines, or one JSON object a line.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(__version__, prog_name="distributor")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_format: str, verbose: bool) -> None:
    """distributor: publish a newsroom's articles to email, Telegram, X and more.

    Articles come from feeds and folders of article files (channels.yaml `sources:`), are
    stored once, and are published to every channel (`channels:`) exactly once.
    Start with `distributor check`, then `distributor run --once --dry-run`.
    """
    setup_logging(log_format, verbose)
    ctx.obj = State(config_path)


# --------------------------------------------------------------------------- check


@main.command()
@click.option("--online", is_flag=True,
              help="Also log in to every channel and fetch every source.")
@click.option("--dry-run", is_flag=True, help="Accept missing channel credentials.")
@pass_state
@run_async
async def check(state: State, online: bool, dry_run: bool) -> None:
    """Validate the configuration; with --online, the credentials and sources too.

    Reports every problem at once, each with its file, line and key.
    """
    config = state.config(dry_run=dry_run)
    from distributor.interfaces.cli.workers import check_lines

    mistakes = check_lines(config) + _setup_problems(config)
    for source in config.sources:
        path = getattr(source, "path", None)
        if source.type == "directory" and path is not None and not Path(path).is_dir():
            click.echo(f"warning: {config.path}: source {source.name}: the folder {path} does "
                       "not exist (yet); create it or fix path:", err=True)
    for line in mistakes:
        click.echo(f"error: {config.path}: {line}", err=True)
    if mistakes:
        raise SystemExit(2)
    summary = (f"{config.path}: OK ({len(config.sources)} sources, "
               f"{len(config.channels)} channels)")
    if not online:
        click.echo(summary)
        return
    from distributor.registry import get_adapter_class
    from distributor.sources import SourceError, SourceState, fetch_source

    problems = 0
    for channel in config.channels:
        if channel.name in config.missing_credentials:
            click.echo(f"channel {channel.name}: skipped (its credentials are not set)")
            continue
        adapter = get_adapter_class(channel.type)(channel)
        try:
            click.echo(f"channel {channel.name}: {await adapter.check_online()}")
        except Exception as exc:
            problems += 1
            click.echo(f"error: channel {channel.name}: {exc}", err=True)
        finally:
            await adapter.close()
    for source in config.sources:
        try:
            result = await fetch_source(source, SourceState(), site_language=config.site.language)
            click.echo(f"source {source.name}: {len(result.articles)} articles readable")
        except SourceError as exc:
            problems += 1
            click.echo(f"error: source {source.name}: {exc}", err=True)
    if problems:
        click.echo(f"{problems} problem{'s' if problems != 1 else ''} found online", err=True)
        raise SystemExit(1)
    click.echo(summary + "; online: OK")


def _setup_problems(config: Config) -> list[str]:
    """What the configuration says that cannot work, though every key is valid."""
    problems = []
    needs_secret = [c.name for c in config.channels if c.enabled and c.type == "email"]
    if needs_secret and config.web.secret_key is None:
        problems.append(
            f"web.secret_key: not set, but channel {needs_secret[0]} sends mail whose "
            "confirmation and unsubscribe links are signed with it; add `secret_key: "
            "${DISTRIBUTOR_SECRET_KEY}` under web: and export DISTRIBUTOR_SECRET_KEY")
    webhook = [c.name for c in config.channels
               if getattr(c, "editor_bot", None) == "webhook" and getattr(c, "editors", None)]
    if webhook and not config.web.base_url.startswith("https://"):
        problems.append(f"channels: {webhook[0]}: editor_bot: webhook needs an https:// "
                        f"web.base_url that Telegram can reach (it is {config.web.base_url})")
    return problems


# --------------------------------------------------------------------------- run / fetch


@main.command()
@click.option("--once", is_flag=True,
              help="One full pass (fetch, publish, due digests), then exit.")
@click.option("--dry-run", is_flag=True,
              help="Send nothing: write what would be published to the outbox folder.")
@pass_state
@run_async
async def run(state: State, once: bool, dry_run: bool) -> None:
    """Run the scheduler: poll sources, publish new articles, send digests.

    Stops cleanly on SIGTERM or Ctrl-C after the sends in flight have finished. Under
    execution: distributed it only schedules: `distributor worker` processes do the work.
    """
    from distributor.engine.embedded import Service, run_pass

    if state.config(dry_run=True).execution == "distributed":
        from distributor.interfaces.cli.workers import run_distributed

        await run_distributed(state, once=once, dry_run=dry_run)
        return
    rt = state.runtime(dry_run=dry_run, announce=dry_run)
    try:
        if not once:
            await Service(rt).run()
            return
        report = await run_pass(rt)
    finally:
        await rt.close()
    failed_sources = [p for p in report.polls if p.error]
    for poll in report.polls:
        status = "error" if poll.error else ("not modified" if poll.not_modified else
                                            f"{len(poll.new)} new, {poll.seen} known")
        click.echo(f"source {poll.source}: {status}", err=bool(poll.error))
    if dry_run:
        _print_previews(report, rt.config.outbox)
    else:
        d = report.dispatch
        click.echo(f"sent {len(d.sent)}, retry later {len(d.retry)}, failed {len(d.failed)}, "
                   f"unknown {len(d.unknown)}")
        for outcome in report.digests:
            click.echo(f"digest {outcome.channel}: {outcome.state} ({outcome.articles} articles)")
    if failed_sources or (not dry_run and (report.dispatch.failed or report.dispatch.unknown)):
        raise SystemExit(1)


@main.command()
@pass_state
@run_async
async def fetch(state: State) -> None:
    """Poll every source once and store new articles (publishes nothing)."""
    from distributor.ledger.ingest import poll_all

    rt = state.runtime(sends=False)
    ingest_log = logging.getLogger("distributor.ingest")  # each problem is said below, once

    def not_a_problem(record: logging.LogRecord) -> bool:
        return record.levelno != logging.WARNING

    ingest_log.addFilter(not_a_problem)
    try:
        reports = await poll_all(rt)
    finally:
        ingest_log.removeFilter(not_a_problem)
        await rt.close()
    for report in reports:
        if report.error:
            click.echo(f"error: source {report.source}: {report.error}", err=True)
        else:
            click.echo(f"source {report.source}: {len(report.new)} new, {report.seen} known"
                       + (", not modified" if report.not_modified else ""))
        for problem in report.problems:
            click.echo(f"warning: source {report.source}: {problem}", err=True)
    if any(r.error for r in reports):
        raise SystemExit(1)


# --------------------------------------------------------------------------- articles


@main.group()
def articles() -> None:
    """Stored articles."""


@articles.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.option("--limit", default=50, show_default=True, help="Newest first, at most this many.")
@pass_state
def articles_list(state: State, as_json: bool, limit: int) -> None:
    """List stored articles, newest first."""
    from sqlalchemy import select

    from distributor.store.models import ArticleRow

    rt = state.runtime(sends=False)
    with rt.store.session() as session:
        rows = session.scalars(select(ArticleRow).order_by(ArticleRow.first_seen.desc(),
                                                           ArticleRow.id.desc()).limit(limit)).all()
        data = [{"id": str(r.id), "title": r.title, "url": r.url, "source": r.source,
                 "published": _iso(r.published), "first_seen": _iso(r.first_seen),
                 "language": r.language, "backlog": r.backlog,
                 "deliveries": {d.channel: d.state for d in r.deliveries}} for r in rows]
    rt.store.dispose()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no articles yet; run `distributor fetch`")
        return
    click.echo(_table(["ID", "FIRST SEEN", "SOURCE", "TITLE", "DELIVERIES"], [
        [a["id"], _local(a["first_seen"]), a["source"], _short(a["title"], 50),
         " ".join(f"{k}:{v}" for k, v in sorted(a["deliveries"].items()))
         + (" (backlog)" if a["backlog"] else "")] for a in data]))


# --------------------------------------------------------------------------- preview / push


@main.command()
@click.argument("article")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The channel to render for.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the channel, the article and the messages exactly "
                   "as they would be sent.")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the preview as an HTML page to FILE, to open in a browser.")
@pass_state
def preview(state: State, article: str, channel_name: str, as_json: bool,
            html_path: str | None) -> None:
    """Show exactly what ARTICLE would look like on a channel; sends nothing.

    ARTICLE is a stored article id, an article URL, or a path to an article file.
    """
    from distributor.services.articles import resolve_article

    rt = state.runtime(dry_run=True)
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


@main.command()
@click.argument("article")
@click.option("--channel", "channel_names", multiple=True, metavar="NAME",
              help="Push to this channel (repeatable). Default: every instant and manual channel.")
@click.option("--force", is_flag=True, help="Post again even where it was already published.")
@click.option("--dry-run", is_flag=True, help="Write to the outbox instead of sending.")
@pass_state
@run_async
async def push(state: State, article: str, channel_names: Sequence[str], force: bool,
               dry_run: bool) -> None:
    """Publish ARTICLE now (breaking news). Idempotent: never posts twice unless --force.

    ARTICLE is a stored article id, an article URL, or a path to an article file.
    """
    from distributor.engine.dispatcher import outbox_name, send_requested
    from distributor.ledger.deliveries import request_delivery
    from distributor.services.articles import resolve_article
    from distributor.store.models import Delivery

    def targets(config: Config) -> list[str]:  # default: every instant and manual channel
        return list(channel_names) or [c.name for c in config.channels
                                       if c.enabled and c.publish in ("instant", "manual")]

    rt = state.runtime(dry_run=dry_run, announce=dry_run, channels=targets)
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
        queued: dict[int, str] = {}
        problems = 0
        with rt.store.session() as session:
            for channel in channels:
                delivery, what = request_delivery(session, art.id, channel.name, force=force,
                                                  requested_by="cli")
                if what == "queued":
                    queued[delivery.id] = channel.name
                elif what == "already-sent":
                    click.echo(f"{channel.name}: already published "
                               f"{_local(_iso(delivery.sent_at))} (remote id "
                               f"{delivery.remote_id}); --force posts it again")
                elif what == "unknown":
                    problems += 1
                    click.echo(f"error: {channel.name}: delivery {delivery.id} may already be "
                               "published (state unknown); check the channel, then --force",
                               err=True)
                else:
                    click.echo(f"{channel.name}: being sent right now by another process")
        await send_requested(rt, queued)
        with rt.store.session() as session:
            for delivery_id, name in queued.items():
                d = session.get_one(Delivery, delivery_id)
                if d.state in ("pending", "sending"):  # distributed mode: still with a worker
                    click.echo(f"{name}: queued for the workers (delivery {d.id}); "
                               "`distributor deliveries list` shows how it ends")
                elif d.state == "sent":
                    click.echo(f"{name}: published (remote id {d.remote_id})")
                elif d.state == "retry":
                    click.echo(f"{name}: not yet: {d.last_error}; retrying at "
                               f"{_local(_iso(d.next_attempt_at))}")
                else:
                    problems += 1
                    click.echo(f"error: {name}: {d.state}: {d.last_error}", err=True)
    finally:
        await rt.close()
    if problems:
        raise SystemExit(1)


# --------------------------------------------------------------------------- digests


@main.group()
def digest() -> None:
    """Email digests."""


@digest.command("preview")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The email channel whose digest it is.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the channel, the article and the messages exactly "
                   "as they would be sent.")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the digest's HTML mail to FILE, to open in a browser.")
@pass_state
def digest_preview(state: State, channel_name: str, as_json: bool,
                   html_path: str | None) -> None:
    """Show the next digest of a channel as it stands now; sends nothing."""
    from distributor.engine.digests import plan_digest, render_plan

    rt = state.runtime(dry_run=True)
    try:
        channel = _channel(rt, channel_name)
        if not rt.adapter(channel.name).supports_digest:
            raise UserError(f"channel {channel.name} ({channel.type}) does not send digests")
        now = datetime.now(UTC)
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


# --------------------------------------------------------------------------- deliveries


@main.group()
def deliveries() -> None:
    """The delivery ledger: what went where, and what is waiting."""


@deliveries.command("list")
@click.option("--status", type=click.Choice(
    ["pending", "sending", "retry", "sent", "failed", "unknown", "held"]),
    help="Only this state.")
@click.option("--channel", "channel_name", metavar="NAME", help="Only this channel.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.option("--limit", default=100, show_default=True, help="Newest first, at most this many.")
@pass_state
def deliveries_list(state: State, status: str | None, channel_name: str | None, as_json: bool,
                    limit: int) -> None:
    """List deliveries, newest first."""
    from sqlalchemy import select

    from distributor.store.models import Delivery

    rt = state.runtime(dry_run=True)
    with rt.store.session() as session:
        query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
        if status:
            query = query.where(Delivery.state == status)
        if channel_name:
            query = query.where(Delivery.channel == channel_name)
        data = [{"id": d.id, "article_id": str(d.article_id), "title": d.article.title,
                 "channel": d.channel, "state": d.state, "attempts": d.attempts,
                 "remote_id": d.remote_id, "parts": [p.remote_id for p in d.parts],
                 "next_attempt_at": _iso(d.next_attempt_at), "sent_at": _iso(d.sent_at),
                 "error": d.last_error} for d in session.scalars(query)]
    rt.store.dispose()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no deliveries" + (f" in state {status}" if status else ""))
        return
    click.echo(_table(["ID", "ARTICLE", "CHANNEL", "STATE", "TRIES", "WHEN", "DETAIL"], [
        [str(d["id"]), f"{d['article_id']} {_short(d['title'], 30)}", d["channel"], d["state"],
         str(d["attempts"]),
         _local(d["sent_at"] if d["state"] == "sent" else d["next_attempt_at"]),
         _short(d["error"] or (d["remote_id"] or ""), 60)] for d in data]))


@deliveries.command("retry")
@click.argument("delivery_id", type=int)
@click.option("--force", is_flag=True,
              help="Also for deliveries that may already be published (unknown) or were sent.")
@pass_state
@run_async
async def deliveries_retry(state: State, delivery_id: int, force: bool) -> None:
    """Send a failed, unknown or waiting delivery again, now."""
    from distributor.engine.dispatcher import send_requested
    from distributor.ledger.deliveries import retry_delivery
    from distributor.store.models import Delivery

    rt = state.runtime(channels=[])  # the credentials of the delivery's channel, below
    try:
        with rt.store.session() as session:
            found = session.get(Delivery, delivery_id)
            if found is not None:
                state.require_credentials(rt.config, [found.channel])
            try:
                click.echo(retry_delivery(session, delivery_id, force=force))
            except (LookupError, ValueError) as exc:
                raise UserError(str(exc)) from None
        await send_requested(rt, [delivery_id])
        with rt.store.session() as session:
            d = session.get_one(Delivery, delivery_id)
            if d.state in ("pending", "sending"):  # distributed mode: still with a worker
                click.echo(f"delivery {d.id}: queued for the workers")
            else:
                click.echo(f"delivery {d.id}: {d.state}"
                           + (f" ({d.last_error})" if d.state != "sent" and d.last_error
                              else ""))
            ok = d.state in ("sent", "retry", "pending", "sending")
    finally:
        await rt.close()
    if not ok:
        raise SystemExit(1)


@deliveries.command("resolve")
@click.argument("delivery_id", type=int)
@click.option("--sent", "outcome", flag_value="sent", help="It was published: close it as sent.")
@click.option("--failed", "outcome", flag_value="failed", help="It was not: close it as failed.")
@click.option("--remote-id", help="The platform's id of the published post, if known.")
@pass_state
def deliveries_resolve(state: State, delivery_id: int, outcome: str | None,
                       remote_id: str | None) -> None:
    """Close a delivery an editor has checked by hand (typically one in state unknown)."""
    from distributor.ledger.deliveries import resolve_delivery

    if outcome is None:
        raise click.UsageError("say --sent or --failed")
    rt = state.runtime(dry_run=True)
    try:
        with rt.store.session() as session:
            click.echo(resolve_delivery(session, delivery_id, sent=outcome == "sent",
                                        remote_id=remote_id))
    except (LookupError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        rt.store.dispose()


# --------------------------------------------------------------------------- channels


@main.group()
def channels() -> None:
    """Channels: their state, and resuming a paused one."""


@channels.command("list")
@pass_state
def channels_list(state: State) -> None:
    """List channels with their type, publishing mode and state."""
    from distributor.store.models import ChannelState

    rt = state.runtime(dry_run=True)
    with rt.store.session() as session:
        rows = []
        for channel in rt.config.channels:
            st = session.get(ChannelState, channel.name)
            status = "disabled" if not channel.enabled else (
                f"paused: {st.paused_reason}" if st and st.paused_reason else "active")
            rows.append([channel.name, channel.type, channel.publish, status])
    rt.store.dispose()
    click.echo(_table(["NAME", "TYPE", "PUBLISH", "STATE"], rows))


@channels.command("resume")
@click.argument("name")
@pass_state
def channels_resume(state: State, name: str) -> None:
    """Resume a channel paused after a credentials error (fix the credentials first)."""
    from distributor.store.models import ChannelState

    rt = state.runtime(dry_run=True)
    _channel(rt, name)
    with rt.store.session() as session:
        st = session.get(ChannelState, name)
        if st is None or not st.paused_reason:
            click.echo(f"channel {name} is not paused")
        else:
            st.paused_reason = None
            st.paused_at = None
            click.echo(f"channel {name} resumed; waiting deliveries go out on the next pass")
    rt.store.dispose()





def entry() -> None:  # pragma: no cover
    main(prog_name="distributor")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
