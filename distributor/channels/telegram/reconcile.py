"""Finding a post whose answer was lost (an ``unknown`` delivery) among the channel posts
Telegram showed this process.

Telegram does not send a bot updates about its own posts. The posts are seen in the updates of
the editor bot (which records them as it polls), of an observer bot (a second bot that
administers the channel: ``observer_token``) or of the channel's own bot (getUpdates).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from telegram import Bot
from telegram import Message as TelegramMessage
from telegram.error import TelegramError

from distributor.channels.telegram.channel_posts import SeenPost, fingerprint
from distributor.channels.telegram.config import TelegramConfig
from distributor.channels.telegram.tokens import TOKENS, credential_key, is_polled, token_state
from distributor.channels.telegram.transport import Failure, close_bot, redact, started_bot
from distributor.plugin import ChannelError, Message

log = logging.getLogger(__name__)

#: update types the editor bot asks for (the reconciliation peeks ask for the same set, so a
#: peek never changes what Telegram keeps for the editor bot)
EDITOR_UPDATES = ("message", "callback_query", "channel_post")
#: one read of a token's updates a second is enough
READ_EVERY = 1.0


def remember_channel_post(message: TelegramMessage) -> None:
    """Record a ``channel_post`` update's message (called by the editor bot)."""
    TOKENS.channel_posts.add(message)


class PostFinder:
    """Looks for one channel's posts among the channel posts seen, reading new updates."""

    def __init__(self, config: TelegramConfig, key: str, *,
                 chat: Callable[[], str | int], ready: Callable[[], Awaitable[Bot]]):
        self.config = config
        self.key = key
        self._chat = chat
        self._ready = ready
        self._observer: Bot | None = None
        self._observer_key = credential_key(config.observer_token.get_secret_value(),
                                            config.api_base_url) \
            if config.observer_token else None
        #: where a consuming getUpdates of each token (channel's, observer's) continues
        self._offsets: dict[str, int] = {}

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """The message id of a delivery's post whose outcome is unknown, else None.

        Telegram renders one message per delivery; a delivery with every part recorded is
        answered by its first id.
        """
        if len(sent_ids) >= len(messages):
            return sent_ids[0] if sent_ids else None
        if len(messages) - len(sent_ids) != 1:
            return None
        message = messages[len(sent_ids)]
        attempted = token_state(self.key).attempted(self._chat(), fingerprint(message))
        # updates are kept 24 hours: a post older than that cannot be shown any more
        since = attempted - 60 if attempted is not None else time.time() - 86400
        found = await self.look_for(message, since=since, wait=0.0,
                                    exclude={int(i) for i in sent_ids if i.isdigit()})
        return str(found.message_id) if found is not None else None

    async def look_for(self, message: Message, *, since: float, wait: float,
                       exclude: Iterable[int] = ()) -> SeenPost | None:
        """The post of ``message`` among the channel posts seen, reading new updates until
        ``wait`` seconds have passed."""
        posts = TOKENS.channel_posts
        deadline = time.monotonic() + wait
        while True:
            chat = self._chat()
            skip = set(exclude) | token_state(self.key).posted_in(posts.chat_id(chat))
            found = posts.find(chat, message, since=since, exclude=skip)
            if found is not None:
                return found
            await self.read_updates()
            skip |= token_state(self.key).posted_in(posts.chat_id(chat))
            found = posts.find(chat, message, since=since, exclude=skip)
            if found is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(0.3, max(0.0, deadline - time.monotonic())))

    def _on_token(self) -> list[TelegramConfig]:
        return [*token_state(self.key).channels(), self.config]

    async def read_updates(self) -> None:
        """Read the channel posts Telegram holds for the observer bot and the channel's bot,
        unless a bot of this process polls that token (then its updates arrive by themselves).

        The observer bot is ours alone: its updates are read and confirmed. The channel's bot
        may also serve editors (in this process or in ``distributor run`` elsewhere): then the
        updates are only looked at, never confirmed (no ``offset``), and the update types asked
        for are exactly the editor bot's, so a look never hides an editor's message from it.
        A webhook on the token (getUpdates answers 409) means no look at all.
        """
        sources: list[tuple[str, bool, tuple[str, ...]]] = []
        if self._observer_key is not None and not is_polled(self._observer_key):
            sources.append((self._observer_key, True, ("channel_post",)))
        editors = any(c.editors for c in self._on_token())
        webhook = any(c.editors and c.editor_bot == "webhook" for c in self._on_token())
        if not is_polled(self.key) and not webhook:
            sources.append((self.key, not editors,
                            EDITOR_UPDATES if editors else ("channel_post",)))
        for key, consume, allowed in sources:
            state = token_state(key)
            if time.monotonic() - state.last_read < READ_EVERY:
                continue  # read a moment ago (e.g. for another delivery of this pass)
            state.last_read = time.monotonic()
            try:
                bot = await self._observer_bot() if key == self._observer_key \
                    else await self._ready()
                await self._peek(bot, key, consume=consume, allowed=allowed)
            except (TelegramError, ChannelError) as exc:
                log.info("cannot read the updates of channel %s's %s bot: %s",
                         self.config.name, "observer" if key == self._observer_key else "",
                         redact(str(exc)))

    async def _peek(self, bot: Bot, key: str, *, consume: bool,
                    allowed: tuple[str, ...]) -> None:
        offset = self._offsets.get(key) if consume else None
        for _ in range(10):  # at most 1000 updates a look
            updates = await bot.get_updates(offset=offset, timeout=0, limit=100,
                                            allowed_updates=list(allowed))
            for update in updates:
                if update.channel_post is not None:
                    TOKENS.channel_posts.add(update.channel_post)
            if not consume or not updates:
                return
            offset = updates[-1].update_id + 1
            self._offsets[key] = offset

    async def _observer_bot(self) -> Bot:
        assert self.config.observer_token is not None
        if self._observer is None:
            started = await started_bot(self.config.observer_token.get_secret_value(),
                                        self.config.api_base_url, timeout=self.config.timeout)
            if isinstance(started, Failure):  # its clients are closed
                raise started.error
            if self._observer is not None:  # another look started one meanwhile
                await close_bot(started)
            else:
                self._observer = started
        return self._observer

    async def close(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            await close_bot(observer)
