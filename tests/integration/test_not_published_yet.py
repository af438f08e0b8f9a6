"""What `run --once` and `push` say when a channel published nothing (user audit).

`run --once` against a Telegram API answering 501 to every post said `sent 6, retry later 4`
(four attempts of ONE delivery, five more waiting behind it, unsaid) and exited 0; `push` to
it said `telegram: not yet: ...` and exited 0. Now a pass counts deliveries, says how many wait
on each channel and until when, says a wait for a retry on one line, and exits 1 when a
failure held posts back (DESIGN.md, Contract 2: "Exit status 0 means everything asked for
happened"); a push not published exits 1 and says who sends it later.

The CLI in process, a real SQLite file, the fake Bot API over HTTP (tests/fakes)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from sqlalchemy import select, update
from support.timeouts import ANSWERED

import distributor.engine.dispatcher as dispatcher_module
import distributor.engine.waits as waits_module
import distributor.ledger.deliveries as deliveries_module
from distributor.articles import Article
from distributor.channels.telegram.adapter import TelegramAdapter
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

Run = Callable[..., subprocess.CompletedProcess[str]]
OUTAGE = "Telegram is unavailable: 501 Not Implemented"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d WIB"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatcher's waits, shrunk: backoff from 0.1 s (not 30 s: a pass in an outage tries
    4 or 5 times), a pass waiting at most 0.5 s (not 90 s) for a channel's next try;
    Telegram's pace out of the way."""
    monkeypatch.setattr(deliveries_module, "BACKOFF_BASE", 0.1)
    monkeypatch.setattr(dispatcher_module, "PACING_WAIT_MAX", 0.5)
    monkeypatch.setattr(TelegramAdapter, "rate_per_minute", 1200)


def telegram_yaml(tg: FakeTelegram, **extra: str) -> str:
    lines = ["  - name: telegram", "    type: telegram", f'    chat_id: "{tg.channel.handle}"',
             f'    token: "{tg.token}"', f"    api_base_url: {tg.url}", f"    timeout: {ANSWERED}",
             "    reconcile_wait: 0"] + [f"    {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def config(write_config: Callable[..., Path], tg: FakeTelegram, tmp_path: Path) -> Path:
    return write_config("channels:\n" + telegram_yaml(tg) + f"""\
  - name: files
    type: outbox
    path: {tmp_path / 'out'}
""")


@pytest.fixture
def rt(config: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(config))
    yield runtime
    runtime.store.dispose()


def add_articles(rt: Runtime, n: int, prefix: str = "Berita") -> list[int]:
    now = datetime.now(UTC)
    with rt.store.session() as session:
        return [store_article(session, Article(
            source="wire", key=f"{prefix}-{i}", url=f"https://rinews.example/berita/{prefix}-{i}",
            title=f"{prefix} {i}", lede=f"Isi berita nomor {i} dari Jakarta.",
            published=now - timedelta(seconds=60 - i)), now=now)[0].id for i in range(n)]


def ledger(rt: Runtime, channel: str) -> list[tuple[str, int]]:
    with rt.store.session() as session:
        return [(d.state, d.attempts) for d in session.scalars(
            select(Delivery).where(Delivery.channel == channel).order_by(Delivery.id))]


def outage(tg: FakeTelegram) -> None:
    tg.server_error(501, "Not Implemented", times=10_000)


def outage_over(tg: FakeTelegram, rt: Runtime) -> None:
    """Telegram answers again, and the channel's wait is over."""
    with tg._lock:  # the fake keeps its scripts there
        tg._scripts.clear()
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.session() as session:
        session.execute(update(ChannelState).values(next_send_at=past))
        session.execute(update(Delivery).values(next_attempt_at=past))


def failed_posts(tg: FakeTelegram) -> int:
    return len([c for c in tg.calls_to("sendMessage") if c.status == 501])


# --------------------------------------------------------------------------- run --once


def test_run_once_counts_deliveries_says_what_waits_and_exits_1_in_an_outage(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_articles(rt, 6)
    outage(tg)
    result = run_cli("--config", config, "run", "--once")

    # one delivery tried several times in the pass is one delivery to retry, not one a try
    assert "sent 6, retry later 1, failed 0, unknown 0" in result.stdout.splitlines(), \
        result.stdout
    assert result.returncode == 1, result.stderr
    assert ledger(rt, "files") == [("sent", 1)] * 6
    [(state, attempts), *behind] = ledger(rt, "telegram")
    assert state == "retry" and attempts == failed_posts(tg) >= 3
    assert behind == [("pending", 0)] * 5 and tg.messages == []
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: telegram:")]
    assert re.fullmatch(rf"error: telegram: 6 waiting \(next try {WHEN}, after: {OUTAGE}\); "
                        r"`distributor run` keeps trying while it runs", line), line
    assert "files:" not in result.stdout + result.stderr  # nothing waits there

    # a second pass while the channel waits for its next try (within what a pass waits
    # for): it says so on one line, then tries
    # (a wait is said from 1 s on; the command's start on a busy machine may take more of
    # the 1.8 s than that leaves: said here from 50 ms on)
    monkeypatch.setattr(dispatcher_module, "PACING_WAIT_MAX", 2.0)
    monkeypatch.setattr(waits_module, "SAY_AFTER", 0.05)
    soon = datetime.now(UTC) + timedelta(seconds=1.8)
    with rt.store.session() as session:
        session.execute(update(ChannelState).where(ChannelState.channel == "telegram")
                        .values(next_send_at=soon))
        session.execute(update(Delivery).where(Delivery.state == "retry")
                        .values(next_attempt_at=soon))
    before = failed_posts(tg)
    again = run_cli("--config", config, "run", "--once")
    assert again.returncode == 1
    assert re.search(rf"channel telegram: retrying in \d+ s \(6 posts waiting, after: {OUTAGE}\)",
                     again.stderr), again.stderr
    assert failed_posts(tg) > before
    assert ledger(rt, "telegram")[0][0] == "retry"

    # Telegram answers again: the next pass publishes all six, in order, and exits 0
    outage_over(tg, rt)
    done = run_cli("--config", config, "run", "--once")
    assert done.returncode == 0, done.stderr
    assert "sent 6, retry later 0, failed 0, unknown 0" in done.stdout.splitlines()
    assert "waiting" not in done.stdout + done.stderr
    assert [m.plain_text.split("\n")[0] for m in tg.messages] == [f"Berita {i}" for i in range(6)]
    assert [s for s, _ in ledger(rt, "telegram")] == ["sent"] * 6


def test_posts_held_by_the_channels_own_pacing_are_said_and_are_no_failure(
        write_config: Callable[..., Path], tg: FakeTelegram, run_cli: Run) -> None:
    config = write_config("channels:\n" + telegram_yaml(tg, min_interval="5m"))
    runtime = Runtime.open(load_config(config))
    try:
        add_articles(runtime, 3)
        result = run_cli("--config", config, "run", "--once")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "sent 1, retry later 0, failed 0, unknown 0" in lines
        assert any(re.fullmatch(rf"telegram: 2 waiting \(next post {WHEN}: the channel's "
                                r"pacing\)", x) for x in lines), lines
        assert [s for s, _ in ledger(runtime, "telegram")] == ["sent", "pending", "pending"]
    finally:
        runtime.store.dispose()


def test_posts_on_a_paused_channel_are_said_and_the_pass_exits_1(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    add_articles(rt, 2)
    with rt.store.session() as session:
        session.merge(ChannelState(channel="telegram", paused_reason="the bot token is invalid"))
    result = run_cli("--config", config, "run", "--once")
    assert result.returncode == 1
    assert "sent 2, retry later 0, failed 0, unknown 0" in result.stdout.splitlines()
    assert ("error: telegram: 2 waiting: the channel is paused (the bot token is invalid); fix "
            "it, then `distributor channels resume telegram`") in result.stderr.splitlines()
    assert tg.calls_to("sendMessage") == []


# --------------------------------------------------------------------------- push


def test_a_push_not_published_exits_1_and_says_who_sends_it_later(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    first, second = add_articles(rt, 2)
    outage(tg)
    pushed = run_cli("--config", config, "push", str(first), "--channel", "telegram")
    assert pushed.returncode == 1
    assert pushed.stdout == ""
    [line] = [x for x in pushed.stderr.splitlines() if x.startswith("error:")]
    assert re.fullmatch(rf"error: telegram: not published yet: {OUTAGE}; it is tried again at "
                        rf"{WHEN} by `distributor run` while it runs", line), line
    assert ledger(rt, "telegram")[0][0] == "retry"

    # the channel now waits past what a push waits for: the next push is not sent at all
    later = datetime.now(UTC) + timedelta(minutes=5)
    with rt.store.session() as session:
        session.execute(update(ChannelState).where(ChannelState.channel == "telegram")
                        .values(next_send_at=later))
    calls = len(tg.calls_to("sendMessage"))
    waits = run_cli("--config", config, "push", str(second), "--channel", "telegram")
    assert waits.returncode == 1
    [line] = [x for x in waits.stderr.splitlines() if x.startswith("error:")]
    assert re.fullmatch(rf"error: telegram: not published yet: the channel waits until {WHEN} "
                        r"\(its pacing or the platform's answer\); delivery \d+ goes out then, "
                        r"sent by `distributor run` while it runs", line), line
    assert len(tg.calls_to("sendMessage")) == calls
    assert [s for s, _ in ledger(rt, "telegram")] == ["retry", "pending"]

    # once published, a push says so and exits 0
    outage_over(tg, rt)
    ok = run_cli("--config", config, "push", str(second), "--channel", "telegram")
    assert ok.returncode == 0, ok.stderr
    assert re.fullmatch(r"telegram: published \(remote id \d+\)\n", ok.stdout), ok.stdout


# --------------------------------------------------------------------------- deliveries retry


def test_a_retry_that_fails_again_exits_1_and_says_so_in_one_line(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    """`deliveries retry ID` in an outage said `delivery 1: retry (...)` and exited 0, as if
    it had been published; now it exits 1 like `push`, its one line saying what failed and
    when the next try is."""
    [article] = add_articles(rt, 1)
    outage(tg)
    assert run_cli("--config", config, "push", str(article), "--channel", "telegram"
                   ).returncode == 1
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.session() as session:
        [delivery] = session.scalars(select(Delivery.id).where(Delivery.channel == "telegram"))
        session.execute(update(ChannelState).values(next_send_at=past))  # its wait is over
    before = failed_posts(tg)

    again = run_cli("--config", config, "deliveries", "retry", str(delivery))
    assert again.returncode == 1
    assert failed_posts(tg) > before  # it was tried
    assert again.stdout == f"delivery {delivery} (telegram) is queued again\n"
    [line] = [x for x in again.stderr.splitlines() if x.startswith("error:")]
    assert re.fullmatch(rf"error: delivery {delivery} \(telegram\): not published, the retry "
                        rf"failed again: {OUTAGE}; it is tried again at {WHEN} by `distributor "
                        r"run` while it runs", line), line
    assert ledger(rt, "telegram") == [("retry", ledger(rt, "telegram")[0][1])]

    outage_over(tg, rt)
    ok = run_cli("--config", config, "deliveries", "retry", str(delivery))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == (f"delivery {delivery}: sent (remote id "
                                          f"{tg.messages[0].message_id})")
    assert [m.plain_text.split("\n")[0] for m in tg.messages] == ["Berita 0"]  # once
