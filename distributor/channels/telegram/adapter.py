"""Telegram channel adapter (Bot API through python-telegram-bot): the class, thin.

What it is built of, by what each part owns:

* :mod:`.config`: the channel's keys (``TelegramConfig``) and its quiet hours;
* :mod:`.messages`: a rendered message checked and turned into one Bot API call;
* :mod:`.transport`: the HTTP transport (Telegram's exact answers, pacing, the token redacted);
* :mod:`.errors`: every outcome mapped onto the three error kinds of :mod:`distributor.plugin`;
* :mod:`.pacing` and :mod:`.tokens`: what this process knows of each bot token (its pace, flood
  holds, an invalid token, its posts), one object per token;
* :mod:`.photos`: a photo Telegram cannot fetch is downloaded and uploaded, else the text goes;
* :mod:`.render`: the post (HTML parse mode) and the text readers see of it;
* :mod:`.moves`: a chat Telegram moved (group -> supergroup), kept in the channel's state;
* :mod:`.channel_posts` and :mod:`.reconcile`: finding a post whose answer was lost.

It imports nothing of the core but :mod:`distributor.plugin`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from telegram import Bot, ChatFullInfo, ChatMember
from telegram import Message as TelegramMessage
from telegram.error import ChatMigrated

from distributor.channels.telegram.channel_posts import ChannelPosts, SeenPost, fingerprint
from distributor.channels.telegram.config import TelegramConfig, in_window, parse_quiet_hours
from distributor.channels.telegram.errors import Sender, channel_error
from distributor.channels.telegram.messages import Outgoing, readable_text
from distributor.channels.telegram.messages import outgoing as _outgoing
from distributor.channels.telegram.moves import ChatMove, can_migrate
from distributor.channels.telegram.pacing import (
    GAP,
    TOKEN_RATE,
    TOKEN_WINDOW,
    shared_slots,
    token_scope,
)
from distributor.channels.telegram.photos import photo_fallback, photo_refused, send_rendered
from distributor.channels.telegram.reconcile import (
    EDITOR_UPDATES,
    PostFinder,
    remember_channel_post,
)
from distributor.channels.telegram.render import render_telegram
from distributor.channels.telegram.tokens import (
    TokenState,
    credential_key,
    forget_token_state,
    polling,
    token_state,
)
from distributor.channels.telegram.transport import (
    MESSAGE_LEFT_AT,
    Failure,
    attempt,
    bot_requests,
    close_bot,
    guard_logs,
    new_bot,
    redact,
    started_bot,
)
from distributor.plugin import (
    ActionContext,
    Adapter,
    AmbiguousError,
    Article,
    ChannelConfig,
    ChannelEnv,
    Message,
    PermanentError,
    RenderContext,
    SendContext,
    TransientError,
    utcnow,
)

# what other modules and the tests import from here
__all__ = [
    "EDITOR_UPDATES",
    "GAP",
    "TOKEN_RATE",
    "TOKEN_WINDOW",
    "ChannelPosts",
    "TelegramAdapter",
    "TelegramConfig",
    "bot_requests",
    "can_migrate",
    "credential_key",
    "forget_token_state",
    "new_bot",
    "polling",
    "readable_text",
    "redact",
    "remember_channel_post",
    "send_rendered",
    "token_state",
]

log = logging.getLogger(__name__)


class TelegramAdapter(Adapter):
    type_name = "telegram"
    config_model = TelegramConfig
    preview_style = "chat"
    body_maxlen = 4096
    rate_per_minute = 20
    config: TelegramConfig

    @classmethod
    def editor_bots(cls, desk: Any, stop: Any) -> Any:
        from distributor.channels.telegram.editor_app import run_editor_bots

        return run_editor_bots(desk, stop)

    @classmethod
    def editor_webhooks(cls, desk: Any) -> Any:
        from distributor.channels.telegram.editorhooks import EditorWebhooks

        return EditorWebhooks(desk)

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self._move = ChatMove(self.config.name, self.config.chat_id)
        #: the time quiet hours are judged by (tests set a fixed clock)
        self.clock: Callable[[], datetime] = utcnow
        self._bot: Bot | None = None
        self._lock = asyncio.Lock()
        self._quiet = parse_quiet_hours(self.config.quiet_hours) \
            if self.config.quiet_hours else None
        #: names this adapter's bot token (on its Bot API server) without revealing it: a
        #: sha256 prefix. Channels with the same key share the token's pacing, its flood holds
        #: and its fate when the token is invalid (the dispatcher pauses them all)
        self.credential_key: str = credential_key(self._token, self.config.api_base_url)
        self._finder = PostFinder(self.config, self.credential_key,
                                  chat=lambda: self.chat_id, ready=self._ready)
        secrets = [self._token]
        if self.config.observer_token:
            secrets.append(self.config.observer_token.get_secret_value())
        guard_logs(secrets)
        self._state.posters.add(self)

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return render_telegram(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        """One message listing the period's headlines as links (the digest protocol)."""
        from distributor.channels.telegram.digest import render_telegram_digest

        return render_telegram_digest(articles, ctx)

    def setup(self, env: ChannelEnv) -> None:
        """Keep where Telegram moved the chat in the channel's state, so a restart posts
        straight to the new chat; when several processes send, the token's pace is shared
        through the token's shared state (every channel on it, in every process)."""
        self._move.use(env.state, config_file=env.config_file)
        pacing = self._state.pacing
        if env.distributed and not env.dry_run and pacing.shared is None:
            pacing.shared = shared_slots(env.shared_state(token_scope(self.credential_key)),
                                         gap=pacing.gap)

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def _state(self) -> TokenState:
        """This token's state in this process (looked up each time: tests forget it)."""
        state = token_state(self.credential_key)
        state.posters.add(self)
        return state

    @property
    def _token(self) -> str:
        return self.config.token.get_secret_value()

    @property
    def _base_url(self) -> str:
        return self.config.api_base_url.rstrip("/")

    @property
    def migrated_chat_id(self) -> int | None:
        """Set when Telegram said the chat moved (group -> supergroup); used from then on."""
        return self._move.chat_id

    @property
    def chat_id(self) -> str | int:
        """Where posts go: the configured chat, or the one Telegram said it migrated to."""
        return self._move.current(self._state)

    def channels_on_token(self) -> list[str]:
        """Names of the channels of this process that post with this adapter's token."""
        return self._sender().channels_on_token()

    def _sender(self) -> Sender:
        return Sender(channel=self.config.name, chat=self.chat_id, base_url=self._base_url,
                      timeout=self.config.timeout, state=self._state,
                      config_file=self._move.config_file)

    async def _load_move(self) -> None:
        await self._move.load(self._state)

    async def _ready(self) -> Bot:
        """The bot, created and initialized (getMe) once."""
        bad = self._state.still_bad()
        if bad is not None:
            raise PermanentError(bad.message, pause_channel=True)
        async with self._lock:
            if self._bot is not None:
                return self._bot
            result = await started_bot(self._token, self._base_url, timeout=self.config.timeout)
            if not isinstance(result, Failure):
                self._bot = result
                self._state.bad = None
                return result
        # nothing was posted yet: a timeout here is not ambiguous
        raise channel_error(result, self._sender(), sent=False)

    async def _call(self, bot: Bot, out: Outgoing) -> TelegramMessage | Failure:
        """One post; once more at the new chat id if Telegram says the chat migrated (the new
        id is kept in memory and in the store, so later posts and a restart go straight
        there)."""
        result = await attempt(out.call(bot, self.chat_id))
        if isinstance(result, Failure) and isinstance(result.error, ChatMigrated):
            new_id = result.error.new_chat_id
            if str(self.chat_id) != str(new_id):
                await self._move.moved(self._state, new_id)
                result = await attempt(out.call(bot, self.chat_id))
        return result

    # -- the adapter interface --------------------------------------------------------------
    def quiet_now(self) -> bool:
        """True inside the channel's quiet hours (site timezone)."""
        if self._quiet is None:
            return False
        tz = self.site.tz if self.site is not None else UTC
        return in_window(self.clock().astimezone(tz).time().replace(tzinfo=None), self._quiet)

    async def send(self, message: Message, ctx: SendContext) -> str:
        """Post one message to the channel; return Telegram's message id. (Channel posts of
        one delivery are not chained: ``ctx.previous_id`` is not used.)"""
        out = _outgoing(message)
        if self.quiet_now():
            out.disable_notification = True
        await self._load_move()
        bot = await self._ready()

        state = self._state
        flood = state.flood_left(self.chat_id)
        if flood > 0:  # Telegram said to wait: not one request to this chat before it ends
            raise TransientError(f"Telegram flood control: {flood:.1f} s left to wait",
                                 retry_after=flood, channel_wide=True)
        started = time.time()
        state.note_attempt(self.chat_id, fingerprint(message), started)
        MESSAGE_LEFT_AT.set(None)
        result = await self._call(bot, out)
        if out.method == "sendPhoto" and photo_refused(result) is not None:
            result = await photo_fallback(lambda o: self._call(bot, o), out, result,
                                          channel=self.config.name, timeout=self.config.timeout,
                                          allow_hosts=self.site.image_allow_hosts
                                          if self.site else ())
        if isinstance(result, Failure):
            error = channel_error(result, self._sender(), sent=True)
            if isinstance(error, AmbiguousError):
                found = await self._finder.look_for(message, since=started - 60,
                                                    wait=self.config.reconcile_wait)
                if found is not None:
                    _report_request(ctx)
                    return self._found(found)
                error.message += (
                    "; it is not among the channel posts Telegram showed"
                    + ("" if self.config.observer_token else
                       " (set observer_token to a second bot that administers the channel, so "
                       "such posts can be found)"))
                error.args = (error.message,)
            raise error
        state.note_posted(result.chat.id, result.message_id)
        _report_request(ctx)
        return str(result.message_id)

    def _found(self, post: SeenPost) -> str:
        log.warning("Telegram did not answer, but post %s in %s is this message: it was "
                    "published", post.message_id, self.chat_id)
        return str(post.message_id)

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """Find the post of a delivery whose outcome is unknown among the channel posts Telegram
        showed this process (the editor bot's updates, or getUpdates of the observer bot or of
        the channel's bot); its message id, else None."""
        await self._load_move()
        return await self._finder.reconcile(messages, sent_ids)

    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        """Delete every message of the post (a message Telegram will not delete becomes a
        retraction notice); see :mod:`.corrections`."""
        from distributor.channels.telegram import corrections

        await self._load_move()
        bot = await self._ready()
        await corrections.retract(bot, self.chat_id, remote_ids, _action(ctx),
                                  lambda f: channel_error(f, self._sender(), sent=True))

    async def correct(self, remote_ids: list[str], messages: list[Message],
                      ctx: SendContext) -> list[str]:
        """Edit every message of the post in place to the article as it is now."""
        from distributor.channels.telegram import corrections

        await self._load_move()
        bot = await self._ready()
        return await corrections.correct(bot, self.chat_id, remote_ids, messages,
                                         _action(ctx),
                                         lambda f: channel_error(f, self._sender(), sent=True))

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """As the base, but the readable ``.txt`` shows the post as a person reads it: no
        tags, entities decoded, each link's address after its words."""
        files = super().outbox_files(messages)
        files[".txt"] = ("\n\n---\n\n".join(
            readable_text(str(m.get("caption") or m.get("text") or "")) for m in messages)
            + "\n").encode("utf-8")
        return files

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        """``t.me`` links exist for public channels (@name) and supergroups (-100...)."""
        if not remote_id.isdigit():
            return None
        chat = str(moved_to or self._move.recorded() or self.config.chat_id or "")
        if chat.startswith("@") and re.fullmatch(r"@\w{4,64}", chat):
            return f"https://t.me/{chat[1:]}/{remote_id}"
        if chat.startswith("-100") and chat[4:].isdigit():
            return f"https://t.me/c/{chat[4:]}/{remote_id}"
        return None

    def profile_url(self) -> str | None:
        """A public channel's ``t.me`` page (@name); private chats have none."""
        chat = str(self._move.recorded() or self.config.chat_id or "")
        if chat.startswith("@") and re.fullmatch(r"@\w{4,64}", chat):
            return f"https://t.me/s/{chat[1:]}"
        return None

    async def check_online(self) -> str:
        """getMe, getChat and getChatMember: "@bot can post to <chat title>"."""
        await self._load_move()
        bot = await self._ready()

        async def chat_and_member() -> tuple[ChatFullInfo, ChatMember]:
            return (await bot.get_chat(self.chat_id),
                    await bot.get_chat_member(self.chat_id, bot.id))

        result = await attempt(chat_and_member())
        if isinstance(result, Failure):
            raise channel_error(result, self._sender(), sent=False)
        chat, member = result
        title = chat.title or (f"@{chat.username}" if chat.username else str(chat.id))
        if not _can_post(chat, member):
            raise PermanentError(
                f"@{bot.username} cannot post to {title} (it is {member.status}): add the "
                "bot as an administrator of the channel with the right to post messages"
            )
        return f"@{bot.username} can post to {title}"

    async def close(self) -> None:
        async with self._lock:
            bot, self._bot = self._bot, None
        if bot is not None:
            await close_bot(bot)
        await self._finder.close()


def _report_request(ctx: SendContext) -> None:
    """Tell the core when the post's request left (after getMe and the token's pace)."""
    left = MESSAGE_LEFT_AT.get()
    if left is not None:
        ctx.request_sent(datetime.fromtimestamp(left, UTC))


def _action(ctx: SendContext) -> ActionContext:
    if isinstance(ctx, ActionContext):
        return ctx
    return ActionContext(channel=ctx.channel, idempotency_key=ctx.idempotency_key, log=ctx.log,
                         state=ctx.state, remote_ids=ctx.remote_ids)


def _can_post(chat: ChatFullInfo, member: ChatMember) -> bool:
    status = member.status
    if status == "creator":
        return True
    if status == "administrator":
        return chat.type != "channel" or bool(getattr(member, "can_post_messages", False))
    if status == "member":
        return chat.type != "channel"
    if status == "restricted":
        return bool(getattr(member, "can_send_messages", False))
    return False
