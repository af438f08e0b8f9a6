"""What this process knows of each bot token, in one object per token.

State shared by every adapter of one bot token in this process, keyed by
:func:`credential_key` (a hash of the API base URL and the token, never the token itself):

* its pacing (:class:`~distributor.channels.telegram.pacing.TokenPacing`);
* chats under flood control: after a 429 no request goes to that chat before ``retry_after``
  ends (the dispatcher holds the channel in the database too, across restarts);
* an invalid token: once Telegram said so, every channel on it stops with the same message,
  without another request (re-checked with one getMe after :data:`BAD_TOKEN_RECHECK`);
* chats that migrated (group -> supergroup);
* the posts this process made and when it last tried to send a text (for reconciliation);
* whether a bot of this process long-polls the token's updates (the editor bot), and when the
  token's updates were last read;
* the adapters that post with it (to name the channels that share it).

The channel posts seen in updates are kept per chat, whichever bot saw them
(:attr:`TokenStates.channel_posts`). :func:`forget_token_state` drops it all (tests; a reloaded
configuration).
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from distributor.channels.telegram.channel_posts import ChannelPosts
from distributor.channels.telegram.config import TelegramConfig
from distributor.channels.telegram.pacing import TokenPacing

#: how long an invalid token stops sends without a request before one getMe checks it again
BAD_TOKEN_RECHECK = 300.0
#: how many posts and attempts a token remembers (updates are kept a day anyway)
REMEMBER = 5000


def credential_key(token: str, api_base_url: str = "https://api.telegram.org") -> str:
    """A name for one bot token on one Bot API server that does not reveal the token."""
    raw = f"{api_base_url.rstrip('/')}\0{token}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class Poster(Protocol):
    """An adapter posting with a token, as the token's state sees it."""

    config: TelegramConfig


@dataclass
class BadToken:
    message: str
    at: float


class TokenState:
    """One bot token (on one Bot API server), as this process knows it."""

    def __init__(self, key: str):
        self.key = key
        self.pacing = TokenPacing()
        #: Telegram refused the token: the message every channel on it gets
        self.bad: BadToken | None = None
        #: chats under flood control: chat -> monotonic time the wait ends
        self.flood_until: dict[str, float] = {}
        #: chats that moved: configured chat -> the new chat id
        self.moved: dict[str, int] = {}
        #: message ids posted with this token, per chat id: never mistaken for a lost post
        self.posted: dict[int, set[int]] = {}
        #: when this process last tried to send a text: (chat, fingerprint) -> wall-clock time
        self.attempts: dict[tuple[str, str], float] = {}
        #: when this process last read the token's updates (monotonic)
        self.last_read = float("-inf")
        self.posters: weakref.WeakSet[Poster] = weakref.WeakSet()

    # -- an invalid token -------------------------------------------------------------------
    def still_bad(self) -> BadToken | None:
        """The refusal, while it is recent enough to stop a send without asking again."""
        bad = self.bad
        if bad is not None and time.monotonic() - bad.at < BAD_TOKEN_RECHECK:
            return bad
        return None

    # -- flood control ----------------------------------------------------------------------
    def hold(self, chat: str | int, seconds: float) -> None:
        self.flood_until[str(chat)] = time.monotonic() + seconds

    def flood_left(self, chat: str | int) -> float:
        """Seconds Telegram said to wait before the next request to ``chat`` (<= 0: none)."""
        return self.flood_until.get(str(chat), 0.0) - time.monotonic()

    # -- what was posted and tried ----------------------------------------------------------
    def note_attempt(self, chat: str | int, fingerprint: str, at: float) -> None:
        self.attempts.pop((str(chat), fingerprint), None)
        self.attempts[(str(chat), fingerprint)] = at
        while len(self.attempts) > REMEMBER:
            del self.attempts[next(iter(self.attempts))]

    def attempted(self, chat: str | int, fingerprint: str) -> float | None:
        return self.attempts.get((str(chat), fingerprint))

    def note_posted(self, chat_id: int, message_id: int) -> None:
        posted = self.posted.setdefault(chat_id, set())
        posted.add(message_id)
        if len(posted) > REMEMBER:
            posted.discard(min(posted))

    def posted_in(self, chat_id: int | None) -> set[int]:
        return set(self.posted.get(chat_id, ())) if chat_id is not None else set()

    # -- the channels on the token ----------------------------------------------------------
    def channels(self) -> list[TelegramConfig]:
        return [p.config for p in list(self.posters)]


class TokenStates:
    """Every token's state in this process, and the channel posts seen in updates."""

    def __init__(self) -> None:
        self._states: dict[str, TokenState] = {}
        self._lock = threading.Lock()
        #: bots of this process long-polling a token's updates right now (a poller outlives
        #: a reset: it is still polling)
        self._pollers: dict[str, int] = {}
        #: channel posts seen by this process (the editor bot records the ones it polls)
        self.channel_posts = ChannelPosts()

    def get(self, key: str) -> TokenState:
        with self._lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = TokenState(key)
            return state

    def reset(self) -> None:
        """Forget everything (tests; a reloaded configuration)."""
        with self._lock:
            self._states.clear()
        self.channel_posts.clear()

    @contextmanager
    def polling(self, key: str) -> Iterator[None]:
        with self._lock:
            self._pollers[key] = self._pollers.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._pollers[key] -= 1
                if not self._pollers[key]:
                    del self._pollers[key]

    def is_polled(self, key: str) -> bool:
        with self._lock:
            return self._pollers.get(key, 0) > 0


#: the one registry of this process
TOKENS = TokenStates()


def token_state(key: str) -> TokenState:
    """The state of a bot token (see :func:`credential_key`) in this process."""
    return TOKENS.get(key)


def forget_token_state() -> None:
    """Drop everything remembered about tokens and chats (tests; a reloaded configuration)."""
    TOKENS.reset()


def polling(key: str) -> AbstractContextManager[None]:
    """Declare that a bot of this process long-polls the updates of ``key`` (the editor bot):
    reconciliation then reads the posts it records instead of calling getUpdates itself, which
    would end the poller's request with 409 Conflict (Telegram allows one getUpdates at a
    time) and could confirm updates the poller has not read yet."""
    return TOKENS.polling(key)


def is_polled(key: str) -> bool:
    return TOKENS.is_polled(key)
