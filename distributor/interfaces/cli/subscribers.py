"""Commands for email subscribers and the web server (``serve``: needs the [web] extra).
Registered by :mod:`distributor.interfaces.cli`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, TypeVar

import click

from distributor.interfaces.cli.common import UserError, run_async, say, secret_missing
from distributor.ledger.subscribers import STATES, SubscriberError

T = TypeVar("T")






def _email_channel(rt: Any, name: str) -> Any:
    from distributor.plugin import is_list_channel
    from distributor.registry import get_adapter_class

    try:
        channel = rt.config.channel(name)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    lists = [c for c in rt.config.channels if is_list_channel(get_adapter_class(c.type))]
    if channel not in lists:
        names = ", ".join(c.name for c in lists)
        raise UserError(f"channel {name} is a {channel.type} channel; subscribers belong to "
                          f"email channels ({names or 'none configured'})")
    return channel


def _close(rt: Any) -> None:
    import asyncio

    asyncio.run(rt.close())


# --------------------------------------------------------------------------- subscribers


@click.group()
def subscribers() -> None:
    """Email subscribers: add, import, list, export, remove, bounces."""


@subscribers.command("add")
@click.argument("email")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The email channel.")
@click.option("--confirmed", is_flag=True,
              help="Subscribed already (consent given elsewhere): no confirmation mail.")
@click.pass_obj
@run_async
async def subscribers_add(state: Any, email: str, channel_name: str, confirmed: bool) -> None:
    """Subscribe EMAIL. Without --confirmed it gets a mail with a confirmation link
    (double opt-in) and receives nothing until it is opened. A mail that could not be sent
    is sent by the same command again."""
    from distributor.interfaces.cli.common import _iso, _local
    from distributor.ledger.subscribers import CONFIRM_RESEND_AFTER, MissingSecret, secret_of
    from distributor.services.subscribers import subscribe

    rt = state.runtime(sends=not confirmed, channels=[channel_name])
    try:
        channel = _email_channel(rt, channel_name)
        if not confirmed:
            try:
                secret_of(rt.config)
            except MissingSecret as exc:
                raise secret_missing(rt.config, exc) from None
        try:
            done = await subscribe(rt, channel.name, email, confirmed=confirmed)
        except MissingSecret as exc:
            raise secret_missing(rt.config, exc) from None
        except SubscriberError as exc:
            raise UserError(str(exc)) from None
    finally:
        await rt.close()
    words = {"created": "subscribed (pending until confirmed)",
             "confirmed": "subscribed and confirmed", "resubscribed": "subscribed again",
             "already-confirmed": "already subscribed and confirmed",
             "already-pending": "already subscribed, waiting for confirmation"}
    address = done.address
    click.echo(f"{address}: {words.get(done.what, done.what)} on {channel.name}")
    if done.mails is not None and (done.mails.problems or done.mails.unsent):
        raise UserError(f"the confirmation mail could not be sent: {done.mails.problems[0]}; "
                        f"{address} is stored, pending: run the same command again to send it")
    if done.mails is not None and done.mails.sent:
        click.echo(f"{address}: confirmation mail sent")
    elif done.mail_again_after is not None:
        click.echo(f"{address}: its confirmation mail went out at "
                   f"{_local(_iso(done.mail_again_after - CONFIRM_RESEND_AFTER))}; run this "
                   f"again after {_local(_iso(done.mail_again_after))} to send another")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The email channel.")
@click.option("--confirmed", is_flag=True,
              help="The addresses consented already: import them confirmed, send no mail.")
@click.pass_obj
@run_async
async def subscribers_import(state: Any, file: Path, channel_name: str, confirmed: bool) -> None:
    """Import addresses from a CSV file (with or without a header row).

    With a header, the column named email is read; without, the first column. Bad rows are
    reported with their line number and skipped; the others are imported. Addresses already
    on the channel are left as they are, so importing a file twice changes nothing. Without
    --confirmed, every new address gets a confirmation mail, and so does every address of the
    file still pending whose mail could not be sent before (import the file again for them).
    """
    import asyncio

    from distributor.ledger.subscribers import MissingSecret, secret_of
    from distributor.services.subscribers import import_subscribers, send_confirmation_mails

    if not file.exists():
        raise UserError(f"{file}: no such file")
    rt = state.runtime(sends=not confirmed, channels=[channel_name])
    problems_seen = False
    try:
        channel = _email_channel(rt, channel_name)
        if not confirmed:
            try:
                secret_of(rt.config)
            except MissingSecret as exc:
                raise secret_missing(rt.config, exc) from None
        try:
            imported = await asyncio.to_thread(import_subscribers, rt, file, channel.name,
                                               confirmed=confirmed)
        except SubscriberError as exc:
            raise UserError(str(exc)) from None
        report = imported.report
        for line, problem in report.bad:
            say(f"error: {file}:{line}: {problem}")
        problems_seen = bool(report.bad)
        state_word = "confirmed" if confirmed else "pending"
        click.echo(f"{channel.name}: {report.added} added ({state_word}), {report.existing} "
                   f"already there, {len(report.bad)} bad rows")
        if imported.to_confirm:
            try:
                mails = await send_confirmation_mails(rt, channel.name, imported.to_confirm)
            except MissingSecret as exc:
                raise secret_missing(rt.config, exc) from None
            again = (f" ({len(imported.again)} of them to addresses already there, whose mail "
                     "had not gone out)" if imported.again else "")
            click.echo(f"{channel.name}: {mails.sent} confirmation mails sent{again}")
            for problem in mails.problems[:20]:
                say(f"error: confirmation mail: {problem}")
            if mails.unsent:
                n = len(mails.unsent)
                say(f"error: {n} confirmation mail{'s' if n != 1 else ''} could not be sent; "
                    "the addresses are stored, pending: run the same command again to send "
                    "them")
            problems_seen = problems_seen or bool(mails.problems or mails.unsent)
    finally:
        await rt.close()
    if problems_seen:
        raise SystemExit(1)


@subscribers.command("list")
@click.option("--channel", "channel_name", metavar="NAME", help="Only this channel.")
@click.option("--state", "state_name", type=click.Choice(STATES), help="Only this state.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="At most this many (0: all).")
@click.pass_obj
def subscribers_list(state: Any, channel_name: str | None, state_name: str | None,
                     as_json: bool, limit: int) -> None:
    """List subscribers (oldest first) and the count per channel and state."""
    from distributor.interfaces.cli.common import _table
    from distributor.ledger.subscribers import counts, export_row, iter_subscribers

    rt = state.runtime(sends=False)
    try:
        if channel_name:
            _email_channel(rt, channel_name)
        rows = []
        for row in iter_subscribers(rt.store, channel=channel_name, state=state_name):
            rows.append(export_row(row))
            if limit and len(rows) >= limit:
                break
        with rt.store.session() as session:
            totals = counts(session, channel_name)
    finally:
        _close(rt)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no subscribers" + (f" in state {state_name}" if state_name else ""))
    else:
        click.echo(_table(["EMAIL", "CHANNEL", "STATE", "SINCE", "SOURCE"], [
            [r["email"], r["channel"], r["state"], r["created_at"][:10], r["source"]]
            for r in rows]))
    for name, by_state in sorted(totals.items()):
        parts = ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
        click.echo(f"{name}: {parts}")


@subscribers.command("export")
@click.option("--channel", "channel_name", metavar="NAME", help="Only this channel.")
@click.option("--state", "state_name", type=click.Choice(STATES), help="Only this state.")
@click.option("--email", help="Everything stored about this one address, as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.pass_obj
def subscribers_export(state: Any, channel_name: str | None, state_name: str | None,
                       email: str | None, output: Path | None) -> None:
    """Export subscribers as CSV; with --email, one person's data as JSON."""
    from distributor.ledger.subscribers import export_csv, export_person

    rt = state.runtime(sends=False)
    try:
        if channel_name:
            _email_channel(rt, channel_name)
        if email:
            with rt.store.session() as session:
                try:
                    data = export_person(session, email)
                except SubscriberError as exc:
                    raise UserError(str(exc)) from None
            if not data["subscriptions"]:
                raise UserError(f"{data['email']} is not stored")
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            if output:
                output.write_text(text, encoding="utf-8")
            else:
                click.echo(text, nl=False)
            return
        if output:
            with output.open("w", encoding="utf-8", newline="") as fh:
                n = export_csv(rt.store, fh, channel=channel_name, state=state_name)
            say(f"{n} subscribers written to {output}")
        else:
            export_csv(rt.store, sys.stdout, channel=channel_name, state=state_name)
    finally:
        _close(rt)


@subscribers.command("remove")
@click.argument("email")
@click.option("--channel", "channel_name", metavar="NAME",
              help="Only from this channel (default: every channel).")
@click.pass_obj
def subscribers_remove(state: Any, email: str, channel_name: str | None) -> None:
    """Erase EMAIL: its subscriptions, history and send records (right to erasure).

    To stop mail but keep the record, use the unsubscribe link instead."""
    from distributor.ledger.subscribers import remove_subscriber

    rt = state.runtime(sends=False)
    try:
        if channel_name:
            _email_channel(rt, channel_name)
        with rt.store.session() as session:
            try:
                n = remove_subscriber(session, email, channel=channel_name)
            except SubscriberError as exc:
                raise UserError(str(exc)) from None
    finally:
        _close(rt)
    if not n:
        raise UserError(f"{email} is not stored" + (f" on {channel_name}" if channel_name
                                                      else ""))
    click.echo(f"{email}: erased ({n} subscription{'s' if n != 1 else ''})")


@subscribers.command("bounce")
@click.argument("email")
@click.option("--hard", is_flag=True, help="Permanent: stop all sending.")
@click.option("--soft", is_flag=True,
              help="Temporary; three of them count as a hard bounce.")
@click.option("--complaint", is_flag=True, help="Marked as spam: stop all sending.")
@click.option("--channel", "channel_name", metavar="NAME", help="For a soft bounce: the channel.")
@click.option("--detail", help="The reason, as the mail server gave it.")
@click.pass_obj
def subscribers_bounce(state: Any, email: str, hard: bool, soft: bool, complaint: bool,
                       channel_name: str | None, detail: str | None) -> None:
    """Record a bounce or complaint for EMAIL (as the bounce webhook does)."""
    from distributor.ledger.subscribers import SOFT_BOUNCE_LIMIT, record_bounce

    kinds = [k for k, on in (("hard", hard), ("soft", soft), ("complaint", complaint)) if on]
    if len(kinds) != 1:
        raise click.UsageError("choose one of --hard, --soft or --complaint")
    kind = kinds[0]
    rt = state.runtime(sends=False)
    try:
        with rt.store.session() as session:
            rows = record_bounce(session, email, kind, channel=channel_name,
                                 detail=detail or f"{kind} (recorded by hand)")
            changed = [(r.channel, r.state, r.soft_bounces) for r in rows]
    finally:
        _close(rt)
    if not changed:
        raise UserError(f"{email} is not stored")
    for channel, new_state, softs in changed:
        counted = (f"soft bounce {softs} of {SOFT_BOUNCE_LIMIT} recorded; still "
                   if kind == "soft" and new_state not in ("bounced", "complained") else "")
        click.echo(f"{email} on {channel}: {counted}{new_state}")


# --------------------------------------------------------------------------- serve


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface, e.g. in a container).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--dry-run", is_flag=True,
              help="Send nothing: pushes from the dashboard are written to the outbox folder, "
                   "to try the dashboard without credentials. The ledger records them as sent "
                   "there: use a scratch database (DISTRIBUTOR_DATABASE_URL).")
@click.pass_obj
def serve(state: Any, host: str, port: int, dry_run: bool) -> None:
    """Serve the editor dashboard (/dashboard/, after `distributor editors add NAME`), the
    subscriber pages (subscribe, confirm, unsubscribe), the bounce webhook, /metrics
    (Prometheus) and /healthz.

    Pushes from the dashboard are sent by this process at once; scheduled ones, retries and
    digests by `distributor run`, which should run beside it.
    """
    from sqlalchemy import func, select
    from sqlalchemy.exc import DBAPIError

    from distributor.interfaces.cli.common import web_extra
    from distributor.ledger.subscribers import MissingSecret
    from distributor.store.models import Editor

    uvicorn = web_extra()
    from distributor.interfaces.web import create_app  # the [web] extra: after the check

    rt = state.runtime(dry_run=dry_run, announce=dry_run, store_wait=(
        "serve starts anyway: /healthz and the pages that need the database answer 503 "
        "until it answers"))
    try:
        app = create_app(rt)
    except MissingSecret as exc:
        _close(rt)
        raise secret_missing(rt.config, exc) from None
    log = logging.getLogger("distributor.serve")  # log lines: JSON with --log-format json
    try:
        with rt.store.session() as session:
            editors: int | None = session.scalar(select(func.count()).select_from(Editor)) or 0
    except DBAPIError:  # said at start, once
        editors = None
    log.info("dashboard: http://%s:%s/dashboard/ (%s editor account%s); subscribe page: "
             "/subscribe", host, port, "?" if editors is None else editors,
             "s" if editors != 1 else "")
    if editors == 0:
        log.warning("no editor can log in yet; add one with `distributor editors add NAME`")
    try:
        # uvicorn's lines go through our logging (redacted; JSON in JSON mode); forwarded
        # headers count only from web.trusted_proxies (the app reads them, uvicorn does not)
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False,
                    server_header=False, log_config=None)
    finally:
        _close(rt)
