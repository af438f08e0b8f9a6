"""A feed that answers 429 or 503 with Retry-After is not polled again before that time (kept
in the source's state, so a restart keeps it; 6 h at most); one line says until when, in the
site's time zone; the other sources go on. Against a real HTTP server that counts requests."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from zoneinfo import ZoneInfo

import httpx
import pytest
from feedserver import FeedServer
from support.web import login, make_editor

from distributor.clock import utcnow
from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.ledger.ingest import PollReport, poll_all
from distributor.runtime import Runtime
from distributor.store.models import SourceStateRow

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

    listed = run_cli("--config", config, "sources", "list")
    assert listed.returncode == 0, listed.stderr
    busy, calm = (next(line for line in listed.stdout.splitlines() if line.startswith(name))
                  for name in ("busy", "calm"))
    assert "waiting until" in busy and "WIB (its server asked)" in busy, listed.stdout
    assert " ok " in calm and calm.rstrip().endswith("1"), listed.stdout  # 1 article from it
    as_json = {s["name"]: s for s in json.loads(
        run_cli("--config", config, "sources", "list", "--json").stdout)}
    assert as_json["busy"]["state"] == "waiting" and as_json["busy"]["poll_after"]
    assert "HTTP 429" in as_json["busy"]["last_error"]
    assert as_json["calm"]["state"] == "ok" and as_json["calm"]["articles"] == 1
    assert len(server.requests_to("/busy.xml")) == 1  # listing reads nothing


async def test_the_dashboard_shows_a_source_paused_by_its_server_until_when(
        server: FeedServer, write_config: Callable[..., Path]) -> None:
    config = write_config(f"""\
sources:
  - name: busy
    type: feed
    url: {server.url("/busy.xml").replace("http://", "http://reader:s3cret@")}?token=k3y-0f-feed
  - name: calm
    type: feed
    url: {server.url("/calm.xml")}
  - name: broken
    type: feed
    url: {server.url("/gone.xml")}
channels:
  - name: files
    type: outbox
    path: outbox/
""")
    server.route("/busy.xml?token=k3y-0f-feed", status=503, body=b"<b>busy</b>",
                 content_type="text/plain",
                 headers={"Retry-After": "5400"})
    server.route("/calm.xml", body=RSS)
    server.route("/gone.xml", status=404, body=b"no such feed", content_type="text/plain")
    rt = Runtime.open(load_config(config))
    try:
        start = utcnow()
        await poll_all(rt, now=start)
        make_editor(rt)
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000"
                                     ) as client:
            assert (await login(client)).status_code == 303
            page = (await client.get("/dashboard/channels")).text
    finally:
        await rt.close()
    rows = {name: row for name, _, row in re.findall(
        r'<tr data-source="([^"]+)" data-state="([^"]+)">(.*?)</tr>', page, re.S)}
    states = dict(re.findall(r'<tr data-source="([^"]+)" data-state="([^"]+)">', page))
    assert states == {"busy": "waiting", "calm": "ok", "broken": "failing"}
    until = (start + timedelta(seconds=5400)).astimezone(JAKARTA)
    assert any(f"not read before {t:%Y-%m-%d %H:%M} WIB" in rows["busy"]
               for t in (until, until - timedelta(minutes=1))), rows["busy"]
    assert "HTTP 503" in rows["busy"]
    assert "404" in rows["broken"]
    # the feed's password and token are in no line an editor sees
    assert "s3cret" not in page and "k3y-0f-feed" not in page
    assert "reader:***@" in rows["busy"] and "?token=*** answered HTTP 503" in rows["busy"]
    assert f"{server.url('/busy.xml')}?…" in rows["busy"]
    assert ">1</td>" in rows["calm"]  # one article stored from it


def asyncio_close(rt: Runtime) -> None:
    asyncio.run(rt.close())


def test_fetch_names_a_failing_feed_without_its_password_or_token(
        server: FeedServer, write_config: Callable[..., Path],
        run_cli: Callable[..., CompletedProcess[str]]) -> None:
    url = server.url("/gone.xml").replace("http://", "http://reader:s3cret-pw@")
    config = write_config(f"""\
sources:
  - name: desk
    type: feed
    url: {url}?access_token=t0ken-of-desk
channels:
  - name: files
    type: outbox
    path: outbox/
""")
    result = run_cli("--config", config, "fetch")
    assert result.returncode == 1
    said = result.stdout + result.stderr
    assert "answered HTTP 404" in said and "reader:***@" in said
    assert "s3cret-pw" not in said and "t0ken-of-desk" not in said
    listed = run_cli("--config", config, "sources", "list", "--json")
    assert "s3cret-pw" not in listed.stdout and "t0ken-of-desk" not in listed.stdout
    assert json.loads(listed.stdout)[0]["state"] == "failing"

    rt = Runtime.open(load_config(config))  # as an earlier release stored it, unmasked,
    try:                                   # with the password of before
        with rt.store.session() as session:
            session.get_one(SourceStateRow, "desk").last_error = \
                f"{url.replace('s3cret-pw', 'old-pw')} answered HTTP 401 Unauthorized"
    finally:
        asyncio_close(rt)
    listed = run_cli("--config", config, "sources", "list", "--json")
    assert json.loads(listed.stdout)[0]["last_error"] == \
        f"{url.replace('s3cret-pw', '***')} answered HTTP 401 Unauthorized"
