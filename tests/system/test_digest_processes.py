"""`distributor digest send` as real processes against a real SMTP server: 300 subscribers get
exactly one digest each with a working unsubscribe link of their own, a second send sends
nothing, and a process killed with SIGKILL half-way is finished by the next one without
skipping anyone and repeating only what was in flight."""

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

import httpx
import pytest
from conftest import cli_env
from sqlalchemy import func, select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.runtime import Runtime
from distributor.store.models import EmailSend, Subscriber

pytestmark = pytest.mark.slow
N = 300


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def write_articles(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    old = time.time() - 600  # written a while ago: settled
    for i in range(n):
        path = folder / f"berita-{i}.txt"
        path.write_text(f"Berita nomor {i}\n\nJakarta — Isi berita nomor {i} yang cukup panjang "
                        "untuk dibaca.\n", encoding="utf-8")
        os.utime(path, (old, old))


@pytest.fixture
def config(write_config: Callable[..., Path], tmp_path: Path, smtp: SmtpServer,
           run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> Path:
    write_articles(tmp_path / "articles", 3)
    path = write_config("""\
sources:
  - name: newsroom
    type: directory
    path: articles/
    url_template: https://rinews.example/berita/{slug}
channels:
""" + email_channel_yaml(smtp, extra="    concurrency: 4\n"))
    subscribers = tmp_path / "subscribers.csv"
    subscribers.write_text("email\n" + "".join(f"reader{i}@example.org\n" for i in range(N)),
                           encoding="utf-8")
    for args in (("fetch",),
                 ("subscribers", "import", str(subscribers), "--channel", "daily",
                  "--confirmed")):
        result = run_cli("--config", path, *args)
        assert result.returncode == 0, result.stderr
    return path


def token_of(received: object) -> str:
    mail = received.message()  # type: ignore[attr-defined]
    found = re.search(r"/unsubscribe/([A-Za-z0-9_.\-]+)>", str(mail["List-Unsubscribe"]))
    assert found
    return found.group(1)


async def test_300_subscribers_get_one_digest_each_with_their_own_working_unsubscribe_link(
        config: Path, smtp: SmtpServer,
        run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    first = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert first.returncode == 0, first.stderr
    assert f"{N} mails accepted" in first.stdout
    recipients = smtp.recipients()
    assert len(recipients) == N and set(recipients) == {f"reader{i}@example.org"
                                                        for i in range(N)}
    second = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert second.returncode == 0, second.stderr
    assert smtp.count == N  # an immediate second send sends nothing

    tokens = {r.rcpt_tos[0]: token_of(r) for r in smtp.received}
    assert len(set(tokens.values())) == N
    rt = Runtime.open(load_config(config))
    try:
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
            for token in tokens.values():
                response = await c.post(f"/unsubscribe/{token}",
                                        content=b"List-Unsubscribe=One-Click")
                assert response.status_code == 200
        with rt.store.session() as session:
            states = Counter(session.scalars(select(Subscriber.state)))
        assert states == {"unsubscribed": N}  # each link unsubscribed its own reader
    finally:
        rt.store.dispose()


def test_a_digest_killed_half_way_is_finished_by_the_next_process(
        config: Path, smtp: SmtpServer, webhook_plugin: Path,
        run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    smtp.delay = 0.01  # ~400 messages a second over 4 connections: the kill lands mid-way
    proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                             "digest", "send", "--channel", "daily"],
                            env=cli_env(webhook_plugin), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while smtp.count < N // 3:
            assert time.monotonic() < deadline and proc.poll() is None, "no mail went out"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    time.sleep(0.3)  # what reached the server as the process died is counted there
    accepted_before = smtp.count
    rt_store = Runtime.open(load_config(config)).store
    with rt_store.session() as session:
        recorded = session.scalar(select(func.count()).select_from(EmailSend)) or 0
    rt_store.dispose()
    assert 0 < accepted_before < N

    smtp.delay = 0
    again = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert again.returncode == 0, again.stderr
    assert "(resumed)" in again.stdout

    counts = Counter(smtp.recipients())
    assert set(counts) == {f"reader{i}@example.org" for i in range(N)}  # nobody skipped
    repeated = sum(n - 1 for n in counts.values())
    # only mails the server accepted but the killed process had not yet recorded repeat
    assert repeated == accepted_before - recorded
    assert repeated <= 4 + 60  # in flight (concurrency 4) + at most ~0.1 s of batching
    print(f"\nSIGKILL after {accepted_before} of {N} mails: {recorded} recorded, "
          f"{repeated} sent twice (accepted but not yet recorded at the kill)")
    again = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert again.returncode == 0 and sum(Counter(smtp.recipients()).values()) == N + repeated
