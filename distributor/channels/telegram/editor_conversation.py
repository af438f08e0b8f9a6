"""The editor bot's conversation: what it answers to an editor's message (an article id, a URL,
pasted text, a command) and what a button press does. PTB's handlers call
:class:`EditorDesk`; nothing here depends on how updates arrive (long polling or a webhook).
Everything it asks of the core goes through the :class:`~distributor.plugin.Desk`."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from distributor.channels.telegram.config import TelegramConfig
from distributor.channels.telegram.editor_buttons import (
    ButtonRefused,
    button_secret,
    check_button,
    sign_button,
)
from distributor.channels.telegram.editor_groups import BotGroup
from distributor.channels.telegram.editor_texts import (
    HELP,
    action_lines,
    e,
    fit,
    not_an_editor,
    outcome_line,
    push_line,
    refusal_text,
    short,
    status_text,
)
from distributor.channels.telegram.photos import send_rendered
from distributor.channels.telegram.reconcile import remember_channel_post
from distributor.channels.telegram.transport import redact
from distributor.plugin import (
    Article,
    ChannelConfig,
    Desk,
    DeskError,
    NotFound,
    Refused,
    utcnow,
)

log = logging.getLogger("distributor.editorbot")

#: how long a button press waits for the dispatcher's outcome before answering "queued"
OUTCOME_WAIT = 30.0
_URL = re.compile(r"https?://[^\s<>\"']+")
_BOT_COMMAND = re.compile(r"/(\w+)(?:@\w+)?(?:\s+(.*))?", re.S)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class EditorDesk:
    """What the bot answers and does. PTB's handlers call these methods; nothing here depends
    on how updates arrive (long polling or a webhook)."""

    def __init__(self, desk: Desk, group: BotGroup, *,
                 clock: Callable[[], datetime] | None = None):
        self.desk = desk
        self.group = group
        self.clock = clock or (lambda: utcnow())
        self.secret = button_secret(desk.web, group.token)
        #: the channel whose rendering the preview shows
        self.home: TelegramConfig = next((c for c in group.channels if c.editors),
                                         group.channels[0])
        self._article_locks: dict[int, asyncio.Lock] = {}

    # -- who may -----------------------------------------------------------------------------
    def is_editor(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.group.editors

    # -- handlers ----------------------------------------------------------------------------
    async def on_update_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or message.text is None:
            return
        if not self.is_editor(user.id if user else None):
            log.info("refused a message from Telegram user %s (not an editor)",
                     user.id if user else "?")
            await message.reply_html(not_an_editor(self.desk.site.name, user.id if user else None))
            return
        assert user is not None
        command = _BOT_COMMAND.fullmatch(message.text.strip())
        if command is not None:
            reply = await self.command(command.group(1).lower(), (command.group(2) or "").split(),
                                       user.id)
            await message.reply_html(fit(reply), link_preview_options=_NO_PREVIEW)
            return
        try:
            article_id, note = self.take_article(message.text, user.id)
        except (DeskError, LookupError) as exc:
            await message.reply_html(e(exc))
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
        article = self.desk.read_pasted(text, now=now)
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
            await bot.send_message(chat_id, f"Telegram refuses this post: {e(exc.message)} "
                                   "(a rendering bug: please report it with the article).",
                                   parse_mode="HTML")
        except Exception as exc:
            await bot.send_message(chat_id, f"The post cannot be rendered: {e(exc)}",
                                   parse_mode="HTML")
        text = self.summary(article, held)
        if note:
            text = f"{e(note)}\n\n{text}"
        await bot.send_message(chat_id, fit(text), parse_mode="HTML",
                               link_preview_options=_NO_PREVIEW,
                               reply_markup=self.keyboard(article_id, chat_id))

    def summary(self, article: Article, held: bool) -> str:
        assert article.id is not None
        lines = [f"<b>{e(article.title)}</b>", e(article.url),
                 f"Article {article.id} · {e(article.source)}", ""]
        states = self._states(article.id)
        for _, channel in self.publishable():
            what = "the post above" if channel.name == self.home.name else self._size(
                article, channel)
            lines.append(f"• {e(channel.name)} ({e(channel.type)}): {what} · "
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
            return f"cannot render ({e(short(str(exc), 80))})"
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
            lines.append(f"• {e(place.channel)} (digest): {where}")
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
        header = f"<b>{e(article.title)}</b>\n{e(article.url)}\n\n"
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
        return [push_line(o, self.desk.site.tz) for o in outcomes]

    def add_to_digest(self, article_id: int, user_id: int) -> str:
        """Put the article in the next digest of every digest channel (an editor's pick, as
        the dashboard and `distributor digest add` make it); nothing else is published."""
        channels = self.desk.digest_channels()
        if not channels:
            return "There is no digest channel."
        for channel in channels:
            self.desk.pick(channel.name, article_id, include=True, by=f"telegram:{user_id}")
        log.info("editor %s added article %s to the next digest", user_id, article_id)
        return "Added to the next digest of " + ", ".join(e(c.name) for c in channels) + "."

    async def _edit(self, message: Any, text: str) -> None:
        try:
            await message.edit_text(fit(text), parse_mode="HTML",
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
        if name in ("retract", "correct"):
            return await self.retract_or_correct(name, args, user_id)
        return HELP

    def status(self, *, last: int = 10) -> str:
        return status_text(self.desk.status(last=last), self.desk.site.tz)

    async def retry(self, args: list[str], user_id: int) -> str:
        if not args or not args[0].isdigit():
            return "Say which delivery: /retry ID (the ids are in /status)."
        delivery_id = int(args[0])
        force = len(args) > 1 and args[1].lower() in ("force", "--force")
        try:
            outcome = await self.desk.retry(delivery_id, force=force, wait=OUTCOME_WAIT)
        except (NotFound, Refused) as exc:
            return e(refusal_text(exc, delivery_id))
        log.info("editor %s retried delivery %s%s", user_id, delivery_id,
                 " (forced)" if force else "")
        return outcome_line(outcome.delivery, self.desk.site.tz)

    async def retract_or_correct(self, name: str, args: list[str], user_id: int) -> str:
        """/retract ARTICLE REASON, /correct ARTICLE [NOTE] (ARTICLE: an id or a link)."""
        words = " ".join(args[1:]).strip()
        if not args or (name == "retract" and not words):
            return (f"Say /{name} ARTICLE " + ("REASON (readers see the reason)."
                    if name == "retract" else "[NOTE]."))
        try:
            article = self.desk.find_article(args[0])
            assert article.id is not None
            by = f"telegram:{user_id}"
            outcomes = await (self.desk.retract(article.id, reason=words, by=by,
                                                wait=OUTCOME_WAIT) if name == "retract"
                              else self.desk.correct(article.id, note=words or None, by=by,
                                                     wait=OUTCOME_WAIT))
        except (DeskError, LookupError) as exc:
            return e(str(exc))
        log.info("editor %s: %s article %s", user_id, name, article.id)
        return action_lines(outcomes)

    def resolve(self, args: list[str]) -> str:
        if len(args) < 2 or not args[0].isdigit() or args[1].lower() not in ("sent", "failed"):
            return "Say /resolve ID sent (it is out) or /resolve ID failed (it is not)."
        delivery_id = int(args[0])
        try:
            d = self.desk.resolve(delivery_id, sent=args[1].lower() == "sent")
        except (NotFound, Refused) as exc:
            return e(refusal_text(exc, delivery_id))
        return e(f"delivery {d.id} is now {d.state}")
