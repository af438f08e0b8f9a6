"""Issue 15, item 1 under crashes: article files whose long titles share their first 80
characters (the updates of one story) and carry no link each get their own article and post,
through a SIGKILL of `distributor run` and of a distributed worker: nothing lost, nothing
posted twice. The suite runs 24 and 36 files; `--soak full` (bench/soak.py's sizes) 60 and
120, the sizes of the issue."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import cli_env
from fakes.telegram_api import FakeTelegram
from sqlalchemy import select
from support.cli import run_in_process
from support.cluster import Cluster, process_env, wait_for
from support.webhook_server import WebhookServer

from distributor.configfile import load_config
from distributor.store import open_store
from distributor.store.models import ArticleRow, Delivery

pytestmark = pytest.mark.slow

STORY = ("Pemerintah provinsi DKI Jakarta memperpanjang masa tanggap darurat banjir di lima "
         "wilayah kota hingga akhir pekan depan")
MARK = re.compile(r"laporan (\d{3})")


def write_updates(folder: Path, n: int) -> None:
    """``n`` updates of one story: titles alike for their first 110 characters, no link."""
    folder.mkdir(parents=True, exist_ok=True)
    old = time.time() - 600
    for i in range(n):
        path = folder / f"banjir-{i:03d}.txt"
        path.write_text(f"{STORY} laporan {i:03d}\n\nJAKARTA — Banjir masih menggenangi "
                        f"kawasan ibu kota, laporan {i:03d} dari posko.\n", encoding="utf-8")
        os.utime(path, (old + i, old + i))


def ledger(config: Path) -> dict[tuple[str, int], str]:
    store = open_store(load_config(config).database, migrate=False)
    try:
        with store.session() as session:
            rows = session.execute(select(Delivery.channel, ArticleRow.title, Delivery.state)
                                   .join(ArticleRow)).all()
    finally:
        store.dispose()
    out = {}
    for channel, title, state in rows:
        found = MARK.search(title)
        assert found, title
        out[(channel, int(found.group(1)))] = state
    return out


def marks(texts: list[str]) -> list[int]:
    found = [MARK.search(t) for t in texts]
    assert all(found), texts
    return [int(m.group(1)) for m in found if m]


def assert_each_once(states: dict[tuple[str, int], str], channel: str, posted: list[int],
                     n: int) -> None:
    assert len(posted) == len(set(posted)), f"posted twice: {Counter(posted)}"
    sent = {i for (c, i), s in states.items() if c == channel and s == "sent"}
    unknown = {i for (c, i), s in states.items() if c == channel and s == "unknown"}
    assert sent | unknown == set(range(n)), f"lost: {sorted(set(range(n)) - sent - unknown)}"
    assert sent <= set(posted) <= sent | unknown
    assert len(unknown) <= 1


# --------------------------------------------------------------------------- embedded


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer(delay=0.05) as srv:
        yield srv


def test_updates_of_one_story_survive_a_sigkill_of_run_each_posted_once(
        write_config: Callable[..., Path], tmp_path: Path, server: WebhookServer,
        webhook_plugin: Path, soak: Callable[[int, int], int]) -> None:
    n = soak(24, 60)
    write_updates(tmp_path / "articles", n)
    config = write_config(f"""\
        sources:
          - name: newsroom
            type: directory
            path: articles/
            url_template: https://rinews.example/berita/{{slug}}
            every: 1s
        channels:
          - name: hook
            type: webhook
            url: {server.url}
            timeout: 5
        """)

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                                 "run", *args], env=cli_env(webhook_plugin),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    proc = start()
    try:
        wait_for(lambda: len(server.received) >= n // 3, timeout=120, what="a third posted")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    time.sleep(0.5)  # a post that reached the server as the process died is recorded there
    again = start("--once")
    _, err = again.communicate(timeout=180)
    states = ledger(config)
    assert len(states) == n, err
    assert_each_once(states, "hook", marks(server.texts()), n)


# --------------------------------------------------------------------------- distributed


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_updates_of_one_story_survive_a_killed_worker_each_posted_once(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        soak: Callable[[int, int], int]) -> None:
    n = soak(36, 120)
    write_updates(tmp_path / "articles", n)
    env = process_env()
    with FakeTelegram() as telegram:
        telegram.delay(0.05, times=10 * n, process_first=True)
        config = write_config(f"""\
            execution: distributed
            sources:
              - name: newsroom
                type: directory
                path: articles/
                url_template: https://rinews.example/berita/{{slug}}
                every: 1s
            channels:
              - name: tg
                type: telegram
                chat_id: "{telegram.channel.handle}"
                token: "{telegram.token}"
                api_base_url: {telegram.url}
                timeout: 5
                rate_per_minute: 60000
            """, database=pg_url)
        upgraded = run_in_process("--config", config, "db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        with Cluster(config, env) as cluster:
            scheduler = cluster.scheduler()
            victim = cluster.worker("--concurrency", "1", "--stalled-after", "3")
            survivor = cluster.worker("--concurrency", "1", "--stalled-after", "3")
            wait_for(lambda: len(telegram.messages) >= n // 3, timeout=120,
                     what="a third posted")
            cluster.kill(victim)
            wait_for(lambda: len(ledger(config)) == n and all(
                s not in ("pending", "sending", "retry") for s in ledger(config).values()),
                timeout=240, what="every delivery settled")
            time.sleep(1.0)
            assert cluster.stop(survivor) == 0
            assert cluster.stop(scheduler) == 0
        posted = marks([m.text for m in list(telegram.messages)])
    assert_each_once(ledger(config), "tg", posted, n)
