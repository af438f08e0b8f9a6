"""What the editor bot says: help, /status, the outcome of a push or a retry, refusals.

Pure formatting of the desk's typed outcomes (:mod:`distributor.plugin.desk`) into Telegram's
HTML; nothing here asks the core anything.
"""

from __future__ import annotations

import html
from datetime import tzinfo

from distributor.plugin import (
    ActionOutcome,
    DeliveryView,
    DeskStatus,
    NotFound,
    PushKind,
    PushOutcome,
    Refusal,
    Refused,
)

TELEGRAM_TEXT_MAX = 4096

HELP = ("Send me an article link, a stored article id or the text of a new article "
        "with its link: I show the post and ask where to publish it.\n"
        "/status: the last deliveries and what needs a decision\n"
        "/retry ID: send a delivery again (/retry ID force if it may already be out)\n"
        "/resolve ID sent|failed: close a delivery you checked by hand\n"
        "/retract ARTICLE REASON: take an article back everywhere (posts deleted, or marked "
        "where Telegram will not delete them)\n"
        "/correct ARTICLE [NOTE]: bring its posts up to date with the article as it is now")


def e(text: object) -> str:
    """Escaped for Telegram's HTML."""
    return html.escape(str(text), quote=False)


def short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit(text: str) -> str:
    """Keep a reply within Telegram's length (cut at a line)."""
    if len(text) <= TELEGRAM_TEXT_MAX - 100:
        return text
    return text[: TELEGRAM_TEXT_MAX - 120].rsplit("\n", 1)[0] + "\n…"


def not_an_editor(site_name: str, user_id: int | None) -> str:
    return (f"Sorry, this bot only works for the editors of {e(site_name)}. "
            "Nothing was published. If you are one, ask the administrator to add your "
            f"Telegram user id <code>{user_id}</code> to <code>editors:</code> in "
            "channels.yaml.")


def push_line(outcome: PushOutcome, tz: tzinfo) -> str:
    """One channel's line after a push."""
    d, name = outcome.delivery, e(outcome.channel)
    if outcome.kind is PushKind.ALREADY_SENT:
        when = d.sent_at.astimezone(tz).strftime("%d %b %H:%M") if d.sent_at else "earlier"
        return f"{name}: already published {when} (id {e(d.remote_id)}), not posted again"
    if outcome.kind is PushKind.UNKNOWN:
        return (f"{name}: delivery {d.id} may already be published (unknown). Check the "
                f"channel, then /retry {d.id} force or /resolve {d.id} sent")
    if outcome.kind is not PushKind.QUEUED:
        return f"{name}: being sent right now"
    if d.state in ("pending", "retry") and outcome.channel_paused:
        return (f"{name}: NOT sent, the channel is paused ({e(short(outcome.channel_paused, 200))})"
                ". It goes out once the channel is resumed")
    return outcome_line(d, tz)


def outcome_line(d: DeliveryView, tz: tzinfo) -> str:
    """Where a delivery stands after a push or a retry waited for it."""
    name = e(d.channel)
    if d.state == "sent":
        return f"{name}: published (id {e(d.remote_id)})"
    if d.state == "retry" and d.next_attempt_at is not None:
        when = d.next_attempt_at.astimezone(tz).strftime("%H:%M:%S")
        return f"{name}: not yet ({e(short(d.last_error, 200))}); next try at {when}"
    if d.state == "unknown":
        return (f"{name}: no answer, it may have been published (delivery {d.id}). Check "
                f"the channel, then /retry {d.id} force or /resolve {d.id} sent")
    if d.state in ("pending", "sending"):
        return f"{name}: queued (delivery {d.id}); /status shows how it ends"
    return f"{name}: {d.state}: {e(short(d.last_error, 300))} (/retry {d.id})"


def status_text(status: DeskStatus, tz: tzinfo) -> str:
    """/status: the last deliveries, those waiting for a decision, the paused channels."""

    def line(d: DeliveryView) -> str:
        when = (d.sent_at if d.state == "sent" else d.updated_at) or d.updated_at
        stamp = f" {when.astimezone(tz):%d %b %H:%M}" if when else ""
        detail = f" · {e(short(d.last_error, 120))}" if d.state != "sent" and \
            d.last_error else ""
        return f"#{d.id} {e(d.channel)} · {d.state}{stamp} · {e(short(d.title, 50))}{detail}"

    parts = ["<b>Last deliveries</b>"]
    parts += [line(d) for d in status.recent] or ["none yet"]
    parts += ["", "<b>Waiting for a decision</b>"]
    if status.waiting:
        for d in status.waiting:
            hint = f"/retry {d.id} force or /resolve {d.id} sent" \
                if d.state == "unknown" else f"/retry {d.id}"
            parts.append(f"{line(d)} → {hint}")
    else:
        parts.append("nothing: no delivery is unknown or failed")
    for channel, reason in status.paused.items():
        parts += ["", f"<b>Paused</b> {e(channel)}: {e(short(reason, 300))}"]
    return "\n".join(parts)


def refusal_text(exc: NotFound | Refused, n: int) -> str:
    """Why /retry or /resolve on delivery ``n`` did nothing (plain text)."""
    if isinstance(exc, NotFound):
        return f"no delivery {n}; /status shows them"
    return {
        Refusal.MAYBE_PUBLISHED: f"delivery {n} may already have been published (state "
                                 f"unknown); check the channel, then use /retry {n} force to "
                                 f"send it anyway or `/resolve {n} sent`",
        Refusal.ALREADY_SENT: f"delivery {n} was sent already; use /retry {n} force to send "
                              "again",
        Refusal.SENDING_NOW: f"delivery {n} is being sent right now",
        Refusal.NOT_RESOLVABLE: f"delivery {n} is {exc.state}; only unknown, failed, retry, "
                                "pending or held deliveries can be resolved",
    }.get(exc.reason, str(exc))


_DONE = {"deleted": "deleted", "marked": "marked as retracted", "gone": "already gone",
         "edited": "edited", "left": "unchanged", "replied": "correction posted",
         "noticed": "notice sent"}


def action_lines(outcomes: list[ActionOutcome]) -> str:
    """What a /retract or /correct did, one line per channel (HTML, escaped)."""
    lines = []
    for o in outcomes:
        verb = "retracted" if o.action == "retract" else "corrected"
        kind = o.kind.value
        if kind == "not-supported":
            text = "cannot do this (not supported)"
        elif kind == "not-published":
            text = "nothing published there" + (f"; {o.detail}" if o.detail else "")
        elif kind == "already-done":
            text = f"already {verb}; nothing changed"
        elif kind == "in-flight":
            text = f"being {verb} right now"
        elif kind == "queued":
            text = o.detail or "queued"
        elif o.state == "sent":
            done = ", ".join(_DONE.get(w, w) for w in o.done.values())
            text = verb + (f" ({done})" if done else f"; {o.detail}" if o.detail else "")
        elif o.state == "retry":
            text = f"not yet ({short(o.detail or '', 200)}); tried again"
        else:
            text = f"{o.state}: {short(o.detail or '', 300)}"
        lines.append(f"<b>{e(o.channel)}</b>: {e(text)}")
    return "\n".join(lines) or "It was not published on any channel."
