"""The editor bot: editors publish from a chat with the channel's Telegram bot.

A Telegram channel with ``editors:`` (Telegram user ids) in channels.yaml runs its bot inside
``distributor run`` with long polling (:func:`run_editor_bots`), or, with ``editor_bot:
webhook``, inside ``distributor serve``: :class:`EditorWebhooks` registers
``web.base_url/telegram/<secret path>`` with setWebhook at startup and feeds the updates Telegram
POSTs there (checked by the ``X-Telegram-Bot-Api-Secret-Token`` header) to the same handlers.
An editor sends the bot

* an article URL or a stored article id: the stored article;
* pasted text with the article's link in it: a new article (source ``editor``), parsed like an
  article file; it is kept out of automatic publishing until an editor presses a button;

and gets the Telegram post exactly as it would appear, then a summary (each channel's post or
thread, the digest placement) with buttons: publish to a channel, publish to all, add to the next
digest, cancel. ``/status`` lists the last deliveries and those waiting for a decision
(``unknown``, ``failed``) and paused channels; ``/retry ID [force]`` and ``/resolve ID
sent|failed`` act on one.

Anyone else gets a polite refusal and nothing happens. A button press is checked three ways: the
person pressing is an editor, the button's data carries an HMAC (over the action, the article,
the time and the chat, keyed by ``web.secret_key`` or else the bot token) and it is at most
:data:`BUTTON_TTL` old, so a forwarded, replayed or forged button cannot act. Pushing goes
through the ledger (:func:`distributor.ledger.deliveries.request_delivery`), so pressing twice never
posts twice.

The bot also records the ``channel_post`` updates it receives, which the Telegram adapter's
reconciliation searches for a post whose answer was lost; while it polls, that reconciliation
does not call getUpdates on the same token (Telegram allows one poller per token: a second
getUpdates ends the first with 409 Conflict).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from distributor.channels.telegram.adapter import (
    EDITOR_UPDATES,
    TelegramConfig,
    bot_requests,
    credential_key,
    polling,
    redact,
    remember_channel_post,
    send_rendered,
)
from distributor.plugin import (
    Article,
    ChannelConfig,
    DeliveryView,
    Desk,
    NotFound,
    PushKind,
    PushOutcome,
    Refusal,
    Refused,
    WebConfig,
)

log = logging.getLogger("distributor.editorbot")

#: a button older than this does nothing (send the article again for fresh buttons)
BUTTON_TTL = timedelta(hours=1)
#: seconds one getUpdates long poll waits for news
POLL_TIMEOUT = 10.0
#: how long a button press waits for the dispatcher's outcome before answering "queued"
OUTCOME_WAIT = 30.0
#: pause before starting a bot again after a network failure
RESTART_DELAY = 30.0
TELEGRAM_TEXT_MAX = 4096
_URL = re.compile(r"https?://[^\s<>\"']+")
_BOT_COMMAND = re.compile(r"/(\w+)(?:@\w+)?(?:\s+(.*))?", re.S)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --------------------------------------------------------------------------- configuration


@dataclass
class BotGroup:
    """The channels that share one bot token, and the editors of that bot."""

    key: str
    token: str
    api_base_url: str
    timeout: float
    channels: list[TelegramConfig] = field(default_factory=list)
    editors: set[int] = field(default_factory=set)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def mode(self) -> str:
        """``webhook`` when a channel with editors on the token says ``editor_bot: webhook``
        (Telegram sends a token's updates one way only), else ``polling``."""
        return "webhook" if any(c.editors and c.editor_bot == "webhook"
                                for c in self.channels) else "polling"


def editor_bot_groups(channels: list[ChannelConfig]) -> list[BotGroup]:
    """One group per bot token that has at least one enabled channel with editors."""
    groups: dict[str, BotGroup] = {}
    for channel in channels:
        if not isinstance(channel, TelegramConfig):
            continue
        token = channel.token.get_secret_value()
        key = credential_key(token, channel.api_base_url)
        group = groups.setdefault(key, BotGroup(key, token, channel.api_base_url.rstrip("/"),
                                                channel.timeout))
        group.channels.append(channel)
        group.editors.update(channel.editors)
    return [g for g in groups.values() if g.editors]


# --------------------------------------------------------------------------- signed buttons


class ButtonRefused(Exception):
    """A button press that must not act; the message says why, for the person pressing."""


def button_secret(web: WebConfig, token: str) -> bytes:
    """The HMAC key of a bot's buttons: from ``web.secret_key``, else from the bot token."""
    secret = web.secret_key
    material = secret.get_secret_value() if secret is not None and \
        secret.get_secret_value() else token
    return hashlib.sha256(b"distributor editor bot\0" + material.encode()).digest()


def _signature(secret: bytes, body: str, chat_id: int) -> str:
    digest = hmac.new(secret, f"{body}.{chat_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def sign_button(secret: bytes, action: str, article_id: int, chat_id: int,
                when: datetime) -> str:
    """callback_data ``action.article.time.signature`` (at most 64 bytes, as Telegram wants)."""
    body = f"{action}.{article_id}.{int(when.timestamp()):x}"
    return f"{body}.{_signature(secret, body, chat_id)}"


def check_button(secret: bytes, data: str, chat_id: int, now: datetime,
                 ttl: timedelta = BUTTON_TTL) -> tuple[str, int]:
    """(action, article id) of a genuine, recent button; else :class:`ButtonRefused`."""
    parts = data.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        raise ButtonRefused("This button is not one of mine. Nothing was done.")
    action, article, stamp, signature = parts
    expected = _signature(secret, f"{action}.{article}.{stamp}", chat_id)
    if not hmac.compare_digest(signature, expected):
        raise ButtonRefused("This button is not one of mine (or belongs to another chat). "
                            "Nothing was done.")
    try:
        made = datetime.fromtimestamp(int(stamp, 16), UTC)
    except (ValueError, OverflowError):
        raise ButtonRefused("This button is not one of mine. Nothing was done.") from None
    if now - made > ttl or made - now > timedelta(minutes=5):
        minutes = int(ttl.total_seconds() // 60)
        raise ButtonRefused(f"This button is older than {minutes} minutes, so it does nothing. "
                            "Send me the article again for fresh buttons.")
    return action, int(article)


# --------------------------------------------------------------------------- pasted text


class NeedsLink(ValueError):
    """Pasted text without a link: the post must point somewhere."""


def article_from_text(text: str, *, default_language: str = "en",
                      now: datetime | None = None) -> Article:
    """An article from pasted text: the first http(s) link is its URL (a line that is only the
    link is dropped from the text); the rest is parsed like an article file."""
    from distributor.text import detect_language, parse_article_text

    match = _URL.search(text)
    if match is None:
        raise NeedsLink("Which page should the post link to? Send the text again with the "
                        "article's link in it (the first link in the text is used).")
    url = match.group(0).rstrip(".,;:!?)]}»”’")
    lines = [line for line in text.splitlines() if line.strip() not in (url, f"<{url}>")]
    story = "\n".join(lines).strip()
    parsed = parse_article_text(story, language=detect_language(story, default_language))
    if not parsed.lede:
        raise ValueError("There is no article text besides the link. Paste the story itself "
                         "(a short title line first, if it has one) with its link.")
    return Article(
        source="editor", key=url, url=url, title=parsed.title or parsed.headline,
        title_derived=parsed.title is None, dateline=parsed.dateline, lede=parsed.lede,
        body=parsed.body, author=parsed.author, editor=parsed.editor, related=parsed.related,
        language=parsed.language, published=now or datetime.now(UTC),
    )


# --------------------------------------------------------------------------- the desk


def _e(text: object) -> str:
    return html.escape(str(text), quote=False)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(text: str) -> str:
    """Keep a reply within Telegram's length (cut at a line)."""
    if len(text) <= TELEGRAM_TEXT_MAX - 100:
        return text
    return text[: TELEGRAM_TEXT_MAX - 120].rsplit("\n", 1)[0] + "\n…"


class EditorDesk:
    """What the bot answers and does. PTB's handlers call these methods; nothing here depends
    on how updates arrive (long polling or a webhook)."""

    def __init__(self, desk: Desk, group: BotGroup, *,
                 clock: Callable[[], datetime] | None = None):
        self.desk = desk
        self.group = group
        self.clock = clock or (lambda: datetime.now(UTC))
        self.secret = button_secret(desk.web, group.token)
        #: the channel whose rendering the preview shows
        self.home: TelegramConfig = next((c for c in group.channels if c.editors),
                                         group.channels[0])
        self._article_locks: dict[int, asyncio.Lock] = {}

    # -- who may -----------------------------------------------------------------------------
    def is_editor(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.group.editors

    def refusal(self, user_id: int | None) -> str:
        return (f"Sorry, this bot only works for the editors of {_e(self.desk.site.name)}. "
                "Nothing was published. If you are one, ask the administrator to add your "
                f"Telegram user id <code>{user_id}</code> to <code>editors:</code> in "
                "channels.yaml.")

    # -- handlers ----------------------------------------------------------------------------
    async def on_update_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or message.text is None:
            return
        if not self.is_editor(user.id if user else None):
            log.info("refused a message from Telegram user %s (not an editor)",
                     user.id if user else "?")
            await message.reply_html(self.refusal(user.id if user else None))
            return
        assert user is not None
        command = _BOT_COMMAND.fullmatch(message.text.strip())
        if command is not None:
            reply = await self.command(command.group(1).lower(), (command.group(2) or "").split(),
                                       user.id)
            await message.reply_html(_fit(reply), link_preview_options=_NO_PREVIEW)
            return
        try:
            article_id, note = self.take_article(message.text, user.id)
        except (ValueError, LookupError) as exc:
            await message.reply_html(_e(exc))
            return
        await self.preview(context, message.chat.id, article_id, note)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user_id = query.from_user.id
        if not self.is_editor(user_id):
            log.info("refused a button press by Telegram user %s (not an editor)", user_id)
            await query.answer("Only the newsroom's editors can use these buttons. "
                               "Nothing was done.", show_alert=True)
            return
        message = query.message
        if message is None or not message.is_accessible or query.data is None:
            await query.answer("This button is too old. Send me the article again.",
                               show_alert=True)
            return
        try:
            action, article_id = check_button(self.secret, query.data, message.chat.id,
                                              self.clock())
        except ButtonRefused as exc:
            log.warning("refused a button press by editor %s: %s", user_id, exc)
            await query.answer(str(exc), show_alert=True)
            return
        lock = self._article_locks.setdefault(article_id, asyncio.Lock())
        async with lock:
            await self.act(query, action, article_id, user_id)

    async def on_channel_post(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.channel_post is not None:
            remember_channel_post(update.channel_post)

    # -- articles ----------------------------------------------------------------------------
    def take_article(self, text: str, user_id: int) -> tuple[int, str]:
        """The stored article an editor's text names (an id, a URL) or holds (pasted text):
        (article id, a note for the editor). Pasted text is stored, held back from automatic
        publishing (``backlog``) until a button says where it goes."""
        text = text.strip()
        if text.isdigit() or (_URL.fullmatch(text) is not None):
            try:
                article = self.desk.find_article(text)
            except NotFound:
                message = (f"no stored article {text}; `distributor articles list` shows the "
                           "ids")
                if not text.isdigit():
                    message = (f"I do not know the article at {text} yet (the sources have not "
                               "brought it). Paste its text together with the link to push it.")
                raise LookupError(message) from None
            assert article.id is not None
            return article.id, ""
        now = self.clock()
        article = article_from_text(text, default_language=self.desk.site.language, now=now)
        stored, existed = self.desk.take_pasted(article, by=f"telegram:{user_id}")
        assert stored.id is not None
        if existed:
            return stored.id, (f"This link is already article {stored.id} (from "
                               f"{stored.source}); that is what I show.")
        log.info("editor %s pasted a new article %s (%s)", user_id, stored.id, stored.url)
        return stored.id, ""

    def _row(self, article_id: int) -> tuple[Article, bool]:
        try:
            return self.desk.article(article_id)
        except NotFound:
            raise LookupError(f"There is no article {article_id} any more.") from None

    def publishable(self) -> list[tuple[int, ChannelConfig]]:
        """(index in the configuration, channel) of every channel a push can go to."""
        return list(enumerate(self.desk.publishable()))

    async def preview(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, article_id: int,
                      note: str = "") -> None:
        article, held = self._row(article_id)
        bot = context.bot
        try:
            post = self.desk.render(self.home.name, article)
            for message in post:
                await send_rendered(bot, chat_id, message)
        except TelegramError as exc:
            await bot.send_message(chat_id, f"Telegram refuses this post: {_e(exc.message)} "
                                   "(a rendering bug: please report it with the article).",
                                   parse_mode="HTML")
        except Exception as exc:
            await bot.send_message(chat_id, f"The post cannot be rendered: {_e(exc)}",
                                   parse_mode="HTML")
        text = self.summary(article, held)
        if note:
            text = f"{_e(note)}\n\n{text}"
        await bot.send_message(chat_id, _fit(text), parse_mode="HTML",
                               link_preview_options=_NO_PREVIEW,
                               reply_markup=self.keyboard(article_id, chat_id))

    def summary(self, article: Article, held: bool) -> str:
        assert article.id is not None
        lines = [f"<b>{_e(article.title)}</b>", _e(article.url),
                 f"Article {article.id} · {_e(article.source)}", ""]
        states = self._states(article.id)
        for _, channel in self.publishable():
            what = "the post above" if channel.name == self.home.name else self._size(
                article, channel)
            lines.append(f"• {_e(channel.name)} ({_e(channel.type)}): {what} · "
                         f"{states.get(channel.name, 'not published')}")
        lines.extend(self._placement(article.id))
        if held:
            lines.append("")
            lines.append("Nothing publishes it until you press a button.")
        return "\n".join(lines)

    def _size(self, article: Article, channel: ChannelConfig) -> str:
        try:
            count = len(self.desk.render(channel.name, article))
        except Exception as exc:
            return f"cannot render ({_e(_short(str(exc), 80))})"
        return "1 post" if count == 1 else f"thread of {count} posts"

    def _states(self, article_id: int) -> dict[str, str]:
        tz = self.desk.site.tz
        out: dict[str, str] = {}
        for name, d in self.desk.deliveries_of(article_id).items():
            if d.state == "sent":
                when = d.sent_at.astimezone(tz).strftime("%d %b %H:%M") if d.sent_at else ""
                out[name] = f"published {when}".strip()
            elif d.state == "unknown":
                out[name] = f"maybe published (delivery {d.id} is unknown)"
            else:
                out[name] = d.state
        return out

    def _placement(self, article_id: int) -> list[str]:
        """One line per digest channel: is the article in its next digest?"""
        tz = self.desk.site.tz
        lines = []
        for place in self.desk.placement(article_id, self.clock()):
            when = place.next_at.astimezone(tz).strftime("%a %d %b %H:%M") \
                if place.next_at else "?"
            where = (f"in the next digest ({when})" if place.included
                     else "not in the next digest (until you add it)")
            lines.append(f"• {_e(place.channel)} (digest): {where}")
        return lines

    def keyboard(self, article_id: int, chat_id: int) -> InlineKeyboardMarkup:
        now = self.clock()

        def button(label: str, action: str) -> list[InlineKeyboardButton]:
            return [InlineKeyboardButton(
                label, callback_data=sign_button(self.secret, action, article_id, chat_id, now))]

        rows = [button(f"Publish to {c.name}", f"p{i}") for i, c in self.publishable()]
        if len(rows) > 1:
            rows.append(button("Publish to all", "pa"))
        if self.desk.digest_channels():
            rows.append(button("Add to the next digest", "dg"))
        rows.append(button("Cancel", "no"))
        return InlineKeyboardMarkup(rows)

    # -- button actions ----------------------------------------------------------------------
    async def act(self, query: Any, action: str, article_id: int, user_id: int) -> None:
        message = query.message
        try:
            article, _ = self._row(article_id)
        except LookupError as exc:
            await query.answer(str(exc), show_alert=True)
            return
        header = f"<b>{_e(article.title)}</b>\n{_e(article.url)}\n\n"
        if action == "no":
            await query.answer("Cancelled: nothing was published.")
            await self._edit(message, header + "Cancelled: nothing was published.")
            return
        if action == "dg":
            await query.answer("Adding it to the next digest…")
            await self._edit(message, header + self.add_to_digest(article_id, user_id))
            return
        channels = self._channels_for(action)
        if channels is None:
            await query.answer("This button is not one of mine. Nothing was done.",
                               show_alert=True)
            return
        await query.answer("Publishing…")
        lines = await self.publish(article_id, channels, user_id)
        await self._edit(message, header + "\n".join(lines))

    def _channels_for(self, action: str) -> list[str] | None:
        names = {f"p{i}": [c.name] for i, c in self.publishable()}
        names["pa"] = [c.name for _, c in self.publishable()]
        return names.get(action)

    async def publish(self, article_id: int, channels: Iterable[str], user_id: int) -> list[str]:
        """Push an article to channels through the services; one line per channel."""
        names = list(channels)
        try:
            outcomes = await self.desk.push(article_id, names, by=f"telegram:{user_id}",
                                            wait=OUTCOME_WAIT)
        except NotFound:
            return [f"There is no article {article_id} any more."]
        log.info("editor %s pushed article %s to %s", user_id, article_id,
                 ", ".join(names) or "nothing")
        return [self._push_line(o) for o in outcomes]

    def _push_line(self, outcome: PushOutcome) -> str:
        d, name = outcome.delivery, _e(outcome.channel)
        if outcome.kind is PushKind.ALREADY_SENT:
            when = d.sent_at.astimezone(self.desk.site.tz).strftime("%d %b %H:%M") \
                if d.sent_at else "earlier"
            return f"{name}: already published {when} (id {_e(d.remote_id)}), not posted again"
        if outcome.kind is PushKind.UNKNOWN:
            return (f"{name}: delivery {d.id} may already be published (unknown). Check the "
                    f"channel, then /retry {d.id} force or /resolve {d.id} sent")
        if outcome.kind is not PushKind.QUEUED:
            return f"{name}: being sent right now"
        return self._outcome(d)

    def _outcome(self, d: DeliveryView) -> str:
        name = _e(d.channel)
        tz = self.desk.site.tz
        if d.state == "sent":
            return f"{name}: published (id {_e(d.remote_id)})"
        if d.state == "retry" and d.next_attempt_at is not None:
            when = d.next_attempt_at.astimezone(tz).strftime("%H:%M:%S")
            return f"{name}: not yet ({_e(_short(d.last_error, 200))}); next try at {when}"
        if d.state == "unknown":
            return (f"{name}: no answer, it may have been published (delivery {d.id}). Check "
                    f"the channel, then /retry {d.id} force or /resolve {d.id} sent")
        if d.state in ("pending", "sending"):
            return f"{name}: queued (delivery {d.id}); /status shows how it ends"
        return f"{name}: {d.state}: {_e(_short(d.last_error, 300))} (/retry {d.id})"

    def add_to_digest(self, article_id: int, user_id: int) -> str:
        """Put the article in the next digest of every digest channel (an editor's pick, as
        the dashboard and `distributor digest add` make it); nothing else is published."""
        channels = self.desk.digest_channels()
        if not channels:
            return "There is no digest channel."
        for channel in channels:
            self.desk.pick(channel.name, article_id, include=True, by=f"telegram:{user_id}")
        log.info("editor %s added article %s to the next digest", user_id, article_id)
        return "Added to the next digest of " + ", ".join(_e(c.name) for c in channels) + "."

    async def _edit(self, message: Any, text: str) -> None:
        try:
            await message.edit_text(_fit(text), parse_mode="HTML",
                                    link_preview_options=_NO_PREVIEW, reply_markup=None)
        except TelegramError as exc:  # e.g. "message is not modified": nothing to change
            log.info("could not edit the editor's message: %s", redact(str(exc)))

    # -- commands ----------------------------------------------------------------------------
    async def command(self, name: str, args: list[str], user_id: int) -> str:
        if name == "status":
            return self.status()
        if name == "retry":
            return await self.retry(args, user_id)
        if name == "resolve":
            return self.resolve(args)
        return self.help()

    def help(self) -> str:
        return ("Send me an article link, a stored article id or the text of a new article "
                "with its link: I show the post and ask where to publish it.\n"
                "/status: the last deliveries and what needs a decision\n"
                "/retry ID: send a delivery again (/retry ID force if it may already be out)\n"
                "/resolve ID sent|failed: close a delivery you checked by hand")

    def status(self, *, last: int = 10) -> str:
        tz = self.desk.site.tz

        def line(d: DeliveryView) -> str:
            when = (d.sent_at if d.state == "sent" else d.updated_at) or d.updated_at
            stamp = f" {when.astimezone(tz):%d %b %H:%M}" if when else ""
            detail = f" · {_e(_short(d.last_error, 120))}" if d.state != "sent" and \
                d.last_error else ""
            return (f"#{d.id} {_e(d.channel)} · {d.state}{stamp} · "
                    f"{_e(_short(d.title, 50))}{detail}")

        status = self.desk.status(last=last)
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
            parts += ["", f"<b>Paused</b> {_e(channel)}: {_e(_short(reason, 300))}"]
        return "\n".join(parts)

    async def retry(self, args: list[str], user_id: int) -> str:
        if not args or not args[0].isdigit():
            return "Say which delivery: /retry ID (the ids are in /status)."
        delivery_id = int(args[0])
        force = len(args) > 1 and args[1].lower() in ("force", "--force")
        try:
            outcome = await self.desk.retry(delivery_id, force=force, wait=OUTCOME_WAIT)
        except (NotFound, Refused) as exc:
            return _e(self._refusal(exc, delivery_id))
        log.info("editor %s retried delivery %s%s", user_id, delivery_id,
                 " (forced)" if force else "")
        return self._outcome(outcome.delivery)

    def resolve(self, args: list[str]) -> str:
        if len(args) < 2 or not args[0].isdigit() or args[1].lower() not in ("sent", "failed"):
            return "Say /resolve ID sent (it is out) or /resolve ID failed (it is not)."
        delivery_id = int(args[0])
        try:
            d = self.desk.resolve(delivery_id, sent=args[1].lower() == "sent")
        except (NotFound, Refused) as exc:
            return _e(self._refusal(exc, delivery_id))
        return _e(f"delivery {d.id} is now {d.state}")

    @staticmethod
    def _refusal(exc: NotFound | Refused, n: int) -> str:
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


# --------------------------------------------------------------------------- running


def build_application(desk: EditorDesk, *, poll_timeout: float, webhook: bool = False
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """PTB's Application with the desk's handlers; ``webhook``: without an updater (updates
    are put into ``app.update_queue`` by :class:`EditorWebhooks`)."""
    group = desk.group
    request, updates_request = bot_requests(group.token, group.api_base_url,
                                            timeout=group.timeout, poll_timeout=poll_timeout)
    builder = (ApplicationBuilder().token(group.token)
               .base_url(f"{group.api_base_url}/bot")
               .base_file_url(f"{group.api_base_url}/file/bot").request(request))
    builder = builder.updater(None) if webhook else builder.get_updates_request(updates_request)
    app = builder.job_queue(None).concurrent_updates(8).build()
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, desk.on_channel_post))
    app.add_handler(MessageHandler(private & filters.TEXT, desk.on_update_text))
    app.add_handler(CallbackQueryHandler(desk.on_callback))
    app.add_error_handler(_log_error)
    return app


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    log.error("the editor bot failed on an update: %s", redact(repr(error)),
              exc_info=(type(error), error, error.__traceback__) if error else None)


class EditorBot:
    """One bot token's long-polling editor bot, restarted after network failures."""

    def __init__(self, desk: Desk, group: BotGroup, *, poll_timeout: float = POLL_TIMEOUT,
                 clock: Callable[[], datetime] | None = None):
        self.desk = EditorDesk(desk, group, clock=clock)
        self.group = group
        self.poll_timeout = poll_timeout

    async def run(self, stop: asyncio.Event) -> None:
        names = ", ".join(self.group.names)
        while not stop.is_set():
            app = build_application(self.desk, poll_timeout=self.poll_timeout)
            try:
                await app.initialize()
                await app.start()
                assert app.updater is not None
                with polling(self.group.key):
                    await app.updater.start_polling(
                        timeout=timedelta(seconds=self.poll_timeout),
                        allowed_updates=list(EDITOR_UPDATES), bootstrap_retries=0)
                    log.info("editor bot @%s of %s is listening (%d editors)",
                             app.bot.username, names, len(self.group.editors))
                    await stop.wait()
                    await app.updater.stop()
                return
            except InvalidToken:
                log.error("the editor bot of %s cannot start: the bot token is invalid; check "
                          "TELEGRAM_BOT_TOKEN", names)
                return
            except (TelegramError, OSError) as exc:
                log.warning("the editor bot of %s stopped (%s); starting again in %.0f s",
                            names, redact(str(exc)), RESTART_DELAY)
            finally:
                await _close(app)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_DELAY)


async def _close(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    try:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
    except Exception as exc:  # closing is best effort
        log.debug("closing the editor bot: %s", redact(str(exc)))


async def run_editor_bots(desk: Desk, stop: asyncio.Event, *,
                          poll_timeout: float = POLL_TIMEOUT,
                          clock: Callable[[], datetime] | None = None) -> None:
    """Run the editor bot of every Telegram token with editors until ``stop`` is set.

    ``desk``: the editor services (the core's; in embedded mode they send through the
    scheduler's dispatcher, so an editor's push and the scheduled passes share one drain per
    channel). Under ``--dry-run`` no bot runs.
    """
    groups = [] if desk.dry_run else editor_bot_groups(desk.channels())
    for group in [g for g in groups if g.mode == "webhook"]:
        log.info("the editor bot of %s receives its messages by webhook: `distributor serve` "
                 "answers them (no long polling here)", ", ".join(group.names))
    groups = [g for g in groups if g.mode == "polling"]
    if not groups:
        await stop.wait()
        return
    bots = [EditorBot(desk, g, poll_timeout=poll_timeout, clock=clock) for g in groups]
    await asyncio.gather(*(b.run(stop) for b in bots))
