"""A feed that answers 429 or 503 with Retry-After is not polled again before that time (kept
in the source's state, so a restart keeps it; 6 h at most); one line says until when, in the
site's time zone; the other sources go on. Against a real HTTP server that counts requests."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from zoneinfo import ZoneInfo

import pytest
from feedserver import FeedServer

from distributor.clock import utcnow
from distributor.configfile import load_config
from distributor.ledger.ingest import PollReport, poll_all
from distributor.runtime import Runtime

JAKARTA = ZoneInfo("Asia/Jakarta")
RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Desk</title><link>https://rinews.example/</link>
<item><title>Banjir Jakarta</title><link>https://rinews.example/berita/banjir</link>
<guid>banjir</guid><description>JAKARTA - Banjir menggenangi ibu kota.</description></item>
</channel></rss>"""
OTHER = RSS.replace(b"banjir", b"gempa").replace(b"Banjir", b"Gempa")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
def config(write_config: Callable[..., Path], server: FeedServer) -> Path:
    return write_config(f"""\
sources:
  - name: busy
    type: feed
    url: {server.url("/busy.xml")}
  - name: calm
    type: feed
    url: {server.url("/calm.xml")}
channels:
  - name: files
    type: outbox
    path: outbox/
""")


def polls(rt: Runtime, now: datetime) -> dict[str, PollReport]:
    return {r.source: r for r in asyncio.run(poll_all(rt, now=now))}


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)


@pytest.mark.parametrize(("status", "retry_after", "wait"), [
    (429, "3600", timedelta(hours=1)),
    (503, "http-date 2h", timedelta(hours=2)),
    (429, "86400", timedelta(hours=6)),  # a day asked: 6 h at most
    (429, "1e20", timedelta(hours=6)),  # no overflow, no traceback: 6 h
    (503, "inf", timedelta(hours=6)),
], ids=["429-seconds", "503-http-date", "429-capped", "429-huge", "503-infinite"])
def test_a_feed_asking_for_a_pause_is_not_polled_before_it_ends_even_after_a_restart(
        server: FeedServer, config: Path, status: int, retry_after: str,
        wait: timedelta) -> None:
    start = utcnow()
    if retry_after.startswith("http-date"):
        retry_after = http_date(start + wait)
    server.route("/busy.xml", status=status, body=b"slow down", content_type="text/plain",
                 headers={"Retry-After": retry_after})
    server.route("/calm.xml", body=RSS)
    rt = Runtime.open(load_config(config))
    try:
        first = polls(rt, start)
        busy = first["busy"]
        until = (start + wait).astimezone(JAKARTA)
        assert busy.error is not None and f"HTTP {status}" in busy.error
        # the time of the end of the pause, as the newsroom reads it (a second of slack
        # for an HTTP date, which has no fractions)
        assert any(f"not polled again before {t:%Y-%m-%d %H:%M} WIB" in busy.error
                   for t in (until, until - timedelta(seconds=1)))
        assert len(first["calm"].new) == 1
        server.route("/busy.xml", body=OTHER)  # the server would answer now: it is not asked
        during = polls(rt, start + wait - timedelta(minutes=1))
    finally:
        asyncio_close(rt)
    assert len(server.requests_to("/busy.xml")) == 1
    assert during["busy"].waiting_until is not None
    assert during["busy"].error is None
    assert len(server.requests_to("/calm.xml")) == 2  # the other source goes on

    rt = Runtime.open(load_config(config))  # a restart keeps the pause
    try:
        assert polls(rt, start + wait - timedelta(seconds=30))["busy"].waiting_until
        assert len(server.requests_to("/busy.xml")) == 1
        after = polls(rt, start + wait + timedelta(minutes=1))
    finally:
        asyncio_close(rt)
    assert len(server.requests_to("/busy.xml")) == 2
    assert after["busy"].error is None and len(after["busy"].new) == 1


def test_a_429_without_retry_after_is_polled_again_at_the_next_poll(
        server: FeedServer, config: Path) -> None:
    server.route("/busy.xml", status=429, body=b"slow down", content_type="text/plain")
    server.route("/calm.xml", body=RSS)
    rt = Runtime.open(load_config(config))
    try:
        start = utcnow()
        assert "polled too often" in str(polls(rt, start)["busy"].error)
        polls(rt, start + timedelta(minutes=5))
    finally:
        asyncio_close(rt)
    assert len(server.requests_to("/busy.xml")) == 2


def test_fetch_says_until_when_a_source_waits(
        server: FeedServer, config: Path, run_cli: Callable[..., CompletedProcess[str]]) -> None:
    server.route("/busy.xml", status=429, body=b"slow down", content_type="text/plain",
                 headers={"Retry-After": "7200"})
    server.route("/calm.xml", body=RSS)
    first = run_cli("--config", config, "fetch")
    assert first.returncode == 1
    errors = [line for line in first.stderr.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and "source busy" in errors[0] and "WIB" in errors[0], errors
    assert "2 h" in errors[0]
    second = run_cli("--config", config, "fetch")
    assert second.returncode == 0, second.stderr
    assert "source busy: not polled: its server asked for a pause until" in second.stdout
    assert "source calm: 0 new, 1 known" in second.stdout
    assert len(server.requests_to("/busy.xml")) == 1


def asyncio_close(rt: Runtime) -> None:
    asyncio.run(rt.close())
