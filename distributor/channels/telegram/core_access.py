"""Everything the Telegram package still takes from the core past :mod:`distributor.plugin`.

This is debt, gathered in one place (and listed in tests/unit/test_architecture.py) so that it
can move onto the plugin API in one step:

* the store: where Telegram moved a chat (``channel_state.moved_to``) and, in distributed
  mode, the bot token's shared request slots (a row ``token:<key>`` of ``channel_state``).
  Both are to become ``ctx.state`` of the plugin API (the small key-value store the core keeps
  for a channel); the shared slots need an atomic "take the next slot" there;
* the runtime given to :meth:`TelegramAdapter.bind` (the store, the execution mode);
* the renderer (``render/telegram.py``: the post, and the text readers see of it);
* two helpers of the foundation: the ``Seconds`` config type and the log redaction filter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from distributor.config import Seconds
from distributor.logs import SecretFilter
from distributor.render.telegram import render_telegram, visible_text

if TYPE_CHECKING:
    from distributor.runtime import Runtime

__all__ = [
    "Seconds",
    "SecretFilter",
    "read_moved_to",
    "render_telegram",
    "reserve_slot",
    "shared_slots",
    "store_slots",
    "visible_text",
    "write_moved_to",
]


# --------------------------------------------------------------------------- moved chats

def read_moved_to(rt: Runtime, channel: str) -> str | None:
    """The chat id recorded for ``channel`` after Telegram moved its chat, if any."""
    from distributor.store.models import ChannelState

    with rt.store.session() as session:
        state = session.get(ChannelState, channel)
        moved = (state.moved_to or "").strip() if state is not None else ""
    return moved or None


def write_moved_to(rt: Runtime, channel: str, chat_id: str | None) -> None:
    """Record (or, with None, forget) where Telegram moved ``channel``'s chat."""
    from distributor.store.models import ChannelState

    with rt.store.session() as session:
        state = session.get(ChannelState, channel)
        if state is None:
            if chat_id is None:
                return
            state = ChannelState(channel=channel)
            session.add(state)
        state.moved_to = chat_id


# --------------------------------------------------------------------------- shared slots

def reserve_slot(store: Any, key: str, *, gap: timedelta,
                 now: datetime | None = None) -> datetime:
    """Take a bot token's next request slot, kept in PostgreSQL (a row ``token:<key>`` of
    ``channel_state``): one atomic upsert, so every worker on every machine gets its own slot,
    ``gap`` after the one before. Returns when the slot starts."""
    from sqlalchemy import func, literal
    from sqlalchemy.dialects.postgresql import insert

    from distributor.store.models import ChannelState, UTCDateTime

    now = now or datetime.now(UTC)
    start = func.greatest(ChannelState.next_send_at, literal(now, UTCDateTime()))
    stmt = insert(ChannelState).values(channel=f"token:{key}", next_send_at=now + gap)
    stmt = stmt.on_conflict_do_update(index_elements=[ChannelState.channel],
                                      set_={"next_send_at": start + gap})
    with store.session() as session:
        end = session.execute(stmt.returning(ChannelState.next_send_at)).scalar_one()
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return end - gap


def store_slots(store: Any, key: str, *, gap: float,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Callable[[], float]:
    """Requests ``gap`` seconds apart across all processes: the function reserves the token's
    next slot and says how many seconds to wait for it (from ``clock``'s now)."""
    step = timedelta(seconds=gap)

    def reserve() -> float:
        now = clock()
        return max(0.0, (reserve_slot(store, key, gap=step, now=now) - now).total_seconds())

    return reserve


def shared_slots(rt: Runtime, key: str, *, gap: float) -> Callable[[], float] | None:
    """In distributed mode on PostgreSQL, the token's slots shared by every worker; else None
    (one process sends everything, and its own limiter is exact)."""
    if rt.config.execution == "distributed" and rt.store.engine.dialect.name == "postgresql":
        return store_slots(rt.store, key, gap=gap)
    return None
