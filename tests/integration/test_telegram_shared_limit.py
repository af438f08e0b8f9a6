"""Distributed mode: Telegram's per-token limit is shared by every worker through PostgreSQL
(the token's shared state, ``env.shared_state("telegram/<key>")``, updated atomically)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fakes.telegram_api import FakeTelegram

from distributor.articles import Article
from distributor.channels.telegram.adapter import GAP, credential_key, token_state
from distributor.channels.telegram.pacing import (
    NEXT_SLOT,
    reserve_slot,
    shared_slots,
    token_scope,
)
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.channel_state import shared_state
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store import Store, open_store


def test_two_processes_reservations_never_share_a_slot(pg_url: str) -> None:
    stores = [open_store(pg_url), open_store(pg_url)]  # as two workers would have them
    slots: list[float] = []
    lock = threading.Lock()

    def worker(store: Store) -> None:
        state = shared_state(store, token_scope("k1"))
        for _ in range(20):
            slot = reserve_slot(state, gap=GAP, now=time.time())
            with lock:
                slots.append(slot)

    try:
        threads = [threading.Thread(target=worker, args=(s,)) for s in stores for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in stores:
            s.dispose()
    slots.sort()
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    # 80 requests on one token: each its own slot, spaced as Telegram allows, whichever
    # process asked
    assert len(set(slots)) == 80 and min(gaps) >= GAP - 0.001, min(gaps)


def test_a_reservation_says_how_long_to_wait(pg_url: str) -> None:
    store = open_store(pg_url)
    now = time.time()
    try:  # 40 requests at one instant (a frozen clock: no seconds of this machine counted)
        reserve = shared_slots(shared_state(store, token_scope("k2")), gap=GAP,
                               clock=lambda: now)
        waits = [reserve() for _ in range(40)]
    finally:
        store.dispose()
    # the first goes at once; each next one waits for its own slot, one gap after the last
    assert waits[0] == 0.0
    steps = [later - earlier for earlier, later in itertools.pairwise(waits)]
    assert all(abs(step - GAP) < 1e-5 for step in steps), steps


async def test_a_distributed_runtime_paces_its_token_in_the_store(
        write_config: Callable[..., Path], pg_url: str) -> None:
    with FakeTelegram() as tg:
        config = write_config(
            "execution: distributed\nchannels:\n"
            f"  - name: telegram\n    type: telegram\n    chat_id: \"{tg.channel.handle}\"\n"
            f"    token: \"{tg.token}\"\n    api_base_url: {tg.url}\n    timeout: 5\n"
            "    rate_per_minute: 60000\n", database=pg_url)
        rt = Runtime.open(load_config(config))
        try:
            key = credential_key(tg.token, tg.url)
            assert token_state(key).pacing.shared is not None
            now = datetime.now(UTC)
            with rt.store.session() as session:
                for i in range(3):
                    store_article(session, Article(
                        source="t", key=f"k{i}", url=f"https://rinews.example/{i}",
                        title=f"Berita {i}", lede=f"Lede {i}.", published=now), now=now)
            report = await Dispatcher(rt).run_once()
            assert len(report.sent) == 3 and len(tg.messages) == 3
            next_slot = shared_state(rt.store, token_scope(key)).get(NEXT_SLOT)
            assert next_slot > now.timestamp() + 2 * GAP  # three slots taken
        finally:
            await rt.close()


async def test_an_embedded_runtime_keeps_its_limit_in_memory(
        write_config: Callable[..., Path]) -> None:
    config = write_config('channels:\n  - name: telegram\n    type: telegram\n'
                          '    chat_id: "@x"\n    token: "1:abc"\n')
    rt = Runtime.open(load_config(config))
    try:
        assert token_state(credential_key("1:abc")).pacing.shared is None
    finally:
        await rt.close()
