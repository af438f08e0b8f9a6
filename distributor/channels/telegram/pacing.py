"""Telegram's per-bot limit: about 30 message requests a second, whatever the chat.

In embedded mode one process sends everything, so an in-process limiter is exact: an
aiolimiter ``AsyncLimiter`` that lets the token's requests go :data:`GAP` apart (never more
than 30 in any second, never a burst Telegram could count into one of its seconds). aiolimiter
binds a limiter to one event loop, so each loop gets its own (a process normally runs one at a
time). Distributed workers each keep their own limiter too, and also take a slot of the token
from PostgreSQL (:func:`~distributor.channels.telegram.core_access.shared_slots`), which holds
across every process on every machine.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable

from aiolimiter import AsyncLimiter

log = logging.getLogger(__name__)

#: Telegram's limit for one bot: about 30 messages a second across all chats
TOKEN_RATE = 30
#: the window the limit is counted in: a little over a second, so that network jitter can never
#: make Telegram see 31 requests in one of its seconds
TOKEN_WINDOW = 1.1
#: the spacing of one token's requests: the limit, spread evenly over its window
GAP = TOKEN_WINDOW / TOKEN_RATE


class TokenPacing:
    """The pace of one bot token's message requests in this process."""

    def __init__(self, gap: float = GAP):
        self.gap = gap
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncLimiter] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        #: in distributed mode: reserves this token's next slot among all processes (seconds
        #: to wait); set by :meth:`TelegramAdapter.bind`
        self.shared: Callable[[], float] | None = None

    def limiter(self) -> AsyncLimiter:
        """The limiter of the running event loop: one request per ``gap``."""
        loop = asyncio.get_running_loop()
        with self._lock:
            limiter = self._limiters.get(loop)
            if limiter is None:
                limiter = self._limiters[loop] = AsyncLimiter(1, self.gap)
            return limiter

    async def wait(self) -> None:
        """Wait for this token's next request slot."""
        await self.limiter().acquire()
        shared = self.shared
        if shared is None:
            return
        try:  # distributed mode: the other processes on this token too
            delay = await asyncio.to_thread(shared)
        except Exception as exc:  # the store is down: this process's own limit holds
            log.warning("cannot reserve the bot token's slot in the store: %s", exc)
            return
        if delay > 0:
            await asyncio.sleep(delay)
