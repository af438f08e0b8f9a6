"""The words the command line and the dashboard share for the services' typed outcomes and
refusals (the editor bot words its own: it speaks in a chat)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from distributor.plugin.actions import ActionKind, ActionOutcome
from distributor.plugin.desk import DeskError, NotFound, PickOutcome, Refusal, Refused

_DONE_WORDS = {"deleted": "deleted", "marked": "marked as retracted", "gone": "already gone",
               "edited": "edited", "left": "unchanged", "replied": "correction posted",
               "noticed": "notice sent"}


def refusal_text(exc: DeskError) -> str:
    """One sentence for a refused or impossible request on an article or a delivery."""
    if isinstance(exc, NotFound):
        if exc.what == "delivery":
            return f"no delivery {exc.key}; `distributor deliveries list` shows them"
        return f"no {exc.what} {exc.key}; `distributor articles list` shows them"
    if not isinstance(exc, Refused):
        return str(exc)
    n = exc.delivery_id
    return {
        Refusal.MAYBE_PUBLISHED: f"delivery {n} may already have been published (state "
                                 "unknown); check the channel, then use --force to send it "
                                 f"anyway or `deliveries resolve {n} --sent`",
        Refusal.ALREADY_SENT: f"delivery {n} was sent already; use --force to send again",
        Refusal.SENDING_NOW: f"delivery {n} is being sent right now",
        Refusal.TOO_LATE: f"article {exc.article_id} is already {exc.state} on {exc.channel}; "
                          "it cannot be held",
        Refusal.NOT_RESOLVABLE: f"delivery {n} is {exc.state}; only unknown, failed, retry, "
                                "pending or held deliveries can be resolved",
        Refusal.NO_DIGEST: f"channel {exc.channel} does not send digests",
    }[exc.reason]


def pick_text(outcome: PickOutcome) -> str:
    """One sentence for an editor's digest pick."""
    n, name = outcome.article_id, outcome.channel
    if outcome.include is None:
        return (f"article {n}: back to the usual rule on {name}" if outcome.changed
                else f"article {n}: no pick on {name}")
    if outcome.include:
        return f"article {n} goes into the next digest of {name}"
    return f"article {n} is left out of the digests of {name}"


def schedule_text(cron: str, tz: tzinfo, now: datetime) -> str:
    """A digest's cron as an editor reads it, in the site's zone, with its next time:
    "Every day at 06:00 (WIB); next Fri 4 Dec 06:00"."""
    from cron_descriptor import ExpressionDescriptor, Options

    from distributor.config import cron_trigger

    options = Options()
    options.use_24hour_time_format = True
    try:
        said = ExpressionDescriptor(cron, options).get_description()
    except Exception:  # an expression it cannot word: show it as it is
        said = f"cron “{cron}”"
    if said.startswith("At ") and "," not in said:
        said = "Every day a" + said[1:]
    fire = cron_trigger(cron, timezone=tz).get_next_fire_time(None, now)
    zone = fire.strftime("%Z") if fire else now.astimezone(tz).strftime("%Z")
    nxt = f"; next {fire.strftime('%a')} {fire.day} {fire.strftime('%b %H:%M')}" if fire else ""
    return f"{said} ({zone}){nxt}"


def action_text(o: ActionOutcome, *, when: Callable[[datetime | None], str] = str,
                path: Callable[[str], str] = str) -> tuple[str, bool]:
    """One line for a retraction or correction on one channel, and whether an editor has
    something to look at (it failed, its outcome is unknown, the channel cannot do it)."""
    verb = "retracted" if o.action == "retract" else "corrected"
    done = ", ".join(f"{rid} {_DONE_WORDS.get(what, what)}" for rid, what in o.done.items())
    if o.kind is ActionKind.NOT_SUPPORTED:
        return f"error: {o.channel}: not supported ({o.detail})", True
    if o.kind is ActionKind.NOT_PUBLISHED:
        return f"{o.channel}: nothing published there" + (f"; {o.detail}" if o.detail else ""), \
            False
    if o.kind is ActionKind.ALREADY_DONE:
        at = f" {when(o.at)}" if o.at else ""
        return (f"{o.channel}: already {verb}{at}; nothing changed"
                + (f" ({o.detail})" if o.detail else "")), False
    if o.kind is ActionKind.IN_FLIGHT:
        return f"{o.channel}: being {verb} right now by another process", False
    if o.kind is ActionKind.WOULD:
        detail = o.detail or ""
        where = f"written to {path(detail)}" if detail.endswith(".json") else detail
        return f"{o.channel}: would be {verb}" + (f"; {where}" if where else ""), False
    if o.kind is ActionKind.QUEUED:
        return f"{o.channel}: {o.detail or 'queued for the workers'}", False
    if o.state == "sent":
        return f"{o.channel}: {verb}" + (f" ({done})" if done else "") \
            + (f"; {o.detail}" if o.detail and not done else ""), False
    if o.state == "retry":
        return f"{o.channel}: not yet ({o.detail}); it is tried again", False
    return f"error: {o.channel}: {o.action} {o.state}: {o.detail}", True
