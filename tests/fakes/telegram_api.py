"""A fake Telegram Bot API: a real HTTP server on 127.0.0.1 that checks what Telegram checks.

    with FakeTelegram() as tg:
        config = TelegramConfig(name="telegram", chat_id=tg.channel.handle, token=tg.token,
                                api_base_url=tg.url, timeout=1)
        ...
        assert tg.messages[0].text == "<b>Judul</b>"

It answers ``POST|GET /bot<token>/<method>`` with JSON, form-urlencoded or multipart bodies:
getMe, getChat, getChatMember, sendMessage and sendPhoto, like the real Bot API:

* a wrong token -> 401 ``Unauthorized``; an unknown method -> 404 ``Not Found``;
* an unknown chat -> 400 ``Bad Request: chat not found``; a bot that is not a member of the
  channel -> 403 ``Forbidden: bot is not a member of the channel chat``; a member without the
  right to post -> 400 ``Bad Request: need administrator rights in the channel chat``;
* ``parse_mode=HTML`` is parsed with Telegram's own rules (a port of tdlib's ``parse_html``):
  unknown tags, unbalanced tags, bad attributes -> 400 ``Bad Request: can't parse entities: ...``;
* text length 1..4096 and caption length 0..1024 in UTF-16 code units after entity parsing;
* a photo must be an http(s) URL or a file id; URLs in :attr:`FakeTelegram.unreachable_photos`
  fail with ``Bad Request: failed to get HTTP URL content``; an uploaded photo (a multipart file)
  must be an image (else ``Bad Request: IMAGE_PROCESS_FAILED``) of at most 10 MB, and is kept in
  :attr:`SentMessage.photo_bytes`.

Accepted posts are recorded in :attr:`FakeTelegram.messages`, every call in
:attr:`FakeTelegram.calls` (with its arrival time ``at``). The next requests can be scripted to
fail: :meth:`rate_limit`, :meth:`bad_request`, :meth:`forbidden`, :meth:`migrate`,
:meth:`photo_fails`, :meth:`server_error`, :meth:`delay` (answer late, e.g. after the post was
recorded), or the general :meth:`fail_next`. Scripts apply to sendMessage/sendPhoto unless
``methods`` says more. :meth:`migrate` upgrades a group to a supergroup for good: every later
call naming the old id gets 400 with ``parameters.migrate_to_chat_id``, like Telegram.
:meth:`enforce_ceiling` refuses a post that reaches a chat sooner than its posts a minute allow
(429 with ``retry_after``).

Updates, for the editor bot and for reconciliation:

* getUpdates with ``offset`` (confirms older updates; a negative one keeps the last ones),
  ``limit``, ``timeout`` (long polling) and ``allowed_updates`` (remembered, and applied when an
  update is created, as Telegram does); a second getUpdates ends one still waiting with 409
  ``Conflict: terminated by other getUpdates request``; with a webhook set (setWebhook with
  ``url``, ``secret_token``, ``allowed_updates``), getUpdates answers 409 until deleteWebhook,
  and the updates are POSTed to the webhook one at a time with the
  ``X-Telegram-Bot-Api-Secret-Token`` header, each until it gets a 2xx answer
  (:attr:`FakeTelegram.webhook_posts`);
* people: :meth:`FakeTelegram.user_says` (a private message, commands with their bot_command
  entity) and :meth:`FakeTelegram.press` (a callback_query on a message's inline button);
  answerCallbackQuery is recorded in :attr:`FakeTelegram.callback_answers`; editMessageText and
  editMessageReplyMarkup change the recorded message ("message is not modified" like Telegram);
  sendMessage keeps ``reply_markup`` (callback_data of 1..64 bytes);
* channel posts become ``channel_post`` updates (text, entities with ``text_link`` URLs) for the
  bots that administer the channel, but never for the bot that posted (Telegram does not show
  a bot its own messages) unless :attr:`FakeTelegram.own_posts_as_updates`; a second bot (an
  observer) is added with :meth:`FakeTelegram.add_bot`; :meth:`FakeTelegram.post_as_channel` is
  a post made by hand.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: a token shaped like BotFather's ("<bot id>:<35 characters>")
DEFAULT_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
SEND_METHODS: tuple[str, ...] = ("sendMessage", "sendPhoto")

PHOTO_REFUSED = "Bad Request: wrong file identifier/HTTP URL specified"
TEXT_MAX = 4096
CAPTION_MAX = 1024
PHOTO_UPLOAD_MAX = 10 * 1024 * 1024


# --------------------------------------------------------------------------- HTML parse mode


class EntityError(ValueError):
    """Telegram's "can't parse entities" reason."""


_SUPPORTED_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote",
}
_SPACE = b" \t\r\n\0\v"


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: (code point or 0, position after the entity)."""
    end = pos + 1
    code = 0
    if data[pos + 1:pos + 2] == b"#":
        end += 1
        if data[pos + 2:pos + 3] == b"x":
            end += 1
            while chr(data[end]) in "0123456789abcdefABCDEF" and data[end]:
                code = code * 16 + int(chr(data[end]), 16)
                end += 1
        else:
            while chr(data[end]).isdigit() and data[end] < 128:
                code = code * 10 + data[end] - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        name = data[pos + 1:end]
        code = {b"lt": 60, b"gt": 62, b"amp": 38, b"quot": 34}.get(name, 0)
        if not code:
            return 0, pos
    if data[end:end + 1] == b";":
        end += 1
    return code, end


def parse_html(text: str) -> str:
    """The plain text of a ``parse_mode=HTML`` message, or :class:`EntityError`.

    A port of ``parse_html`` in tdlib's MessageEntity.cpp (offsets are UTF-8 byte offsets).
    """
    return parse_html_entities(text)[0]


_ENTITY_TYPES = {"a": "text_link", "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
                 "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
                 "u": "underline", "ins": "underline", "tg-spoiler": "spoiler",
                 "span": "spoiler", "pre": "pre", "code": "code", "blockquote": "blockquote",
                 "tg-emoji": "custom_emoji"}


def parse_html_entities(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, Bot API entities) of a ``parse_mode=HTML`` message (offsets and lengths in
    UTF-16 code units, like Telegram's), or :class:`EntityError`."""
    data = text.encode("utf-8") + b"\0"
    entities: list[dict[str, Any]] = []
    opened: list[tuple[int, str]] = []  # (UTF-16 offset, argument) per open tag
    size = len(data) - 1
    out = bytearray()
    stack: list[str] = []
    i = 0
    while i < size:
        c = data[i]
        if c == 0x26:  # &
            code, end = _decode_entity(data, i)
            if code:
                if 0xD800 <= code <= 0xDFFF:
                    raise EntityError(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units")
                out += chr(code).encode("utf-8")
                i = end
                continue
        if c != 0x3C:  # <
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if data[i] != 0x2F:  # a start tag
            while data[i] not in _SPACE and data[i] != 0x3E:
                i += 1
            if data[i] == 0:
                raise EntityError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1:i].decode("utf-8", "replace").lower()
            if tag not in _SUPPORTED_TAGS:
                raise EntityError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while data[i] != 0x3E:
                while data[i] and data[i] in _SPACE:
                    i += 1
                if data[i] == 0x3E:
                    break
                attr_begin = i
                while data[i] not in _SPACE and data[i] not in b"=>":
                    i += 1
                attribute = data[attr_begin:i].decode("utf-8", "replace")
                if not attribute:
                    raise EntityError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while data[i] and data[i] in _SPACE:
                    i += 1
                if tag == "blockquote" and attribute == "expandable" and data[i] != 0x3D:
                    continue  # <blockquote expandable>
                if data[i] != 0x3D:  # =
                    raise EntityError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}')
                i += 1
                while data[i] and data[i] in _SPACE:
                    i += 1
                if data[i] == 0:
                    raise EntityError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if data[i] not in b"'\"":
                    token_begin = i
                    while chr(data[i]).isascii() and (chr(data[i]).isalnum() or data[i] in b".-"):
                        i += 1
                    value = data[token_begin:i].decode().lower()
                    if data[i] not in _SPACE and data[i] != 0x3E:
                        raise EntityError(
                            f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote_char = data[i]
                    i += 1
                    value_bytes = bytearray()
                    while data[i] != quote_char and data[i] != 0:
                        if data[i] == 0x26:
                            code, end = _decode_entity(data, i)
                            if code:
                                value_bytes += chr(code).encode("utf-8")
                                i = end
                                continue
                        value_bytes.append(data[i])
                        i += 1
                    if data[i] == quote_char:
                        i += 1
                    value = value_bytes.decode("utf-8", "replace")
                if data[i] == 0:
                    raise EntityError(f"Unclosed start tag at byte offset {begin}")
                if (tag == "a" and attribute == "href") or (
                        tag == "tg-emoji" and attribute == "emoji-id"):
                    argument = value
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[3:]
            if tag == "span" and argument != "spoiler":
                raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            if tag == "tg-emoji" and not argument.isdigit():
                raise EntityError("Invalid custom emoji identifier specified")
            stack.append(tag)
            opened.append((utf16_length(out.decode("utf-8", "replace")), argument))
            i += 1  # past ">"
        else:  # an end tag
            if not stack:
                raise EntityError(f"Unexpected end tag at byte offset {begin}")
            while data[i] not in _SPACE and data[i] != 0x3E:
                i += 1
            end_tag = data[begin + 2:i].decode("utf-8", "replace").lower()
            while data[i] and data[i] in _SPACE:
                i += 1
            if data[i] != 0x3E:
                raise EntityError(f"Unclosed end tag at byte offset {begin}")
            if end_tag and end_tag != stack[-1]:
                raise EntityError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{stack[-1]}>", '
                    f'found "</{end_tag}>"')
            tag = stack.pop()
            start, argument = opened.pop()
            length = utf16_length(out.decode("utf-8", "replace")) - start
            if length:
                entity: dict[str, Any] = {"type": _ENTITY_TYPES.get(tag, tag), "offset": start,
                                          "length": length}
                if tag == "a":
                    entity["url"] = argument
                elif tag == "tg-emoji":
                    entity["custom_emoji_id"] = argument
                entities.append(entity)
            i += 1
    if stack:
        raise EntityError(f"Can't find end tag corresponding to start tag {stack[-1]}")
    plain = out.decode("utf-8", "replace")
    # Telegram trims the text; entities move with it and lose what was trimmed
    lead = utf16_length(plain) - utf16_length(plain.lstrip())
    size = utf16_length(plain.strip())
    kept = []
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        begin = max(0, entity["offset"] - lead)
        end = min(size, entity["offset"] - lead + entity["length"])
        if end > begin:
            kept.append(entity | {"offset": begin, "length": end - begin})
    return plain, kept


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- records


@dataclass
class FakeChat:
    id: int
    title: str
    username: str | None = None
    type: str = "channel"
    #: the bot's membership: administrator | member | left | kicked
    bot_status: str = "administrator"
    can_post_messages: bool = True
    #: ids of other bots (see :meth:`FakeTelegram.add_bot`) that administer the chat
    other_admins: set[int] = field(default_factory=set)
    #: the supergroup this group became (:meth:`FakeTelegram.migrate`): every call naming
    #: this chat is then refused with 400 and ``parameters.migrate_to_chat_id``
    migrated_to: int | None = None

    @property
    def handle(self) -> str:
        """``@username`` (or the numeric id as a string): what ``chat_id`` is configured as."""
        return f"@{self.username}" if self.username else str(self.id)

    def as_json(self) -> dict[str, Any]:
        if self.type == "private":
            data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.title}
        else:
            data = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class SentMessage:
    """A post the fake accepted."""

    message_id: int
    chat_id: int
    method: str
    #: exactly as sent: the text of a sendMessage, the caption of a sendPhoto
    text: str
    parse_mode: str | None
    #: the text as readers see it (entities parsed)
    plain_text: str
    #: the URL or file id sent, or "upload:<n> bytes" for an uploaded photo
    photo: str | None = None
    #: an uploaded photo's bytes
    photo_bytes: bytes | None = None
    link_preview_options: dict[str, Any] | None = None
    disable_notification: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    #: the inline keyboard, as sent (``{"inline_keyboard": [[{"text", "callback_data"}]]}``)
    reply_markup: dict[str, Any] | None = None
    #: entities of the plain text (UTF-16 offsets), as Telegram reports them
    entities: list[dict[str, Any]] = field(default_factory=list)
    #: the id of the bot that posted it (None: a person posted it)
    sender_bot: int | None = None
    date: int = 0

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button(self, text_part: str) -> dict[str, Any]:
        """The first button whose label contains ``text_part`` (case-insensitive)."""
        for button in self.buttons():
            if text_part.lower() in str(button.get("text", "")).lower():
                return button
        raise KeyError(f"no button {text_part!r} in {self.buttons()!r}")


@dataclass
class ApiCall:
    """Every request the fake received."""

    method: str
    params: dict[str, Any]
    token_ok: bool
    status: int = 0
    #: wall-clock time the request arrived (time.time())
    at: float = field(default_factory=time.time)
    #: which bot's token it carried (its id; 0 for an unknown token)
    bot_id: int = 0


@dataclass
class FakeBot:
    """One bot account: its token, its identity and the updates waiting for it."""

    token: str
    id: int
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100
    #: the update types it asked for last (None: every type but the member/reaction ones)
    allowed_updates: set[str] | None = None
    webhook_url: str = ""
    #: setWebhook's secret_token, sent back in X-Telegram-Bot-Api-Secret-Token
    webhook_secret: str = ""
    #: how many getUpdates calls were ended by a newer one (409 Conflict)
    conflicts: int = 0
    _generation: int = 0
    _deliverer: threading.Thread | None = None

    def user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": True, "first_name": self.username, "username":
                self.username}


@dataclass
class WebhookPost:
    """One update the fake POSTed to a bot's webhook, and the status it got."""

    bot_id: int
    update: dict[str, Any]
    status: int
    at: float = field(default_factory=time.time)


@dataclass
class _Script:
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int
    methods: frozenset[str] | None
    delay: float = 0.0
    #: for delays: handle the request (and record the post) before waiting
    process_first: bool = True

    def matches(self, method: str) -> bool:
        return self.methods is None or method.lower() in self.methods


# --------------------------------------------------------------------------- the server


class FakeTelegram:
    """A Telegram Bot API server on 127.0.0.1 (start with ``with`` or :meth:`start`)."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "rinews_bot",
                 chats: list[FakeChat] | None = None):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_username = bot_username
        self.chats: list[FakeChat] = chats if chats is not None else [
            FakeChat(id=-1001234567890, title="RI News Portal", username="rinewsportal")]
        self.messages: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        #: photo URLs Telegram cannot download
        self.unreachable_photos: set[str] = set()
        #: Telegram does not send a bot updates about its own channel posts; True pretends it
        #: does (as if every post were made by someone else)
        self.own_posts_as_updates = False
        #: answerCallbackQuery calls: {"callback_query_id", "text", "show_alert"}
        self.callback_answers: list[dict[str, Any]] = []
        #: editMessageText and editMessageCaption calls that changed a message:
        #: (message id, new text or caption)
        self.edits: list[tuple[int, str]] = []
        #: messages removed by deleteMessage, in order
        self.deleted: list[SentMessage] = []
        #: message ids Telegram will not delete ("message can't be deleted": older than 48
        #: hours in a group, or the bot lacks the right)
        self.undeletable: set[int] = set()
        #: updates POSTed to webhooks (setWebhook), with the status each got
        self.webhook_posts: list[WebhookPost] = []
        self.bots: dict[str, FakeBot] = {token: FakeBot(token, self.bot_id, bot_username)}
        self.url = ""
        self._scripts: list[_Script] = []
        #: (posts a minute, slack) per chat, once :meth:`enforce_ceiling` is called
        self._ceiling: tuple[float, float] | None = None
        self._last_post: dict[int, float] = {}
        self._lock = threading.Lock()
        self._updates_changed = threading.Condition(self._lock)
        self._next_id = 1
        self._next_query = 1
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeTelegram:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        with self._updates_changed:
            self._updates_changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state ------------------------------------------------------------------------------
    @property
    def channel(self) -> FakeChat:
        """The first chat (by default the channel @rinewsportal)."""
        return self.chats[0]

    def chat(self, chat_id: str | int) -> FakeChat | None:
        return self._chat_unlocked(chat_id)

    def _chat_unlocked(self, chat_id: str | int) -> FakeChat | None:
        key = str(chat_id)
        for chat in self.chats:
            named = chat.username is not None and key.lower() == f"@{chat.username}".lower()
            if key == str(chat.id) or named:
                return chat
        return None

    def messages_in(self, chat_id: str | int) -> list[SentMessage]:
        chat = self.chat(chat_id)
        return [m for m in self.messages if chat is not None and m.chat_id == chat.id]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def bot(self) -> FakeBot:
        """The main bot (the token the fake was made with)."""
        return self.bots[self.token]

    def add_bot(self, token: str, username: str, *, admin_of: Collection[FakeChat] = ()) -> FakeBot:
        """Another bot account on this server, administrator of ``admin_of``."""
        bot_id = int(token.split(":", 1)[0])
        bot = FakeBot(token, bot_id, username)
        with self._lock:
            self.bots[token] = bot
        for chat in admin_of:
            chat.other_admins.add(bot_id)
        return bot

    def messages_to(self, user_id: int) -> list[SentMessage]:
        """What the bot sent to a person's private chat."""
        return [m for m in self.messages if m.chat_id == user_id]

    # -- people ------------------------------------------------------------------------------
    def user_says(self, user_id: int, text: str, *, first_name: str = "Editor",
                  bot: FakeBot | None = None) -> int:
        """A person writes ``text`` to the bot in a private chat; returns the message id."""
        bot = bot or self.bot
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        with self._lock:
            chat = self._chat_unlocked(user_id)
            if chat is None:
                chat = FakeChat(id=user_id, title=first_name, type="private")
                self.chats.append(chat)
            message_id = self._next_id
            self._next_id += 1
            message: dict[str, Any] = {"message_id": message_id, "from": user,
                                       "chat": chat.as_json(), "date": int(time.time()),
                                       "text": text}
            command = re.match(r"/[A-Za-z0-9_]+(@\w+)?", text)
            if command:
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": utf16_length(command.group(0))}]
            self._enqueue(bot, "message", message)
        return message_id

    def press(self, user_id: int, message: SentMessage, callback_data: str, *,
              first_name: str = "Editor", bot: FakeBot | None = None) -> str:
        """A person presses a button with ``callback_data`` under ``message``; returns the
        callback query id."""
        bot = bot or self.bot
        with self._lock:
            query_id = str(self._next_query)
            self._next_query += 1
            self._enqueue(bot, "callback_query", {
                "id": query_id,
                "from": {"id": user_id, "is_bot": False, "first_name": first_name},
                "message": self._message_json(message, bot),
                "chat_instance": f"ci{message.chat_id}",
                "data": callback_data})
        return query_id

    def post_as_channel(self, text: str, *, chat: FakeChat | None = None) -> SentMessage:
        """An administrator posts ``text`` (HTML) in the channel by hand."""
        chat = chat or self.channel
        plain, entities = parse_html_entities(text)
        with self._lock:
            post = SentMessage(message_id=self._next_id, chat_id=chat.id, method="sendMessage",
                               text=text, parse_mode="HTML", plain_text=plain.strip(),
                               entities=entities, date=int(time.time()))
            self._next_id += 1
            self.messages.append(post)
            self._announce(chat, post)
        return post

    def answers_to(self, query_id: str) -> list[dict[str, Any]]:
        return [a for a in self.callback_answers if a["callback_query_id"] == query_id]

    def wait_for(self, condition: Any, timeout: float = 5.0) -> Any:
        """Wait (in a thread, e.g. via asyncio.to_thread) until ``condition()`` is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {condition}")

    # -- updates -----------------------------------------------------------------------------
    def _enqueue(self, bot: FakeBot, kind: str, payload: dict[str, Any]) -> None:
        """Add an update for ``bot`` (lock held), unless its allowed_updates exclude it."""
        allowed = bot.allowed_updates
        if allowed is not None and kind not in allowed:
            return
        if allowed is None and kind in ("chat_member", "message_reaction",
                                        "message_reaction_count"):
            return
        bot.updates.append({"update_id": bot.next_update_id, kind: payload})
        bot.next_update_id += 1
        self._updates_changed.notify_all()

    def _deliver(self, bot: FakeBot) -> None:
        """While ``bot`` has a webhook: POST its updates there one at a time, oldest first,
        with the secret header, as Telegram does; an update stays until it gets a 2xx
        answer (a refusal is tried again a moment later)."""
        while True:
            with self._updates_changed:
                while bot.webhook_url and not bot.updates and not self._closing.is_set():
                    self._updates_changed.wait(0.5)
                if not bot.webhook_url or self._closing.is_set():
                    bot._deliverer = None
                    return
                update, url, secret = bot.updates[0], bot.webhook_url, bot.webhook_secret
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            request = urllib.request.Request(url, data=json.dumps(update).encode(),
                                             headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status = answer.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0  # nobody listens (yet)
            with self._updates_changed:
                self.webhook_posts.append(WebhookPost(bot.id, update, status))
                if 200 <= status < 300 and bot.updates and bot.updates[0] is update:
                    bot.updates.pop(0)
            if not 200 <= status < 300:
                self._closing.wait(0.2)

    def _announce(self, chat: FakeChat, post: SentMessage) -> None:
        """A channel post shows as a channel_post update to the bots administering the channel
        (lock held); never to the bot that posted it, unless :attr:`own_posts_as_updates`."""
        if chat.type != "channel":
            return
        for bot in self.bots.values():
            admin = chat.bot_status == "administrator" if bot.token == self.token \
                else bot.id in chat.other_admins
            if not admin or (post.sender_bot == bot.id and not self.own_posts_as_updates):
                continue
            self._enqueue(bot, "channel_post", self._message_json(post, bot))

    def _message_json(self, message: SentMessage, bot: FakeBot) -> dict[str, Any]:
        chat = self._chat_unlocked(message.chat_id)
        assert chat is not None
        data: dict[str, Any] = {"message_id": message.message_id, "chat": chat.as_json(),
                                "date": message.date or int(time.time())}
        if chat.type == "channel":
            data["sender_chat"] = chat.as_json()
        elif message.sender_bot is not None:
            sender = next((b for b in self.bots.values() if b.id == message.sender_bot), bot)
            data["from"] = sender.user()
        if message.method == "sendPhoto":
            data["photo"] = [{"file_id": f"AgACAgIAAxkBAAI{message.message_id:08d}x",
                              "file_unique_id": f"AQAD{message.message_id:08d}",
                              "width": 1280, "height": 720, "file_size": 81234}]
            if message.plain_text:
                data["caption"] = message.plain_text
                if message.entities:
                    data["caption_entities"] = message.entities
        else:
            data["text"] = message.plain_text
            if message.entities:
                data["entities"] = message.entities
            preview = message.link_preview_options or {}
            if preview.get("url"):
                data["link_preview_options"] = {"url": preview["url"]}
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    def _get_updates(self, bot: FakeBot, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if bot.webhook_url:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        try:
            offset = int(params.get("offset") or 0)
            limit = min(100, max(1, int(params.get("limit") or 100)))
            timeout = float(params.get("timeout") or 0)
        except ValueError:
            return _error(400, "Bad Request: invalid offset, limit or timeout")
        allowed = _json_param(params.get("allowed_updates"))
        deadline = time.monotonic() + min(timeout, 30.0)
        with self._updates_changed:
            bot._generation += 1
            generation = bot._generation
            self._updates_changed.notify_all()  # an older getUpdates ends with 409
            if isinstance(allowed, list):
                bot.allowed_updates = set(allowed) if allowed else None
            if offset < 0:
                bot.updates = bot.updates[offset:]
            elif offset:
                bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
            while True:
                if bot._generation != generation:
                    bot.conflicts += 1
                    return _error(409, "Conflict: terminated by other getUpdates request; make "
                                       "sure that only one bot instance is running")
                remaining = deadline - time.monotonic()
                if bot.updates or remaining <= 0 or self._closing.is_set():
                    return 200, _ok(list(bot.updates[:limit]))
                self._updates_changed.wait(remaining)

    # -- scripting --------------------------------------------------------------------------
    def fail_next(self, status: int, description: str, *, parameters: dict[str, Any] | None = None,
                  times: int = 1, methods: Collection[str] | None = SEND_METHODS) -> None:
        """Answer the next ``times`` calls of ``methods`` (None: any) with this error."""
        self._add(_Script(status, description, parameters, times, _methods(methods)))

    def rate_limit(self, retry_after: int, *, times: int = 1,
                   methods: Collection[str] | None = SEND_METHODS) -> None:
        self.fail_next(429, f"Too Many Requests: retry after {retry_after}",
                       parameters={"retry_after": retry_after}, times=times, methods=methods)

    def bad_request(self, description: str, *, times: int = 1,
                    methods: Collection[str] | None = SEND_METHODS) -> None:
        if not description.startswith("Bad Request: "):
            description = f"Bad Request: {description}"
        self.fail_next(400, description, times=times, methods=methods)

    def forbidden(self, description: str = "Forbidden: bot is not a member of the channel chat",
                  *, times: int = 1, methods: Collection[str] | None = SEND_METHODS) -> None:
        self.fail_next(403, description, times=times, methods=methods)

    def migrate(self, to_chat_id: int, *, chat: FakeChat | None = None) -> FakeChat:
        """Upgrade ``chat`` (default: the first one) to the supergroup ``to_chat_id`` (which
        then exists), as Telegram does: from now on every call naming the old chat is refused
        with 400 "group chat was upgraded to a supergroup chat" and
        ``parameters: {"migrate_to_chat_id": to_chat_id}``."""
        old = chat or self.channel
        with self._lock:
            new = self._chat_unlocked(to_chat_id)
            if new is None:
                new = FakeChat(id=to_chat_id, title=old.title, type="supergroup")
                self.chats.append(new)
            old.migrated_to = to_chat_id
        return new

    def photo_fails(self, description: str = PHOTO_REFUSED, *, times: int = 1) -> None:
        self.fail_next(400, description, times=times, methods=("sendPhoto",))

    def server_error(self, status: int = 502, description: str = "Bad Gateway", *,
                     times: int = 1, methods: Collection[str] | None = SEND_METHODS) -> None:
        self.fail_next(status, description, times=times, methods=methods)

    def delay(self, seconds: float, *, times: int = 1, process_first: bool = True,
              methods: Collection[str] | None = SEND_METHODS) -> None:
        """Answer the next calls ``seconds`` late; with ``process_first`` the post is recorded
        before the wait (the client times out, the message exists: the ambiguous case)."""
        self._add(_Script(200, "", None, times, _methods(methods), delay=seconds,
                          process_first=process_first))

    def enforce_ceiling(self, per_minute: float, *, slack: float = 0.1) -> None:
        """From now on a post (sendMessage, sendPhoto) reaching a chat sooner than
        ``60 / per_minute`` seconds after the chat's last accepted post is refused with 429
        and ``retry_after``, as Telegram refuses a chat's flood. ``slack``: how much sooner is
        still taken (what the way from the client's clock to this server's may shift)."""
        with self._lock:
            self._ceiling = (per_minute, slack)

    def _too_soon(self, method: str, params: dict[str, Any], at: float) -> int | None:
        """Under :meth:`enforce_ceiling`: the seconds to wait if this post is too soon."""
        chat = self._chat_unlocked(params.get("chat_id", ""))
        if self._ceiling is None or method not in SEND_METHODS or chat is None:
            return None
        per_minute, slack = self._ceiling
        with self._lock:
            last = self._last_post.get(chat.id)
            if last is not None and at - last < 60.0 / per_minute - slack:
                return max(1, math.ceil(last + 60.0 / per_minute - at))
            self._last_post[chat.id] = at
        return None

    def _add(self, script: _Script) -> None:
        with self._lock:
            self._scripts.append(script)

    def _take_script(self, method: str) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if script.matches(method):
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
                    return script
        return None

    # -- the API ----------------------------------------------------------------------------
    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one call: (HTTP status, JSON body). Runs in the server's threads."""
        bot = self.bots.get(token)
        call = ApiCall(method, params, token_ok=bot is not None,
                       bot_id=bot.id if bot is not None else 0)
        with self._lock:
            self.calls.append(call)
        wait = self._too_soon(method, params, call.at) if bot is not None else None
        if bot is None:
            status, body = _error(401, "Unauthorized")
        elif wait is not None:
            status, body = _error(429, f"Too Many Requests: retry after {wait}",
                                  {"retry_after": wait})
        else:
            script = self._take_script(method)
            if script is None:
                status, body = self._dispatch(method, params, bot)
            elif script.delay:
                if script.process_first:
                    status, body = self._dispatch(method, params, bot)
                    self._closing.wait(script.delay)
                else:
                    self._closing.wait(script.delay)
                    status, body = self._dispatch(method, params, bot)
            else:
                status, body = _error(script.status, script.description, script.parameters)
        call.status = status
        return status, body

    def _dispatch(self, method: str, params: dict[str, Any],
                  bot: FakeBot | None = None) -> tuple[int, dict[str, Any]]:
        bot = bot or self.bot
        name = method.lower()
        if name == "getme":
            return 200, _ok(bot.user() | {
                "first_name": "RI News" if bot.token == self.token else bot.username,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False})
        if name == "logout" or name == "close":
            return 200, _ok(True)
        if name == "getupdates":
            return self._get_updates(bot, params)
        if name == "deletewebhook":
            with self._lock:
                bot.webhook_url = ""
                if str(params.get("drop_pending_updates", "")).lower() in ("true", "1"):
                    bot.updates.clear()
            return 200, _ok(True)
        if name == "setwebhook":
            secret = str(params.get("secret_token") or "")
            if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                return _error(400, "Bad Request: secret token contains unallowed characters")
            url = str(params.get("url") or "")
            if url and not url.startswith(("http://", "https://")):
                return _error(400, "Bad Request: bad webhook: Webhook can be set up only on "
                                   "ports 80, 88, 443 or 8443")
            allowed = _json_param(params.get("allowed_updates"))
            with self._updates_changed:
                bot.webhook_url, bot.webhook_secret = url, secret
                if isinstance(allowed, list):
                    bot.allowed_updates = set(allowed) if allowed else None
                if url and bot._deliverer is None:
                    bot._deliverer = threading.Thread(target=self._deliver, args=(bot,),
                                                      daemon=True)
                    bot._deliverer.start()
                self._updates_changed.notify_all()
            return 200, _ok(True)
        if name == "getwebhookinfo":
            return 200, _ok({"url": bot.webhook_url, "has_custom_certificate": False,
                             "pending_update_count": len(bot.updates)})
        if name == "answercallbackquery":
            with self._lock:
                self.callback_answers.append({
                    "callback_query_id": str(params.get("callback_query_id")),
                    "text": params.get("text"),
                    "show_alert": str(params.get("show_alert", "")).lower() in ("true", "1")})
            return 200, _ok(True)
        if name == "setmycommands":
            return 200, _ok(True)
        if name not in ("getchat", "getchatmember", "sendmessage", "sendphoto",
                        "editmessagetext", "editmessagereplymarkup", "editmessagecaption",
                        "deletemessage"):
            return _error(404, "Not Found")
        if bot.token != self.token and name != "getchat":
            return _error(400, "Bad Request: the fake serves other bots only updates")
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        chat = self.chat(chat_id)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            return _error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                          {"migrate_to_chat_id": chat.migrated_to})
        if name == "getchat":
            return 200, _ok(chat.as_json() | {
                "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}})
        if name == "getchatmember":
            return 200, _ok(self._member(chat, params.get("user_id")))
        if name.startswith("editmessage"):
            return self._edit(name, chat, params)
        if name == "deletemessage":
            return self._delete(chat, params)
        return self._send(name, chat, params)

    def _edit(self, name: str, chat: FakeChat,
              params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            message_id = int(params.get("message_id") or 0)
        except ValueError:
            message_id = 0
        target = next((m for m in self.messages
                       if m.chat_id == chat.id and m.message_id == message_id), None)
        if target is None:
            return _error(400, "Bad Request: message to edit not found")
        if target.sender_bot != self.bot_id:
            return _error(400, "Bad Request: message can't be edited")
        markup = _json_param(params.get("reply_markup"))
        markup = markup if isinstance(markup, dict) else None
        if name == "editmessagecaption":
            if target.method != "sendPhoto":
                return _error(400, "Bad Request: there is no caption in the message to edit")
            raw = str(params.get("caption") or "")
            parse_mode = params.get("parse_mode") or None
            try:
                plain, entities = parse_html_entities(raw) if str(parse_mode).lower() == "html" \
                    else (raw, [])
            except EntityError as exc:
                return _error(400, f"Bad Request: can't parse entities: {exc}")
            plain = plain.strip()
            if utf16_length(plain) > CAPTION_MAX:
                return _error(400, "Bad Request: message caption is too long")
            markup = target.reply_markup if markup is None else markup
        elif name == "editmessagetext":
            if target.method == "sendPhoto":
                return _error(400, "Bad Request: there is no text in the message to edit")
            raw = str(params.get("text") or "")
            parse_mode = params.get("parse_mode") or None
            try:
                plain, entities = parse_html_entities(raw) if str(parse_mode).lower() == "html" \
                    else (raw, [])
            except EntityError as exc:
                return _error(400, f"Bad Request: can't parse entities: {exc}")
            plain = plain.strip()
            if not plain:
                return _error(400, "Bad Request: message text is empty")
            if utf16_length(plain) > TEXT_MAX:
                return _error(400, "Bad Request: message is too long")
        else:
            raw, parse_mode, plain, entities = (target.text, target.parse_mode,
                                                target.plain_text, target.entities)
        if plain == target.plain_text and entities == target.entities \
                and markup == target.reply_markup:
            return _error(400, "Bad Request: message is not modified: specified new message "
                               "content and reply markup are exactly the same as a current "
                               "content and reply markup of the message")
        with self._lock:
            target.text, target.parse_mode, target.plain_text = raw, parse_mode, plain
            target.entities, target.reply_markup = entities, markup
            if name in ("editmessagetext", "editmessagecaption"):
                self.edits.append((target.message_id, raw))
            data = self._message_json(target, self.bot)
        data["edit_date"] = int(time.time())
        data["from"] = self.bot.user()
        return 200, _ok(data)

    def _delete(self, chat: FakeChat, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """deleteMessage: gone for good (a second delete: "message to delete not found")."""
        try:
            message_id = int(params.get("message_id") or 0)
        except ValueError:
            message_id = 0
        with self._lock:
            target = next((m for m in self.messages
                           if m.chat_id == chat.id and m.message_id == message_id), None)
            if target is None:
                return _error(400, "Bad Request: message to delete not found")
            if message_id in self.undeletable:
                return _error(400, "Bad Request: message can't be deleted")
            self.messages.remove(target)
            self.deleted.append(target)
        return 200, _ok(True)

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "RI News",
                "username": self.bot_username}

    def _member(self, chat: FakeChat, user_id: Any) -> dict[str, Any]:
        if str(user_id) != str(self.bot_id):
            return {"status": "left", "user": {"id": int(user_id or 0), "is_bot": False,
                                               "first_name": "Someone"}}
        user = self._bot_user()
        if chat.bot_status != "administrator":
            return {"status": chat.bot_status, "user": user}
        rights = {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                  "can_delete_messages": True, "can_manage_video_chats": False,
                  "can_restrict_members": False, "can_promote_members": False,
                  "can_change_info": False, "can_invite_users": True, "can_post_stories": False,
                  "can_edit_stories": False, "can_delete_stories": False}
        if chat.type == "channel":
            rights |= {"can_post_messages": chat.can_post_messages, "can_edit_messages": True}
        return {"status": "administrator", "user": user} | rights

    def _send(self, name: str, chat: FakeChat,
              params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if chat.type == "private":
            pass  # the person wrote to the bot first: it may answer
        elif chat.bot_status in ("left", "kicked"):
            verb = "is not a member of" if chat.bot_status == "left" else "was kicked from"
            kind = "channel chat" if chat.type == "channel" else "supergroup chat"
            return _error(403, f"Forbidden: bot {verb} the {kind}")
        elif chat.type == "channel" and (chat.bot_status != "administrator"
                                         or not chat.can_post_messages):
            return _error(400, "Bad Request: need administrator rights in the channel chat")

        photo = params.get("photo") if name == "sendphoto" else None
        raw = params.get("caption" if name == "sendphoto" else "text")
        raw = "" if raw is None else str(raw)
        parse_mode = params.get("parse_mode") or None
        if parse_mode is not None and str(parse_mode).lower() not in ("html", "markdown",
                                                                      "markdownv2"):
            return _error(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        entities: list[dict[str, Any]] = []
        if parse_mode is not None and str(parse_mode).lower() == "html":
            try:
                plain, entities = parse_html_entities(raw)
            except EntityError as exc:
                return _error(400, f"Bad Request: can't parse entities: {exc}")
        else:
            plain = raw
        plain = plain.strip()

        if name == "sendmessage":
            if not plain:
                return _error(400, "Bad Request: message text is empty")
            if utf16_length(plain) > TEXT_MAX:
                return _error(400, "Bad Request: message is too long")
        else:
            if utf16_length(plain) > CAPTION_MAX:
                return _error(400, "Bad Request: message caption is too long")
            if isinstance(photo, bytes):  # uploaded (multipart/form-data with a file name)
                if len(photo) > PHOTO_UPLOAD_MAX:
                    return _error(413, "Request Entity Too Large")
                if not _looks_like_image(photo):
                    return _error(400, "Bad Request: IMAGE_PROCESS_FAILED")
            elif not isinstance(photo, str) or not photo:
                return _error(400, "Bad Request: there is no photo in the request")
            elif photo.startswith(("http://", "https://")):
                if photo in self.unreachable_photos:
                    return _error(400, "Bad Request: failed to get HTTP URL content")
            elif not re.fullmatch(r"[A-Za-z0-9_-]{20,}", photo):
                return _error(400, PHOTO_REFUSED)

        preview = params.get("link_preview_options")
        if isinstance(preview, str):
            try:
                preview = json.loads(preview)
            except ValueError:
                return _error(400, "Bad Request: can't parse link preview options JSON object")
        if preview is not None and not isinstance(preview, dict):
            return _error(400, "Bad Request: link preview options must be an object")
        quiet = str(params.get("disable_notification", "")).lower() in ("true", "1")
        markup = _json_param(params.get("reply_markup"))
        if markup is not None and not (isinstance(markup, dict) and isinstance(
                markup.get("inline_keyboard", []), list)):
            return _error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for button in [b for row in (markup or {}).get("inline_keyboard", []) for b in row]:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return _error(400, "Bad Request: BUTTON_DATA_INVALID")

        with self._lock:
            message_id = self._next_id
            self._next_id += 1
            uploaded = photo if isinstance(photo, bytes) else None
            post = SentMessage(
                message_id=message_id, chat_id=chat.id,
                method="sendPhoto" if name == "sendphoto" else "sendMessage", text=raw,
                parse_mode=parse_mode, plain_text=plain,
                photo=f"upload:{len(uploaded)} bytes" if uploaded is not None else photo,
                photo_bytes=uploaded,
                link_preview_options=preview, disable_notification=quiet, params=dict(params),
                reply_markup=markup if isinstance(markup, dict) else None, entities=entities,
                sender_bot=self.bot_id, date=int(time.time()))
            self.messages.append(post)
            self._announce(chat, post)
        result: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                                  "chat": chat.as_json()}
        if chat.type == "channel":
            result["sender_chat"] = chat.as_json()
        else:
            result["from"] = self.bot.user()
        if isinstance(markup, dict):
            result["reply_markup"] = markup
        if name == "sendphoto":
            unique = f"AQAD{message_id:08d}"
            result["photo"] = [
                {"file_id": f"AgACAgIAAxkBAAI{message_id:08d}x", "file_unique_id": unique,
                 "width": 1280, "height": 720, "file_size": 81234}]
            if plain:
                result["caption"] = plain
        else:
            result["text"] = plain
        return 200, _ok(result)


def _looks_like_image(data: bytes) -> bool:
    """JPEG, PNG, GIF, WebP or BMP, by the first bytes (what Telegram can make a photo of)."""
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")) \
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _json_param(value: Any) -> Any:
    """A parameter PTB sent JSON-encoded in a form field (lists, objects)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _methods(methods: Collection[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


def _ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _error(code: int, description: str,
           parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is expected (timeouts); keep stderr quiet


_PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)/?")


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTelegram
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end instead of holding a thread forever

    def log_message(self, format: str, *args: Any) -> None:  # the token is in the path
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            parts = urlsplit(self.path)
            params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(self._body())
            match = _PATH.fullmatch(parts.path)
            if match is None:
                status, body = _error(404, "Not Found")
            else:
                try:
                    status, body = self.owner.handle(match["token"], match["method"], params)
                except Exception as exc:  # a bug in the fake: say so instead of hanging up
                    status, body = _error(500, f"Internal Server Error: the fake failed: {exc!r}")
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a timeout): nothing to answer
            self.close_connection = True

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            data = json.loads(raw)
            return data if isinstance(data, dict) else {}
        if kind == "multipart/form-data":
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            fields: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                content = part.get_payload(decode=True)
                if isinstance(name, str) and isinstance(content, bytes):
                    fields[name] = content.decode("utf-8", "replace") \
                        if part.get_filename() is None else content
            return fields
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
