"""A chat Telegram moved: a basic group that became a supergroup gets a new id, and Telegram
answers a post to the old one with the new id (``ChatMigrated``).

The adapter posts there from then on, remembers the move for every channel of this process on
the same token and chat, and records the new id in the channel's state (``env.state``, key
:data:`MOVED_TO`, given to :meth:`TelegramAdapter.setup`), so a restart posts straight to the
new chat until chat_id in channels.yaml is updated (the dashboard links posts with it too).
"""

from __future__ import annotations

import asyncio
import logging
import time

from distributor.channels.telegram.tokens import TokenState
from distributor.plugin import StateStore

log = logging.getLogger(__name__)

#: in the channel's state: the chat id Telegram moved the channel's chat to
MOVED_TO = "moved_to"
#: how long the address of a post (:meth:`ChatMove.recorded`) trusts a read of the record
RECHECK = 60.0


def can_migrate(chat_id: str | int) -> bool:
    """True for a basic group's id (negative, without the -100 of supergroups and channels):
    the only kind of chat Telegram moves (to a supergroup, which never moves again)."""
    text = str(chat_id).strip()
    return text.startswith("-") and text[1:].isdigit() and not text.startswith("-100")


class ChatMove:
    """Where one channel's posts go: its configured chat, or the one Telegram moved it to."""

    def __init__(self, channel: str, configured: str | int):
        self.channel = channel
        self.configured = configured
        #: set when Telegram said the chat moved (group -> supergroup); used from then on
        self.chat_id: int | None = None
        self._state: StateStore | None = None
        self._loaded = False
        self._read_at = float("-inf")
        self._recorded: str | None = None
        #: the configuration file chat_id is in (``env.config_file``), named in the warnings
        #: and in the invalid token's message (None until :meth:`use` was given it)
        self.config_file: str | None = None

    def use(self, state: StateStore, *, config_file: str | None = None) -> None:
        """Keep the move in ``state`` (the channel's ``env.state``); ``config_file``: the
        file to update (``env.config_file``)."""
        self._state = state
        self._loaded = False
        if config_file:
            self.config_file = config_file

    def current(self, state: TokenState) -> str | int:
        """Where posts go now."""
        if self.chat_id is not None:
            return self.chat_id
        moved = state.moved.get(str(self.configured))
        return moved if moved is not None else self.configured

    async def load(self, state: TokenState) -> None:
        """Once per setup: follow a move recorded by an earlier process."""
        if self._loaded or self._state is None:
            return
        self._loaded = True
        try:
            await asyncio.to_thread(self._read, self._state, state)
        except Exception as exc:  # the store is down: posting to the configured chat still
            log.warning("channel %s: cannot read where Telegram moved the chat (%s)",  # works
                        self.channel, exc)

    def _read(self, store: StateStore, state: TokenState) -> None:
        """The record applies while chat_id still names a basic group, the only kind of chat
        Telegram moves; once chat_id names a supergroup, a channel or an @username (updated as
        the warning asked), the record has done its job and is dropped."""
        configured = str(self.configured)
        moved = _chat(store.get(MOVED_TO))
        if moved is None:
            return
        if can_migrate(configured) and moved.lstrip("-").isdigit() and moved != configured:
            self.chat_id = state.moved[configured] = int(moved)
            log.warning(
                "channel %s posts to chat %s: Telegram moved chat %s there (a group became "
                "a supergroup). Update %s: chat_id: \"%s\" for channel %s",
                self.channel, moved, configured, self.config_file or "channels.yaml", moved,
                self.channel)
            return
        store.delete(MOVED_TO)
        log.info("channel %s: chat_id is now %s; forgetting that Telegram moved the chat "
                 "to %s", self.channel, configured, moved)

    async def moved(self, state: TokenState, new_id: int) -> None:
        """Telegram said the chat moved to ``new_id``: post there from now on."""
        old = str(self.configured)
        log.warning(
            "channel %s: Telegram moved chat %s to %s (a group became a supergroup); "
            "posting there from now on. Update %s: chat_id: \"%s\" for "
            "channel %s", self.channel, self.current(state), new_id,
            self.config_file or "channels.yaml", new_id, self.channel,
        )
        self.chat_id = state.moved[old] = new_id
        if self._state is None:
            return
        try:
            await asyncio.to_thread(self._state.put, MOVED_TO, str(new_id))
        except Exception as exc:  # the post still goes to the new chat in this process
            log.warning("channel %s: cannot record in the store that chat %s moved to %s (%s); "
                        "a restart will ask Telegram again", self.channel, old, new_id, exc)

    def recorded(self) -> str | None:
        """Where this channel's posts live for their public addresses (the dashboard's
        links): the move this process knows, else the one recorded by any process (read at
        most every :data:`RECHECK` seconds); None when the chat has not moved."""
        if self.chat_id is not None:
            return str(self.chat_id)
        if self._state is None or not can_migrate(self.configured):
            return None
        now = time.monotonic()
        if now - self._read_at >= RECHECK:
            self._read_at = now
            try:
                self._recorded = _chat(self._state.get(MOVED_TO))
            except Exception as exc:  # the store is down: the configured chat's address
                log.warning("channel %s: cannot read where Telegram moved the chat (%s)",
                            self.channel, exc)
        return self._recorded


def _chat(value: object) -> str | None:
    """A recorded chat id, else None."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    return text or None
