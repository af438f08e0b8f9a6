"""The editor dashboard through httpx's ASGI transport on a real SQLite file (and the real
PostgreSQL where the queries differ): logins, sessions, CSRF, rate limits, escaping, and
every action an editor takes, checked in the ledger and on the page."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from support.smtp_server import SmtpServer
from support.web import PASSWORD, add_article, channels_yaml, csrf_of, login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.interfaces.web.auth import FREE_FAILURES_PER_CLIENT_ACCOUNT, LoginLimits
from distributor.ledger.deliveries import record
from distributor.ledger.subscribers import add_subscriber
from distributor.runtime import Runtime
from distributor.store.models import (
    Delivery,
    DeliveryPart,
    Digest,
    DigestPick,
    EmailSend,
    FanoutRun,
    Subscriber,
    WebSession,
)

BASE = "http://localhost:8000"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def make_rt(write_config: Callable[..., Path], smtp: SmtpServer, tmp_path: Path
            ) -> Iterator[Callable[..., Runtime]]:
    opened: list[Runtime] = []

    def make(database: str | None = None, base_url: str = BASE) -> Runtime:
        path = write_config(channels_yaml(smtp.port, tmp_path / "outbox"), database=database)
        text = path.read_text().replace("base_url: http://localhost:8000",
                                        f"base_url: {base_url}")
        path.write_text(text)
        rt = Runtime.open(load_config(path))
        opened.append(rt)
        make_editor(rt)
        return rt

    yield make
    for rt in opened:
        rt.store.dispose()


@pytest.fixture
def rt(make_rt: Callable[..., Runtime]) -> Runtime:
    return make_rt()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


@pytest.fixture
async def editor(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await login(client)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/"
    return client


async def idle(client: httpx.AsyncClient) -> None:
    await client.app.state.dashboard.idle()  # type: ignore[attr-defined]


def delivery(rt: Runtime, article_id: int, channel: str) -> Delivery | None:
    with rt.store.session() as session:
        return session.scalar(select(Delivery).where(Delivery.article_id == article_id,
                                                     Delivery.channel == channel))


async def post_form(client: httpx.AsyncClient, page: str, action: str,
                    data: dict[str, Any]) -> httpx.Response:
    """POST a form of ``page`` the way the browser would: with the page's CSRF token."""
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf": token, **data})


# --------------------------------------------------------------------------- access


DASHBOARD_PAGES = ["/dashboard/", "/dashboard/articles/1", "/dashboard/digests",
                   "/dashboard/subscribers", "/dashboard/subscribers.csv"]
DASHBOARD_POSTS = ["/dashboard/articles/1/act", "/dashboard/articles/1/digest",
                   "/dashboard/deliveries/1/retry", "/dashboard/deliveries/1/resolve",
                   "/dashboard/digests/daily/send", "/logout"]


async def test_every_dashboard_route_needs_a_login(client: httpx.AsyncClient,
                                                   rt: Runtime) -> None:
    article_id = add_article(rt, "Gempa di Cianjur")
    assert article_id == 1
    for path in DASHBOARD_PAGES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=%2Fdashboard"), path
    for path in DASHBOARD_POSTS:
        response = await client.post(path, data={"action": "push", "channel": "files"})
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/login"), path
    assert delivery(rt, article_id, "files") is None  # nothing happened
    client.cookies.set("distributor_session", "made-up")
    assert (await client.get("/dashboard/")).status_code == 303


async def test_login_session_cookie_and_logout(client: httpx.AsyncClient, rt: Runtime) -> None:
    form = await client.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text
    wrong = await client.post("/login", data={"username": "editor", "password": "nope-nope",
                                              "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert "distributor_session" not in client.cookies

    response = await login(client, next_="/dashboard/subscribers")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/subscribers"
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("distributor_session="))
    flags = {p.strip().lower() for p in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # the site is http: a Secure cookie would never come back
    value = client.cookies["distributor_session"]
    with rt.store.session() as session:  # only a digest of the cookie is stored
        assert session.get(WebSession, value) is None
        assert session.scalar(select(WebSession.id)) is not None

    page = await client.get("/dashboard/")
    assert page.status_code == 200 and "editor" in page.text and "Log out" in page.text

    logout = await post_form(client, "/dashboard/", "/logout", {})
    assert logout.status_code == 303 and logout.headers["location"] == "/login"
    client.cookies.set("distributor_session", value)
    assert (await client.get("/dashboard/")).status_code == 303  # the old cookie is dead
    with rt.store.session() as session:
        assert session.scalar(select(WebSession.id)) is None


async def test_the_cookie_is_secure_when_the_site_is_https(
        make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt(base_url="https://news.example")
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="https://news.example") as c:
        response = await login(c)
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("distributor_session="))
    assert "secure" in {p.strip().lower() for p in cookie.split(";")}


async def test_login_attempts_are_rate_limited_and_passwords_never_logged(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # time stands still for the throttle: the wait after the last failure is not yet over
    client.app.state.dashboard.limits = LoginLimits(clock=lambda: 1000.0)  # type: ignore[attr-defined]
    for i in range(FREE_FAILURES_PER_CLIENT_ACCOUNT + 1):
        wrong = await login(client, password=f"guess-number-{i}")
        assert wrong.status_code == 401
    blocked = await login(client)  # the right password, but too soon
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1
    assert "distributor_session" not in client.cookies
    assert "guess-number" not in caplog.text and PASSWORD not in caplog.text
    assert "failed login for 'editor'" in caplog.text


async def test_a_post_without_the_csrf_token_is_refused(editor: httpx.AsyncClient,
                                                        rt: Runtime) -> None:
    article_id = add_article(rt, "Banjir Semarang")
    url = f"/dashboard/articles/{article_id}/act"
    for data in ({"action": "push", "channel": "files"},
                 {"action": "push", "channel": "files", "csrf": "forged-token"}):
        refused = await editor.post(url, data=data)
        assert refused.status_code == 403
        assert "Request refused (CSRF check)" in refused.text
    other_site = await editor.post(url, headers={"origin": "https://evil.example"}, data={
        "action": "push", "channel": "files",
        "csrf": csrf_of((await editor.get("/dashboard/")).text)})
    assert other_site.status_code == 403
    assert delivery(rt, article_id, "files") is None
    # the login form has its own token (bound to a cookie set with the form)
    editor.cookies.clear()
    no_token = await editor.post("/login", data={"username": "editor", "password": PASSWORD})
    assert no_token.status_code == 403 and "distributor_session" not in editor.cookies


async def test_titles_and_messages_are_escaped(editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id = add_article(
        rt, "<script>alert('title')</script> Harga BBM",
        lede="Harga <b>naik</b> <img src=x onerror=alert(1)> & <a href=\"javascript:x\">turun</a>")
    listing = await editor.get("/dashboard/", params={"q": "BBM"})
    assert "&lt;script&gt;alert(" in listing.text and "<script>" not in listing.text
    page = await editor.get(f"/dashboard/articles/{article_id}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(" in page.text
    assert "onerror=alert(1)>" not in page.text
    assert '<a href="javascript' not in page.text.lower()
    assert '&lt;a href="javascript:x"&gt;turun' in page.text  # shown as text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    policy = dict(part.strip().split(" ", 1) for part in
                  page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"  # only the dashboard's own live.js, no inline


def test_the_telegram_bubble_keeps_only_telegram_tags() -> None:
    from distributor.interfaces.web.previews import telegram_html, x_html

    shown = str(telegram_html('<b>Judul</b>\n<i>x</i> <a href="https://a.example/?q=1&amp;r=2">'
                              'baca</a> <a href="javascript:alert(1)">x</a> <img src=x '
                              'onerror=alert(1)><script>alert(2)</script><u>open'))
    assert "<b>Judul</b><br>" in shown and "<i>x</i>" in shown
    assert '<a href="https://a.example/?q=1&amp;r=2"' in shown
    assert "javascript" not in shown and "<a>x</a>" in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown and "<img" not in shown
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in shown
    assert shown.endswith("<u>open</u>")  # an unclosed tag is closed inside the bubble
    post = str(x_html('Gempa <b> #Cianjur https://rinews.example/berita/gempa-cianjur-2024-abc'))
    assert "&lt;b&gt;" in post and '<span class="x-tag">#Cianjur</span>' in post
    assert '<a href="https://rinews.example/berita/gempa-cianjur-2024-abc"' in post


# --------------------------------------------------------------------------- articles


async def test_articles_newest_first_with_filters_search_and_live_links(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    old = add_article(rt, "Kurs rupiah melemah", ago=timedelta(hours=3), source="portal")
    new = add_article(rt, "Timnas menang 2-0", ago=timedelta(minutes=1))
    with rt.store.session() as session:
        for article_id, channel, remote in ((old, "telegram", "42"), (old, "x", "1790001"),
                                            (new, "files", "/tmp/x.json")):
            d = Delivery(article_id=article_id, channel=channel, state="sent",
                         remote_id=remote, sent_at=datetime.now(UTC))
            session.add(d)
        session.add(Delivery(article_id=new, channel="telegram", state="failed",
                             last_error="Bad Request: chat not found"))
    page = await editor.get("/dashboard/")
    text = page.text
    assert text.index("Timnas menang") < text.index("Kurs rupiah")  # newest first
    assert 'href="https://t.me/rinewsportal/42"' in text
    assert 'href="https://x.com/i/web/status/1790001"' in text
    assert "chat not found" in text  # the reason is on the failed cell

    portal = await editor.get("/dashboard/", params={"source": "portal"})
    assert "Kurs rupiah" in portal.text and "Timnas menang" not in portal.text
    failed = await editor.get("/dashboard/", params={"state": "failed"})
    assert "Timnas menang" in failed.text and "Kurs rupiah" not in failed.text
    found = await editor.get("/dashboard/", params={"q": "rupiah"})
    assert "Kurs rupiah" in found.text and "Timnas menang" not in found.text
    wildcard = await editor.get("/dashboard/", params={"q": "%"})
    assert "No articles match" in wildcard.text


async def test_push_now_sends_through_the_ledger_and_the_page_shows_it(
        editor: httpx.AsyncClient, rt: Runtime, tmp_path: Path) -> None:
    article_id = add_article(rt, "Presiden resmikan bendungan")
    page = f"/dashboard/articles/{article_id}"
    response = await post_form(editor, page, f"{page}/act",
                               {"action": "push", "channel": "files"})
    assert response.status_code == 303 and response.headers["location"] == page
    await idle(editor)
    d = delivery(rt, article_id, "files")
    assert d is not None and d.state == "sent" and d.requested_by == "dashboard:editor"
    assert list((tmp_path / "outbox" / "files").glob(f"{article_id}-*.json"))
    shown = await editor.get(page)
    assert "files: queued, sending now" in shown.text  # the flash, once
    row = re.search(r'<tr data-channel="files"[^>]*>.*?</tr>', shown.text, re.S)
    assert row and 'class="state state-sent"' in row.group(0)
    assert "files: queued" not in (await editor.get(page)).text

    again = await post_form(editor, page, f"{page}/act", {"action": "push", "channel": "files"})
    assert again.status_code == 303
    assert "already published" in (await editor.get(page)).text


async def test_schedule_in_the_site_timezone_and_hold(editor: httpx.AsyncClient,
                                                      rt: Runtime) -> None:
    article_id = add_article(rt, "Jadwal mudik")
    page = f"/dashboard/articles/{article_id}"
    when = (datetime.now(rt.config.site.tz) + timedelta(days=1)).replace(second=0,
                                                                          microsecond=0)
    await post_form(editor, page, f"{page}/act", {
        "action": "schedule", "channel": "files", "at": when.strftime("%Y-%m-%dT%H:%M")})
    d = delivery(rt, article_id, "files")
    assert d is not None and d.state == "pending"
    assert d.next_attempt_at == when.astimezone(UTC)  # Asia/Jakarta, not UTC
    shown = await editor.get(page)
    assert "scheduled for" in shown.text and 'state-scheduled' in shown.text

    past = await post_form(editor, page, f"{page}/act", {
        "action": "schedule", "channel": "telegram", "at": "2020-01-01T10:00"})
    assert past.status_code == 303
    assert "has passed" in (await editor.get(page)).text
    assert delivery(rt, article_id, "telegram") is None

    await post_form(editor, page, f"{page}/act", {"action": "hold", "channel": "x"})
    held = delivery(rt, article_id, "x")
    assert held is not None and held.state == "held"
    assert "is held on x" in (await editor.get(page)).text


async def test_retry_a_failure_and_resolve_unknowns(editor: httpx.AsyncClient,
                                                    rt: Runtime) -> None:
    first = add_article(rt, "Satu")
    second = add_article(rt, "Dua")
    third = add_article(rt, "Tiga")
    with rt.store.session() as session:
        rows = {}
        for article_id, state in ((first, "failed"), (second, "unknown"), (third, "unknown")):
            d = Delivery(article_id=article_id, channel="files", state="pending")
            session.add(d)
            session.flush()
            record(session, d, state, "timeout after sending")
            d.last_error = "no answer from the platform"
            rows[article_id] = d.id

    page = await editor.get(f"/dashboard/articles/{first}")
    assert "Retry now" in page.text and "Mark as published" in page.text  # a failed row too
    await post_form(editor, f"/dashboard/articles/{first}",
                    f"/dashboard/deliveries/{rows[first]}/retry", {})
    await idle(editor)
    assert delivery(rt, first, "files").state == "sent"  # type: ignore[union-attr]

    page = await editor.get(f"/dashboard/articles/{second}")
    assert "Mark as published" in page.text and "resend" in page.text
    refused = await post_form(editor, f"/dashboard/articles/{second}",
                              f"/dashboard/deliveries/{rows[second]}/retry", {})
    assert refused.status_code == 303  # without force an unknown is not sent again
    assert "may already have been published" in (await editor.get(
        f"/dashboard/articles/{second}")).text
    assert delivery(rt, second, "files").state == "unknown"  # type: ignore[union-attr]
    await post_form(editor, f"/dashboard/articles/{second}",
                    f"/dashboard/deliveries/{rows[second]}/resolve",
                    {"outcome": "sent", "remote_id": "777"})
    d = delivery(rt, second, "files")
    assert d is not None and d.state == "sent" and d.remote_id == "777"

    asked = await post_form(editor, f"/dashboard/articles/{third}",
                            f"/dashboard/deliveries/{rows[third]}/retry", {"force": "1"})
    assert asked.status_code == 200 and "Post it again on files?" in asked.text
    await idle(editor)
    assert delivery(rt, third, "files").state == "unknown"  # asked, not sent  # type: ignore[union-attr]
    await editor.post(f"/dashboard/deliveries/{rows[third]}/retry",
                      data={"csrf": csrf_of(asked.text), "force": "1", "confirm": "yes"})
    await idle(editor)
    assert delivery(rt, third, "files").state == "sent"  # type: ignore[union-attr]


async def test_previews_side_by_side(editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id = add_article(rt, "Gunung Semeru erupsi lagi",
                             lede="Gunung Semeru kembali erupsi pada Sabtu pagi. " * 12)
    page = await editor.get(f"/dashboard/articles/{article_id}")
    text = page.text
    for kind in ("chat", "thread", "email", "text"):  # the channels' preview_style
        assert f'class="card preview preview-{kind}"' in text, kind
    assert '<div class="bubble">' in text and "<b>Gunung Semeru erupsi lagi</b>" in text
    assert text.count('<div class="post">') >= 2  # a long lede is a thread
    assert re.search(r'<div class="count">\d+/280</div>', text)
    frame = re.search(r'<iframe sandbox="" [^>]*srcdoc="([^"]*)"', text)
    assert frame and "&lt;html" in frame.group(1).lower()  # the mail, escaped into srcdoc


# --------------------------------------------------------------------------- digests


async def test_add_and_remove_from_the_next_digest_and_its_progress(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    old = add_article(rt, "Berita lama yang penting", ago=timedelta(days=3))
    new = add_article(rt, "Berita baru hari ini")
    digests = await editor.get("/dashboard/digests")
    assert "Berita baru hari ini" in digests.text and "Berita lama" not in digests.text
    assert "Next digest: 1 article" in digests.text

    page = f"/dashboard/articles/{old}"
    assert "Add to next digest" in (await editor.get(page)).text
    await post_form(editor, page, f"{page}/digest", {"channel": "daily", "pick": "add"})
    await post_form(editor, f"/dashboard/articles/{new}", f"/dashboard/articles/{new}/digest",
                    {"channel": "daily", "pick": "remove", "back": "/dashboard/digests"})
    with rt.store.session() as session:
        picks = {(p.article_id, p.include, p.by) for p in session.scalars(select(DigestPick))}
    assert picks == {(old, True, "dashboard:editor"), (new, False, "dashboard:editor")}
    digests = await editor.get("/dashboard/digests")
    assert "Berita lama yang penting" in digests.text
    assert "Next digest: 1 article" in digests.text
    assert re.search(r"Next digest.*?Berita lama.*?Recent|Next digest.*?Berita lama",
                     digests.text, re.S)

    # a digest being sent shows how far it is
    with rt.store.session() as session:
        subs = [add_subscriber(session, "daily", f"s{i}@example.org", confirmed=True)
                .subscriber for i in range(4)]
        digest = Digest(channel="daily", period="2026-01-01T06:00", state="sending",
                        article_ids=[old], until=datetime.now(UTC))
        session.add(digest)
        session.flush()
        run = FanoutRun(channel="daily", key=f"digest:{digest.id}", digest_id=digest.id,
                        message_hash="x", message={}, nonce="n", state="sending")
        session.add(run)
        session.flush()
        session.add(EmailSend(run_id=run.id, subscriber_id=subs[0].id, state="sent"))
        session.add(EmailSend(run_id=run.id, subscriber_id=subs[1].id, state="bounced"))
    digests = await editor.get("/dashboard/digests")
    assert "2 of 4 subscribers served (50%)" in digests.text
    assert '<meta name="live"' in digests.text  # its progress updates itself (live.js)


async def test_send_the_digest_from_the_dashboard(editor: httpx.AsyncClient, rt: Runtime,
                                                  smtp: SmtpServer) -> None:
    add_article(rt, "Berita untuk pelanggan")
    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
    asked = await post_form(editor, "/dashboard/digests", "/dashboard/digests/daily/send", {})
    assert asked.status_code == 303 and asked.headers["location"].endswith("?confirm=daily")
    page = await editor.get(asked.headers["location"])
    assert "Send this digest now to 1 subscriber?" in page.text
    await idle(editor)
    assert smtp.recipients() == []  # asked, not sent
    response = await editor.post("/dashboard/digests/daily/send",
                                 data={"csrf": csrf_of(page.text), "confirm": "yes"})
    assert response.status_code == 303
    await idle(editor)
    assert smtp.recipients() == ["ana@example.org"]
    page = await editor.get("/dashboard/digests")
    assert "daily: the digest is being sent" in page.text
    assert re.search(r'state-sent">sent</span></td>\s*<td>1</td>', page.text)


# --------------------------------------------------------------------------- subscribers


async def test_subscriber_counts_search_and_csv_export(editor: httpx.AsyncClient,
                                                       rt: Runtime) -> None:
    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
        add_subscriber(session, "daily", "budi@example.org")
        add_subscriber(session, "daily", "=cmd@example.org", confirmed=True)
        cici = add_subscriber(session, "daily", "cici@example.org", confirmed=True).subscriber
        cici.state = "unsubscribed"
    page = await editor.get("/dashboard/subscribers")
    row = re.search(r'<tr data-channel="daily"[^>]*>.*?</tr>', page.text, re.S)
    assert row is not None
    cells = dict(re.findall(r'data-state="(\w+)">(\d+)<', row.group(0)))
    assert cells == {"pending": "1", "confirmed": "2", "unsubscribed": "1", "bounced": "0",
                     "complained": "0"}
    found = await editor.get("/dashboard/subscribers", params={"q": "bud"})
    assert "budi@example.org" in found.text and "ana@example.org" not in found.text

    export = await editor.get("/dashboard/subscribers.csv", params={"state": "confirmed"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["email"] for r in rows) == ["'=cmd@example.org", "ana@example.org"]
    assert {r["state"] for r in rows} == {"confirmed"}


# --------------------------------------------------------------------------- both stores


async def test_the_dashboard_and_metrics_on_both_stores(make_rt: Callable[..., Runtime],
                                                        db_url: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    rt = make_rt(database=db_url)
    app = create_app(rt)
    article_id = add_article(rt, "Ekspor batu bara naik", source="portal")
    add_article(rt, "Suku bunga tetap")
    with rt.store.session() as session:
        created = datetime.now(UTC) - timedelta(seconds=30)
        session.add(Delivery(article_id=article_id, channel="x", state="sent", remote_id="9",
                             created_at=created, sent_at=created + timedelta(seconds=12)))
        d = Delivery(article_id=article_id, channel="telegram", state="unknown")
        session.add(d)
        session.flush()
        session.add(DeliveryPart(delivery_id=d.id, idx=0, remote_id="5"))
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        await login(c)
        listing = await c.get("/dashboard/", params={"q": "BATU", "state": "sent"})
        assert "Ekspor batu bara naik" in listing.text and "Suku bunga" not in listing.text
        assert (await c.get(f"/dashboard/articles/{article_id}")).status_code == 200
        assert (await c.get("/dashboard/digests")).status_code == 200
        metrics = await c.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.text)
               for s in family.samples}
    assert samples[("distributor_store_up", ())] == 1
    assert samples[("distributor_articles_seen_total", (("source", "portal"),))] == 1
    assert samples[("distributor_articles_seen_total", (("source", "newsroom"),))] == 1
    assert samples[("distributor_deliveries", (("channel", "x"), ("state", "sent")))] == 1
    assert samples[("distributor_deliveries",
                    (("channel", "telegram"), ("state", "unknown")))] == 1
    assert samples[("distributor_deliveries", (("channel", "files"), ("state", "sent")))] == 0
    latency = {dict(k)["le"]: v for (n, k), v in samples.items()
               if n == "distributor_delivery_latency_seconds_bucket"}
    assert latency["5.0"] == 0 and latency["15.0"] == 1 and latency["+Inf"] == 1
    assert 11 < samples[("distributor_delivery_latency_seconds_sum",
                         (("channel", "x"),))] < 13
    assert samples[("distributor_subscribers",
                    (("channel", "daily"), ("state", "confirmed")))] == 1


async def test_metrics_show_a_running_digest(client: httpx.AsyncClient, rt: Runtime) -> None:
    with rt.store.session() as session:
        subs = [add_subscriber(session, "daily", f"m{i}@example.org", confirmed=True)
                .subscriber for i in range(3)]
        digest = Digest(channel="daily", period="p", state="sending", article_ids=[],
                        until=datetime.now(UTC))
        session.add(digest)
        session.flush()
        run = FanoutRun(channel="daily", key="k", digest_id=digest.id, message_hash="x",
                        message={}, nonce="n", state="sending")
        session.add(run)
        session.flush()
        session.add(EmailSend(run_id=run.id, subscriber_id=subs[0].id, state="sent"))
        unsub = session.get_one(Subscriber, subs[2].id)
        unsub.state = "unsubscribed"
    text = (await client.get("/metrics")).text
    assert 'distributor_digest_recipients{channel="daily"} 2.0' in text
    assert 'distributor_digest_served{channel="daily",state="sent"} 1.0' in text
    assert 'distributor_digests{channel="daily",state="sending"} 1.0' in text
