"""The command line (Contract 2 of DESIGN.md). Thin: parsing, output, exit codes."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

import click

from distributor import __version__
from distributor.interfaces.cli.common import (
    State,
    UserError,
    _print_previews,
    pass_state,
    pauses_said_below,
    run_async,
    say,
    source_problems_said_below,
    tell,
)
from distributor.interfaces.cli.lazy import LazyGroup
from distributor.logs import json_logs, setup_logging

log = logging.getLogger("distributor")

_CLI = "distributor.interfaces.cli"
#: the commands of other modules: imported when used (``check``, ``run`` and ``fetch`` are here)
COMMANDS = {
    "articles": f"{_CLI}.articles:articles",
    "preview": f"{_CLI}.articles:preview",
    "push": f"{_CLI}.articles:push",
    "digest": f"{_CLI}.articles:digest",
    "deliveries": f"{_CLI}.deliveries:deliveries",
    "channels": f"{_CLI}.deliveries:channels",
    "sources": f"{_CLI}.deliveries:sources",
    "subscribers": f"{_CLI}.subscribers:subscribers",
    "serve": f"{_CLI}.subscribers:serve",
    "editors": f"{_CLI}.editors:editors",
    "worker": f"{_CLI}.workers:worker",
    "db": f"{_CLI}.workers:db",
    "retract": f"{_CLI}.corrections:retract",
    "correct": f"{_CLI}.corrections:correct",
}


#: options of the main command that are also understood after the subcommand
_GLOBAL_OPTIONS = ("--config", "--log-format")


def _database_error(exc: Exception) -> bool:
    """Whether ``exc`` is SQLAlchemy's DBAPIError (never, if no command imported SQLAlchemy)."""
    module = sys.modules.get("sqlalchemy.exc")
    return module is not None and isinstance(exc, module.DBAPIError)


class _Main(LazyGroup):
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
        if _asks_json(front + rest):  # its usage errors, found before main() runs: JSON too
            setup_logging("json", verbose=bool({"-v", "--verbose"} & set(args)))
        with _json_errors():
            return super().parse_args(ctx, front + rest)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        with _json_errors():  # "No such command" comes before main() runs
            return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with the whole first sentence of its help, wrapped (click cuts it to
        one line: "Poll every source once and store new articles (publishes...")."""
        rows = [(name, command.get_short_help_str(limit=300))
                for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """A database that fails mid-command (damaged, read-only, full, gone) is one line;
        with --log-format json, so is any error click would say in plain lines (a usage
        error, a command's own exception): one JSON object, the exit status the same."""
        try:
            with _json_errors():
                return super().invoke(ctx)
        except Exception as exc:
            if not _database_error(exc):
                raise
            from distributor.store.db import store_problem

            url = getattr(ctx.obj, "database", None) or "(the configured database)"
            raise UserError(store_problem(exc, url, getattr(ctx.obj, "database_where", None))
                            ) from None


def _asks_json(args: list[str]) -> bool:
    """Whether the command line asks for --log-format json (before a ``--``)."""
    for i, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--log-format=json" or (arg == "--log-format" and args[i + 1:i + 2] == ["json"]):
            return True
    return False


@contextlib.contextmanager
def _json_errors() -> Iterator[None]:
    """With --log-format json, an error click would say in plain lines (a usage error, a
    command's own exception) is one JSON object; the exit status stays the same."""
    try:
        yield
    except click.ClickException as exc:
        if isinstance(exc, UserError | click.exceptions.NoArgsIsHelpError) or not json_logs():
            raise  # (a group without its command: its help, as asked)
        said = exc.format_message()
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            said += f" (`{exc.ctx.command_path} --help` shows the usage)"
        say(f"error: {said}")
        raise SystemExit(exc.exit_code) from None


@click.group(cls=_Main, lazy_commands=COMMANDS,
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
              help="Also log in to every channel, fetch every source and open the database.")
@click.option("--dry-run", is_flag=True, help="Accept missing channel credentials.")
@pass_state
@run_async
async def check(state: State, online: bool, dry_run: bool) -> None:
    """Validate the configuration; with --online, the credentials and sources too.

    Reports every problem at once, each with its file, line and key.
    """
    config = state.config(dry_run=dry_run)
    from distributor.interfaces.cli.checks import missing_files, setup_problems

    mistakes = setup_problems(config)  # each at the line of its key, as the parser's
    for warning in missing_files(config):
        state.warn(warning)
    for mistake in mistakes:
        say(f"error: {mistake}")
    if mistakes:
        raise SystemExit(2)
    summary = (f"{config.path}: OK ({len(config.sources)} sources, "
               f"{len(config.channels)} channels)")
    if not online:
        click.echo(summary)
        return
    from distributor.plugin.env import memory_env
    from distributor.registry import get_adapter_class
    from distributor.sources import SourceError, SourceState, fetch_source

    problems = 0
    for channel in config.channels:
        if channel.name in config.missing_credentials:
            click.echo(f"channel {channel.name}: skipped (its credentials are not set)")
            continue
        adapter = get_adapter_class(channel.type)(channel)
        try:  # (no store opened yet: the channel's state in memory; its file named in errors)
            adapter.setup(memory_env(channel.name, config_file=str(config.path or "channels.yaml")))
            click.echo(f"channel {channel.name}: {await adapter.check_online()}")
        except Exception as exc:
            problems += 1
            say(f"error: channel {channel.name}: {exc}")
        finally:
            await adapter.close()
    for source in config.sources:
        try:
            result = await fetch_source(source, SourceState(), site_language=config.site.language)
            click.echo(f"source {source.name}: {len(result.articles)} articles readable")
        except SourceError as exc:
            problems += 1
            say(f"error: source {source.name}: {exc}")
    import asyncio

    from distributor.store.db import StoreError, database_status

    try:
        status = await asyncio.to_thread(database_status, config.database,
                                         config.where("database"))
        click.echo(f"database: {status}")
    except StoreError as exc:
        problems += 1
        say(f"error: database: {exc}")
    if problems:
        say(f"{problems} problem{'s' if problems != 1 else ''} found online",
            level=logging.ERROR)
        raise SystemExit(1)
    click.echo(summary + "; online: OK")


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
    if state.config(dry_run=True).execution == "distributed":
        from distributor.interfaces.cli.workers import run_distributed

        await run_distributed(state, once=once, dry_run=dry_run)
        return
    from distributor.engine.embedded import Service, run_pass
    from distributor.ledger.ingest import ONE_SHOT_FILE_WAIT

    rt = state.runtime(dry_run=dry_run, announce=dry_run, store_wait=None if once else (
        "run starts anyway: each job tries again at its next time"))
    try:
        if not once:
            from distributor.services.editors import editor_bots

            await Service(rt, companions=[editor_bots(rt)]).run()
            return
        # the channel's "N waiting" line and each source's line below say them, once
        with pauses_said_below(), source_problems_said_below():
            report = await run_pass(rt, wait_for_files=ONE_SHOT_FILE_WAIT)
        waiting = [] if dry_run else _still_waiting(rt)
    finally:
        await rt.close()
    failed_sources = [p for p in report.polls if p.error]
    for poll in report.polls:
        _say_source(rt, poll, "not modified" if poll.not_modified else
                    f"{len(poll.new)} new, {poll.seen} known")
    if dry_run:
        _print_previews(report, rt.config.outbox)
    else:
        d = report.dispatch  # deliveries, each once, in the state the pass left them in
        held = f", held by a paused channel {len(d.held)}" if d.held else ""
        click.echo(f"sent {len(d.sent)}, retry later {len(d.retry)}, failed {len(d.failed)}, "
                   f"unknown {len(d.unknown)}{held}")
        for line, problem in waiting:
            tell(line, problem)
        for outcome in report.digests:
            click.echo(f"digest {outcome.channel}: {outcome.state} ({outcome.articles} articles)")
    # exit 0 only when everything asked for happened (DESIGN.md, Contract 2): posts a failure
    # holds back (an outage, a paused channel) were not published, so the pass exits 1
    held_back = any(problem for _, problem in waiting)
    if failed_sources or (not dry_run and (report.dispatch.failed or report.dispatch.unknown
                                           or held_back)):
        raise SystemExit(1)


def _still_waiting(rt: Any) -> list[tuple[str, bool]]:
    """After a pass: one line per enabled channel with posts still waiting (how many, until
    when, why), and whether a failure holds them back (a problem: the pass exits 1) rather
    than the channel's pacing or a later time an editor chose."""
    from distributor.clock import utcnow
    from distributor.interfaces.cli.common import _iso, _local
    from distributor.services.channels import statuses

    now = utcnow()
    lines = []
    for st in statuses(rt):
        if not st.enabled or not st.waiting:
            continue
        posts = f"{st.waiting} waiting"
        if st.paused_reason:
            lines.append((f"error: {st.name}: {posts}: the channel is paused "
                          f"({st.paused_reason}); fix it, then `distributor channels resume "
                          f"{st.name}`", True))
            continue
        held = st.held_until if st.held_until is not None and st.held_until > now else None
        nxt = held or (st.next_due if st.next_due is not None and st.next_due > now else None)
        when = _local(_iso(nxt)) if nxt is not None else "now"
        if st.last_error:  # a failed attempt holds them back: not published
            lines.append((f"error: {st.name}: {posts} (next try {when}, after: {st.last_error})"
                          "; `distributor run` keeps trying while it runs", True))
        elif held is not None:
            lines.append((f"{st.name}: {posts} (next post {when}: the channel's pacing)", False))
        else:
            lines.append((f"{st.name}: {posts} (next post {when})", False))
    return lines


@main.command()
@pass_state
@run_async
async def fetch(state: State) -> None:
    """Poll every source once and store new articles (publishes nothing)."""
    rt = state.runtime(sends=False)
    from distributor.ledger.ingest import ONE_SHOT_FILE_WAIT, poll_all

    try:
        with source_problems_said_below():
            reports = await poll_all(rt, wait_for_files=ONE_SHOT_FILE_WAIT,
                                     announce_pending=False)  # said below
    finally:
        await rt.close()
    for report in reports:
        _say_source(rt, report, f"{len(report.new)} new, {report.seen} known"
                    + (", not modified" if report.not_modified else ""))
        if report.pending:
            files = "1 file is" if report.pending == 1 else f"{report.pending} files are"
            click.echo(f"source {report.source}: {files} still being written; the next poll "
                       "reads them")
    if any(r.error for r in reports):
        raise SystemExit(1)


def _say_source(rt: Any, report: Any, gave: str) -> None:
    """A source's line of a one-shot poll: its error (stderr), what it waits for, or what it
    ``gave``; then each problem of its articles as a warning."""
    if report.error:
        say(f"error: source {report.source}: {report.error}")
    elif report.waiting_until:
        click.echo(f"source {report.source}: {_waiting(rt, report)}")
    else:
        click.echo(f"source {report.source}: {gave}")
    for problem in report.problems:
        say(f"warning: source {report.source}: {problem}")


def _waiting(rt: Any, report: Any) -> str | None:
    """What a source that was not polled waits for (its server asked for a pause)."""
    from distributor.ledger.ingest import local_time

    if report.waiting_until is None:
        return None
    return (f"not polled: its server asked for a pause until "
            f"{local_time(rt, report.waiting_until)}")


def entry() -> None:  # pragma: no cover
    main(prog_name="distributor")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
