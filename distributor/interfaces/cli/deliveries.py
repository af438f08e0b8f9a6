"""Commands on the delivery ledger, the channels and the sources: ``deliveries
list|retry|resolve``, ``channels list|resume``, ``sources list``."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from distributor.interfaces.cli.common import (
    State,
    UserError,
    _channel,
    _channel_of,
    _iso,
    _local,
    _short,
    _table,
    pass_state,
    pauses_said_below,
    run_async,
    say,
    tell,
)

# --------------------------------------------------------------------------- deliveries


@click.group()
def deliveries() -> None:
    """The delivery ledger: what went where, and what is waiting."""


@deliveries.command("list")
@click.option("--status", type=click.Choice(
    ["pending", "sending", "retry", "sent", "failed", "unknown", "held"]),
    help="Only this state.")
@click.option("--channel", "channel_name", metavar="NAME", help="Only this channel.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="Newest first, at most this many (0: all).")
@pass_state
def deliveries_list(state: State, status: str | None, channel_name: str | None, as_json: bool,
                    limit: int) -> None:
    """List deliveries, newest first."""
    from sqlalchemy import select

    from distributor.store.models import Delivery, DeliveryAction

    rt = state.runtime(dry_run=True)
    with rt.store.session() as session:
        query = select(Delivery).order_by(Delivery.id.desc()).limit(limit or None)
        if status:
            query = query.where(Delivery.state == status)
        if channel_name:
            query = query.where(Delivery.channel == channel_name)
        rows = list(session.scalars(query))
        actions: dict[int, list[dict[str, object]]] = {}
        for a in session.scalars(select(DeliveryAction).where(DeliveryAction.delivery_id.in_(
                [d.id for d in rows])).order_by(DeliveryAction.id)):
            actions.setdefault(a.delivery_id or 0, []).append(action_data(a))
        data = [{"id": d.id, "article_id": str(d.article_id), "title": d.article.title,
                 "channel": d.channel, "state": d.state, "attempts": d.attempts,
                 "remote_id": d.remote_id, "parts": [p.remote_id for p in d.parts],
                 "next_attempt_at": _iso(d.next_attempt_at), "sent_at": _iso(d.sent_at),
                 "error": d.last_error, "actions": actions.get(d.id, [])} for d in rows]
    rt.store.dispose()
    if not data and channel_name:  # (a channel since removed from the file still lists)
        _channel_of(rt.config, channel_name)  # a typo: one line that names the channels
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no deliveries" + (f" in state {status}" if status else ""))
        return
    table = []
    for d in data:
        table.append([str(d["id"]), f"{d['article_id']} {_short(d['title'], 30)}", d["channel"],
                      d["state"], str(d["attempts"]),
                      _local(d["sent_at"] if d["state"] == "sent" else d["next_attempt_at"]),
                      _short(d["error"] or (d["remote_id"] or ""), 60)])
        for a in d["actions"]:  # its retractions and corrections, right below the post
            table.append(["", f"  {a['action']}", d["channel"], str(a["state"]),
                          str(a["attempts"]),
                          _local(str(a["sent_at"] or a["requested_at"])),
                          _short(str(a["error"] or a["reason"] or a["note"] or ""), 60)])
    click.echo(_table(["ID", "ARTICLE", "CHANNEL", "STATE", "TRIES", "WHEN", "DETAIL"], table))


def action_data(a: Any) -> dict[str, object]:
    """A retraction or correction as ``deliveries list --json`` and ``articles list --json``
    show it."""
    return {"id": a.id, "action": a.action, "state": a.state, "attempts": a.attempts,
            "reason": a.reason, "note": a.note, "requested_by": a.requested_by,
            "requested_at": _iso(a.created_at), "sent_at": _iso(a.sent_at),
            "done": dict(a.done or {}), "error": a.last_error}


@deliveries.command("retry")
@click.argument("delivery_id", type=int)
@click.option("--force", is_flag=True,
              help="Also for deliveries that may already be published (unknown) or were sent.")
@pass_state
@run_async
async def deliveries_retry(state: State, delivery_id: int, force: bool) -> None:
    """Send a failed, unknown or waiting delivery again, now."""
    from distributor.interfaces.words import refusal_text
    from distributor.plugin.desk import DeskError, RetryKind
    from distributor.services import deliveries as desk
    from distributor.services.channels import statuses

    rt = state.runtime(channels=[])  # the credentials of the delivery's channel, below
    try:
        try:
            state.require_credentials(rt.config, [desk.delivery(rt, delivery_id).channel])
            asked = desk.request_retry(rt, delivery_id, force=force)
        except DeskError as exc:
            raise UserError(refusal_text(exc)) from None
        again = "queued again" if asked.kind is RetryKind.QUEUED else "queued already"
        click.echo(f"delivery {delivery_id} ({asked.delivery.channel}) is {again}")
        with pauses_said_below():  # the line below says it
            d = (await desk.send_now(rt, [delivery_id]))[delivery_id]
        paused = next((st.paused_reason for st in statuses(rt) if st.name == d.channel), None)
    finally:
        await rt.close()
    line, problem = retry_line(d, distributed=rt.config.execution == "distributed",
                               paused=paused)
    tell(line, problem)
    if problem:  # exit 0 only when it was published (DESIGN.md, Contract 2), as `push`
        raise SystemExit(1)


def retry_line(d: Any, *, distributed: bool = False,
               paused: str | None = None) -> tuple[str, bool]:
    """What ``deliveries retry`` says of the delivery after its try, and whether it is a
    problem: anything not published is, also a post that only waits (said: who sends it);
    ``paused``: why its channel is paused, if it is."""
    by = "a running `distributor worker`" if distributed else "`distributor run` while it runs"
    head = f"delivery {d.id} ({d.channel})"
    if d.state == "sent":
        return f"delivery {d.id}: sent" + (f" (remote id {d.remote_id})" if d.remote_id
                                           else ""), False
    if d.state in ("pending", "retry") and paused:  # as push says it
        return (f"error: {head}: not published: the channel is paused ({paused}); fix it, "
                f"then `distributor channels resume {d.channel}` sends it"), True
    if d.state == "retry":
        return (f"error: {head}: not published, the retry failed again: {d.last_error}; it is "
                f"tried again at {_local(_iso(d.next_attempt_at))} by {by}"), True
    if d.state in ("pending", "sending") and distributed:  # still with a worker
        return (f"error: {head}: not published yet: queued for the workers; {by} sends it; "
                "`distributor deliveries list` shows how it ends"), True
    if d.state in ("pending", "sending"):  # its channel holds it (pacing, max_posts_per_day)
        return (f"error: {head}: not published yet: it waits for its channel (its pacing or "
                f"max_posts_per_day); sent by {by}"), True
    if d.state == "unknown":
        return (f"error: {head}: unknown: {d.last_error}; it may have been published: check "
                f"the channel, then `distributor deliveries retry {d.id} --force` or "
                f"`distributor deliveries resolve {d.id} --sent`"), True
    return f"error: {head}: {d.state}: {d.last_error}", True


@deliveries.command("resolve")
@click.argument("delivery_id", type=int)
@click.option("--sent", is_flag=True, help="It was published: close it as sent.")
@click.option("--failed", is_flag=True, help="It was not: close it as failed.")
@click.option("--remote-id", help="The platform's id of the published post, if known.")
@pass_state
def deliveries_resolve(state: State, delivery_id: int, sent: bool, failed: bool,
                       remote_id: str | None) -> None:
    """Close a delivery an editor has checked by hand (typically one in state unknown)."""
    from distributor.interfaces.words import refusal_text
    from distributor.plugin.desk import DeskError
    from distributor.services import deliveries as desk

    if sent == failed:  # neither, or both (the last of the two is not a choice)
        raise click.UsageError("say --sent or --failed (one of them)")
    outcome = "sent" if sent else "failed"
    rt = state.runtime(dry_run=True)
    try:
        d = desk.resolve(rt, delivery_id, sent=outcome == "sent", remote_id=remote_id)
    except DeskError as exc:
        raise UserError(refusal_text(exc)) from None
    finally:
        rt.store.dispose()
    click.echo(f"delivery {d.id} is now {d.state}")


# --------------------------------------------------------------------------- channels


@click.group()
def channels() -> None:
    """Channels: their state, and resuming a paused one."""


@channels.command("list")
@pass_state
def channels_list(state: State) -> None:
    """List channels with their type, publishing mode, state and what waits for them."""
    from distributor.services.channels import statuses

    rt = state.runtime(dry_run=True)
    try:
        found = statuses(rt)
    finally:
        rt.store.dispose()
    rows = []
    for st in found:
        why = {"paused": f"paused: {st.paused_reason}",
               "waiting": f"waiting until {_local(_iso(st.held_until))}"
                          + (f" (after: {st.last_error})" if st.last_error else "")}
        rows.append([st.name, st.type, st.publish, why.get(st.state, st.state),
                     str(st.waiting)])
    click.echo(_table(["NAME", "TYPE", "PUBLISH", "STATE", "WAITING"], rows))
    paused = [st.name for st in found if st.state == "paused"]
    if paused:
        say(f"fix the credentials, then `distributor channels resume {paused[0]}`",
            level=logging.WARNING)


@channels.command("resume")
@click.argument("name")
@pass_state
def channels_resume(state: State, name: str) -> None:
    """Resume a channel paused after a credentials error (fix the credentials first)."""
    from distributor.services.channels import resume

    rt = state.runtime(dry_run=True)
    try:
        _channel(rt, name)  # an unknown name: the known ones, and the closest
        resumed = resume(rt, name, by="cli")
    finally:
        rt.store.dispose()
    click.echo(f"channel {name} resumed; waiting deliveries go out on the next pass"
               if resumed else f"channel {name} is not paused")


# --------------------------------------------------------------------------- sources


@click.group()
def sources() -> None:
    """Sources: when each was read, whether that worked, and pauses its server asked for."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@pass_state
def sources_list(state: State, as_json: bool) -> None:
    """List sources with their state: ok, failing (and why), skipping (read, but some files or
    entries were skipped: the first reason; --json lists them all), waiting (its server
    answered 429 or 503 with Retry-After: not read before then), or new (not read yet)."""
    from distributor.services.sources import source_statuses

    rt = state.runtime(dry_run=True)
    try:
        found = source_statuses(rt)
    finally:
        rt.store.dispose()
    if as_json:
        click.echo(json.dumps([{
            "name": s.name, "type": s.type, "where": s.where, "state": s.state,
            "last_polled_at": _iso(s.last_polled_at), "last_ok_at": _iso(s.last_ok_at),
            "last_error": s.last_error, "poll_after": _iso(s.poll_after),
            "articles": s.articles, "problems": list(s.problems)} for s in found],
            ensure_ascii=False, indent=2))
        return
    rows = []
    for st in found:
        why = {"waiting": f"waiting until {_local(_iso(st.poll_after))} (its server asked)",
               "failing": f"failing: {_short(st.last_error, 70)}",
               "skipping": f"skipping {_count(st.problems)}: {_short(st.problems[0], 60)}"
               if st.problems else "skipping"}
        rows.append([st.name, st.type, why.get(st.state, st.state),
                     _local(_iso(st.last_ok_at)), str(st.articles)])
    click.echo(_table(["NAME", "TYPE", "STATE", "LAST READ", "ARTICLES"], rows))



def _count(problems: tuple[str, ...]) -> str:
    from distributor.services.sources import skipped

    n = skipped(problems)
    return f"{n} item{'s' if n != 1 else ''}"
