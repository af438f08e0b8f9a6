"""The channel posts this process has seen in updates, and how a rendered message is found
among them again (a post whose answer was lost).

Telegram does not send a bot updates about its own posts; the editor bot's updates, an observer
bot's or the channel bot's getUpdates show them (see :mod:`.reconcile`).
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from telegram import Message as TelegramMessage
from telegram import MessageEntity

from distributor.channels.telegram.render import visible_text
from distributor.plugin import Message


@dataclass(frozen=True)
class SeenPost:
    """A channel post as an update showed it."""

    chat_id: int
    message_id: int
    date: float
    text: str
    links: frozenset[str]


def _squash(text: str) -> str:
    return " ".join(text.split())


_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


class ChannelPosts:
    """The channel posts this process has seen in updates, newest last, per chat."""

    def __init__(self, per_chat: int = 1000):
        self.per_chat = per_chat
        self._posts: dict[int, deque[SeenPost]] = {}
        self._names: dict[str, int] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
            self._names.clear()

    def add(self, message: TelegramMessage) -> SeenPost:
        text = message.text if message.text is not None else (message.caption or "")
        entities = message.entities or message.caption_entities or ()
        links = set()
        for entity in entities:
            if entity.type == MessageEntity.TEXT_LINK and entity.url:
                links.add(entity.url)
            elif entity.type == MessageEntity.URL:
                links.add(message.parse_entity(entity) if message.text is not None
                          else message.parse_caption_entity(entity))
        preview = getattr(message, "link_preview_options", None)
        if preview is not None and preview.url:
            links.add(preview.url)
        post = SeenPost(chat_id=message.chat.id, message_id=message.message_id,
                        date=message.date.timestamp(), text=text, links=frozenset(links))
        with self._lock:
            posts = self._posts.setdefault(post.chat_id, deque(maxlen=self.per_chat))
            if all(p.message_id != post.message_id for p in posts):
                posts.append(post)
            if message.chat.username:
                self._names[f"@{message.chat.username}".lower()] = post.chat_id
        return post

    def chat_id(self, chat: str | int) -> int | None:
        key = str(chat)
        if key.lstrip("-").isdigit():
            return int(key)
        with self._lock:
            return self._names.get(key.lower())

    def find(self, chat: str | int, message: Message, *, since: float,
             exclude: Iterable[int] = ()) -> SeenPost | None:
        """The newest post in ``chat`` since ``since`` that is ``message`` (same visible text,
        and one of its links; a text cut by Telegram still matches on its start and a link)."""
        chat_id = self.chat_id(chat)
        if chat_id is None:
            return None
        expected, links = expected_text(message)
        skip = set(exclude)
        with self._lock:
            posts = list(self._posts.get(chat_id, ()))
        for post in reversed(posts):
            if post.message_id in skip or post.date < since:
                continue
            seen = _squash(post.text)
            shares_link = bool(links & post.links) or any(link in seen for link in links)
            if seen == expected and (shares_link or not links):
                return post
            if shares_link and len(expected) >= 40 and seen[:40] == expected[:40]:
                return post
        return None


def expected_text(message: Message) -> tuple[str, set[str]]:
    """The text readers see for a rendered message, and the links it carries."""
    raw = message.get("caption" if message.get("method") == "sendPhoto" else "text") or ""
    raw = str(raw)
    text = visible_text(raw) if str(message.get("parse_mode") or "").lower() == "html" else raw
    links = {html.unescape(a or b) for a, b in _HREF.findall(raw)}
    preview = message.get("link_preview_options")
    if isinstance(preview, dict) and isinstance(preview.get("url"), str):
        links.add(preview["url"])
    return _squash(text), {link for link in links if link}


def fingerprint(message: Message) -> str:
    text, _ = expected_text(message)
    return hashlib.sha256(text.encode()).hexdigest()[:20]
