"""Telegram's per-bot limit: about 30 message requests a second, whatever the chat.

In embedded mode one process sends everything, so an in-process limiter is exact: an
aiolimiter ``AsyncLimiter`` that lets the token's requests go :data:`GAP` apart (never more
than 30 in any second, never a burst Telegram could count into one of its seconds). aiolimiter
binds a limiter to one event loop, so each loop gets its own (a process normally runs one at a
time). Distributed workers each keep their own limiter too, and also take a slot of the token
from the token's shared state (:func:`shared_slots`: an atomic update of
``env.shared_state("telegram/<credential key>")``, kept by the core in its database), which
holds across every process on every machine.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable

from aiolimiter import AsyncLimiter

from distributor.plugin import StateStore

log = logging.getLogger(__name__)

#: Telegram's limit for one bot: about 30 messages a second across all chats
TOKEN_RATE = 30
#: the window the limit is counted in: a little over a second, so that network jitter can never
#: make Telegram see 31 requests in one of its seconds
TOKEN_WINDOW = 1.1
#: the spacing of one token's requests: the limit, spread evenly over its window
GAP = TOKEN_WINDOW / TOKEN_RATE
#: in a token's shared state: when its next free request slot starts (seconds since the epoch)
NEXT_SLOT = "next_slot"


def token_scope(key: str) -> str:
    """The shared state's scope of the bot token named ``key`` (its credential key)."""
    return f"telegram/{key}"


def reserve_slot(state: StateStore, *, gap: float, now: float) -> float:
    """Take the token's next request slot (one atomic update of its shared state, so every
    worker on every machine gets its own slot, ``gap`` after the one before); returns when the
    slot starts (seconds since the epoch, not before ``now``)."""
    end = state.update(NEXT_SLOT, lambda free: max(float(free or 0.0), now) + gap)
    return float(end) - gap


def shared_slots(state: StateStore, *, gap: float,
                 clock: Callable[[], float] = time.time) -> Callable[[], float]:
    """Requests ``gap`` seconds apart across all processes: the function reserves the token's
    next slot and says how many seconds to wait for it (from ``clock``'s now)."""

    def reserve() -> float:
        now = clock()
        return max(0.0, reserve_slot(state, gap=gap, now=now) - now)

    return reserve


class TokenPacing:
    """The pace of one bot token's message requests in this process."""

    def __init__(self, gap: float = GAP):
        self.gap = gap
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncLimiter] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        #: in distributed mode: reserves this token's next slot among all processes (seconds
        #: to wait); set by :meth:`TelegramAdapter.setup`
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
