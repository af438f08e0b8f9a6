"""Real `distributor run` processes: SIGKILL mid-publishing never doubles a post, SIGTERM lets
the send in flight finish, a missed digest is sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import cli_env
from sqlalchemy import select, update
from support.webhook_server import WebhookServer

from distributor.configfile import load_config
from distributor.store import open_store
from distributor.store.models import ArticleRow, Delivery, Digest

pytestmark = pytest.mark.slow
N_ARTICLES = 8


def write_articles(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    titles = []
    for i in range(n):
        title = f"Berita nomor {i}"
        path = folder / f"berita-{i}.txt"
        path.write_text(
            f"{title}\n\nJakarta — Isi berita nomor {i} yang cukup panjang untuk dibaca.\n",
            encoding="utf-8")
        written = time.time() - 60  # saved a minute ago: settled, ready to be read
        os.utime(path, (written, written))
        titles.append(title)
    return titles


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer(delay=0.3) as srv:
        yield srv


@pytest.fixture
def config_path(write_config: Callable[..., Path], tmp_path: Path, server: WebhookServer) -> Path:
    write_articles(tmp_path / "articles", N_ARTICLES)
    return write_config(f"""\
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


def start(config: Path, plugin: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                             "run", *args], env=cli_env(plugin), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def ledger(config: Path) -> dict[str, str]:
    store = open_store(load_config(config).database)
    try:
        with store.session() as session:
            return {d.article.title: d.state for d in session.scalars(select(Delivery))}
    finally:
        store.dispose()


def test_sigkill_in_the_middle_of_publishing_posts_no_article_twice(
    config_path: Path, server: WebhookServer, webhook_plugin: Path,
) -> None:
    proc = start(config_path, webhook_plugin)
    try:
        wait_for(lambda: len(server.received) >= 3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    time.sleep(0.5)  # a post that reached the server as the process died is recorded there
    posted_before = server.texts()

    again = start(config_path, webhook_plugin, "--once")
    _, err = again.communicate(timeout=60)
    states = ledger(config_path)

    texts = server.texts()
    assert len(texts) == len(set(texts)), f"posted twice: {texts}"
    assert texts[: len(posted_before)] == posted_before
    titles = {t.removesuffix(" (1/1)") for t in texts}
    sent = {title for title, state in states.items() if state == "sent"}
    unknown = {title for title, state in states.items() if state == "unknown"}
    assert len(states) == N_ARTICLES
    assert len(unknown) <= 1  # at most the one in flight when the process died
    assert sent | unknown == set(states)
    assert sent <= titles <= sent | unknown
    assert again.returncode == (1 if unknown else 0), err


def test_sigterm_lets_the_send_in_flight_finish_then_exits_0(
    config_path: Path, server: WebhookServer, webhook_plugin: Path,
) -> None:
    proc = start(config_path, webhook_plugin)
    try:
        wait_for(lambda: len(server.received) >= 1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    states = ledger(config_path)
    assert "sending" not in states.values() and "unknown" not in states.values()
    sent = sorted(t for t, s in states.items() if s == "sent")
    assert sorted(t.removesuffix(" (1/1)") for t in server.texts()) == sent


def test_a_long_running_dry_run_writes_the_outbox_and_leaves_the_ledger_alone(
    config_path: Path, server: WebhookServer, webhook_plugin: Path, tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox" / "hook"
    proc = start(config_path, webhook_plugin, "--dry-run")
    try:
        wait_for(lambda: len(list(outbox.glob("*.json"))) >= N_ARTICLES)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert server.received == []
    assert ledger(config_path) == {}  # a real run later still publishes everything
    assert err.count("dry run: article") == N_ARTICLES  # each written once, not every pass
    again = start(config_path, webhook_plugin, "--once")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert len(server.texts()) == N_ARTICLES


def test_a_missed_digest_is_sent_once_however_often_the_process_starts(
    write_config: Callable[..., Path], tmp_path: Path, run_cli: Callable[..., object],
) -> None:
    write_articles(tmp_path / "articles", 2)
    config = write_config("""\
        sources:
          - name: newsroom
            type: directory
            path: articles/
            url_template: https://rinews.example/berita/{slug}
        channels:
          - name: daily
            type: outbox
            publish: digest
            schedule: "* * * * *"
            path: out/
        """)
    assert run_cli("--config", config, "fetch").returncode == 0  # type: ignore[attr-defined]
    store = open_store(load_config(config).database)
    with store.session() as session:  # the articles were seen before the last digest time
        session.execute(update(ArticleRow).values(
            first_seen=datetime.now(UTC) - timedelta(minutes=5)))
    for _ in range(2):
        result = run_cli("--config", config, "run", "--once")
        assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    with store.session() as session:
        digests = session.scalars(select(Digest)).all()
    store.dispose()
    sent = [d for d in digests if d.state == "sent"]
    assert len(sent) == 1 and len(sent[0].article_ids) == 2
    assert len(list((tmp_path / "out" / "daily").glob("digest-*.json"))) == 1
