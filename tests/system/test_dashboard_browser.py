"""The dashboard and the subscriber pages in a real browser: Debian's chromium, headless, driven
by Playwright, against a real `distributor serve` process on a real SQLite file, with a real
SMTP server (aiosmtpd) catching the mail and an outbox channel to push to.

Skipped with the reason when chromium or Playwright is missing, except under CI=true (then
they fail). Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.cli import run_in_process
from support.smtp_server import SmtpServer
from support.web import (
    PASSWORD,
    ServeProcess,
    add_article,
    channels_yaml,
    free_port,
    serve_env,
)

from distributor.configfile import load_config
from distributor.runtime import Runtime
from distributor.store.models import Delivery, Subscriber

# one served site and browser for the module: pytest -n runs its tests on one worker
# (tests/conftest.py: ONE_WORKER)
pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("DISTRIBUTOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
TIMEOUT = 15_000  # ms


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"chromium is not installed at {CHROMIUM} (`make browser` installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if problem:
        if _in_ci():
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)


# --------------------------------------------------------------------------- the site


class Site:
    def __init__(self, folder: Path, smtp: SmtpServer, port: int):
        self.folder, self.smtp, self.port = folder, smtp, port
        self.url = f"http://127.0.0.1:{port}"
        self.outbox = folder / "outbox"
        self.config = folder / "channels.yaml"
        self.config.write_text(f"""\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
web:
  base_url: {self.url}
  secret_key: browser-test-secret
database: sqlite:///{folder / "distributor.db"}
""" + channels_yaml(smtp.port, self.outbox), encoding="utf-8")
        self.rt = Runtime.open(load_config(self.config))
        self.articles: dict[str, int] = {}

    def delivery(self, article: str, channel: str) -> Delivery | None:
        with self.rt.store.session() as session:
            return session.scalar(select(Delivery).where(
                Delivery.article_id == self.articles[article], Delivery.channel == channel))

    def mail_to(self, address: str, containing: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for received in self.smtp.for_recipient(address):
                body = received.message().get_body(("plain",))
                text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
                if containing in text:
                    return str(text)
            time.sleep(0.1)
        raise AssertionError(f"no mail to {address} with {containing!r}: "
                             f"{self.smtp.recipients()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _need_browser()
    folder = tmp_path_factory.mktemp("browser-site")
    with SmtpServer() as smtp:
        site = Site(folder, smtp, free_port())
        added = run_in_process("--config", site.config, "editors", "add", "editor",
                               "--password-stdin", input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        now = datetime.now(UTC)
        for title, ago in (("Gempa M5,6 guncang Cianjur, warga diminta waspada", 200),
                           ("Rupiah menguat ke Rp15.400 per dolar AS", 120),
                           ("Timnas Indonesia menang 2-0 atas Vietnam", 45),
                           ("Presiden resmikan Bendungan Jlantah di Karanganyar", 8)):
            site.articles[title.split()[0]] = add_article(
                site.rt, title, ago=timedelta(minutes=ago),
                lede=f"{title}. Pewarta melaporkan dari lokasi pada hari ini. " * 3)
        with site.rt.store.session() as session:  # some history for the list to show
            session.add(Delivery(article_id=site.articles["Gempa"], channel="telegram",
                                 state="sent", remote_id="1204", sent_at=now))
            session.add(Delivery(article_id=site.articles["Gempa"], channel="x", state="sent",
                                 remote_id="1790000000000000001", sent_at=now))
            session.add(Delivery(article_id=site.articles["Rupiah"], channel="x",
                                 state="failed", last_error="403 Forbidden: duplicate content"))
            session.add(Delivery(article_id=site.articles["Timnas"], channel="telegram",
                                 state="unknown", last_error="timeout after sending"))
        server = ServeProcess(site.config, site.port, serve_env(), folder / "serve.log").start()
        try:
            yield site
        finally:
            server.stop()
            site.rt.store.dispose()
            log = server.log()
            assert PASSWORD not in log, "the password was logged"


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    contexts = []

    def make(locale: str = "en-US") -> Any:
        context = browser.new_context(base_url=site.url, locale=locale,
                                      viewport={"width": 1360, "height": 900})
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page: Any, password: str = PASSWORD) -> None:
    page.fill("#username", "editor")
    page.fill("#password", password)
    page.click("button:has-text('Log in')")


@pytest.fixture
def editor_page(new_page: Callable[..., Any]) -> Any:
    page = new_page()
    page.goto("/login")
    log_in(page)
    page.wait_for_url("**/dashboard/")
    return page


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


# --------------------------------------------------------------------------- the tests


def test_log_in_and_see_the_articles(new_page: Callable[..., Any], site: Site) -> None:
    from playwright.sync_api import expect

    page = new_page()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard%2F$"))
    log_in(page, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    log_in(page)
    expect(page).to_have_url(f"{site.url}/dashboard/")
    expect(page.get_by_role("heading", name="Articles")).to_be_visible()
    rows = page.locator("#articles tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Presiden resmikan Bendungan")  # newest first
    gempa = page.locator(f"tr[data-article='{site.articles['Gempa']}']")
    expect(gempa.locator("td[data-channel='telegram'] a")).to_have_attribute(
        "href", "https://t.me/rinewsportal/1204")
    expect(gempa.locator("td[data-channel='x'] a")).to_have_attribute(
        "href", "https://x.com/i/web/status/1790000000000000001")
    cookie = next(c for c in page.context.cookies() if c["name"] == "distributor_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shot(page, "dashboard.png")

    page.fill("input[name=q]", "rupiah")
    page.click("button:has-text('Filter')")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Rupiah menguat")


def test_push_to_the_outbox_and_watch_the_state_change(editor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = editor_page
    page.click("text=Presiden resmikan Bendungan")
    expect(page.locator("#title")).to_have_text(
        "Presiden resmikan Bendungan Jlantah di Karanganyar")
    files_row = page.locator("#channels tr[data-channel='files']")
    expect(files_row).to_contain_text("not requested")
    expect(page.locator(".preview-chat .bubble b").first).to_contain_text("Presiden")
    expect(page.locator(".preview-thread .post")).not_to_have_count(0)
    expect(page.locator(".preview-email iframe")).to_have_attribute("sandbox", "")
    mail = page.frame_locator(".preview-email iframe")
    expect(mail.locator("body")).to_contain_text("Presiden resmikan Bendungan")
    for box in page.locator("input[type=checkbox][name=channel]").all():
        box.uncheck()
    page.check("input[name=channel][value=files]")
    page.click("button:has-text('Push now')")
    expect(page.get_by_role("status")).to_contain_text("files: queued, sending now")
    expect(files_row.locator(".state")).to_have_text("sent", timeout=TIMEOUT)
    page.locator(".preview-email iframe").scroll_into_view_if_needed()  # paint the mail
    shot(page, "article.png")
    delivery = site.delivery("Presiden", "files")
    assert delivery is not None and delivery.state == "sent"
    assert delivery.requested_by == "dashboard:editor"
    assert list((site.outbox / "files").glob(f"{site.articles['Presiden']}-*.json"))
    assert site.delivery("Presiden", "telegram") is None  # only what was chosen

    page.click("text=← Articles")
    row = page.locator(f"tr[data-article='{site.articles['Presiden']}']")
    expect(row.locator("td[data-channel='files']")).to_contain_text("sent")


def test_a_post_without_the_csrf_token_is_refused(editor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = editor_page
    page.goto(f"/dashboard/articles/{site.articles['Rupiah']}")
    page.locator("form[action$='/act'] input[name=csrf]").evaluate("el => el.remove()")
    for box in page.locator("input[type=checkbox][name=channel]").all():
        box.uncheck()
    page.check("input[name=channel][value=files]")
    with page.expect_response(lambda r: r.url.endswith("/act")) as answer:
        page.click("button:has-text('Push now')")
    assert answer.value.status == 403
    expect(page.get_by_role("heading")).to_have_text("Request refused (CSRF check)")
    assert site.delivery("Rupiah", "files") is None


def test_subscribe_confirm_and_unsubscribe(new_page: Callable[..., Any],
                                           editor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    reader = new_page(locale="id-ID")
    reader.goto("/subscribe")
    expect(reader.get_by_role("heading")).to_have_text("Berlangganan")
    shot(reader, "subscribe.png")
    reader.fill("#email", "pembaca@example.org")
    reader.click("button:has-text('Berlangganan')")
    expect(reader.get_by_role("heading")).to_have_text("Periksa kotak masuk Anda")

    mail = site.mail_to("pembaca@example.org", "/confirm/")
    confirm = re.search(rf"{re.escape(site.url)}/confirm/\S+", mail)
    assert confirm, mail
    reader.goto(confirm.group(0))
    expect(reader.get_by_role("heading")).to_have_text("Konfirmasi langganan Anda")
    reader.click("button:has-text('Ya, daftarkan saya')")
    expect(reader.get_by_role("heading")).to_have_text("Anda sudah berlangganan")
    with site.rt.store.session() as session:
        assert session.scalar(select(Subscriber.state)) == "confirmed"

    # the editor sends the digest; its mail carries the unsubscribe link
    editor = editor_page
    editor.click("text=Digests")
    digest = editor.locator(".digest[data-channel='daily']")
    expect(digest).to_contain_text("1 confirmed subscriber")
    expect(digest.locator(".schedule")).to_contain_text("Every day at 06:00 (WIB); next ")
    digest.locator("button:has-text('Send now')").click()
    expect(digest.get_by_role("alertdialog")).to_contain_text(
        "Send this digest now to 1 subscriber?")
    assert not any("/unsubscribe/" in str(m.message()) for m in  # asked, not sent
                   site.smtp.for_recipient("pembaca@example.org"))
    digest.locator("button:has-text('Send to 1 subscriber')").click()
    expect(editor.get_by_role("status")).to_contain_text("daily: the digest is being sent")
    mail = site.mail_to("pembaca@example.org", "/unsubscribe/")
    assert "Presiden resmikan Bendungan" in mail
    editor.reload()
    expect(digest.locator("table").last).to_contain_text("sent")

    leave = re.search(rf"{re.escape(site.url)}/unsubscribe/\S+", mail)
    assert leave, mail
    reader.goto(leave.group(0))
    reader.click("button:has-text('Berhenti berlangganan')")
    expect(reader.get_by_role("heading")).to_have_text("Anda sudah berhenti berlangganan")
    expect(reader.get_by_role("link", name="Berubah pikiran? Berlangganan lagi")).to_be_visible()
    with site.rt.store.session() as session:
        assert session.scalar(select(Subscriber.state)) == "unsubscribed"

    editor.click("text=Subscribers")
    counts = editor.locator("#counts tr[data-channel='daily']")
    expect(counts.locator("td[data-state='unsubscribed']")).to_have_text("1")
    expect(counts.locator("td[data-state='confirmed']")).to_have_text("0")


def test_a_state_in_flight_updates_in_place_and_keeps_what_the_editor_is_typing(
        editor_page: Any, site: Site) -> None:
    """Issue 19.2: the page used to reload every 2 s while a delivery was pending, wiping the
    search box, the ticked channels and the schedule an editor was typing."""
    from playwright.sync_api import expect

    from distributor.ledger.deliveries import record

    page = editor_page
    article_id = site.articles["Timnas"]
    with site.rt.store.session() as session:
        d = Delivery(article_id=article_id, channel="files", state="pending")
        session.add(d)
        session.flush()
        delivery_id = d.id
    page.goto(f"/dashboard/articles/{article_id}")
    files_row = page.locator("#channels tr[data-channel='files']")
    expect(files_row.locator(".state")).to_have_text("pending")
    page.evaluate("window.__stayed = 'the same page'")
    page.check("input[name=channel][value=x]")
    page.fill("input[name=at]", "2030-01-02T07:30")
    with site.rt.store.session() as session:
        record(session, session.get_one(Delivery, delivery_id), "sent", "by the test")
    expect(files_row.locator(".state")).to_have_text("sent", timeout=TIMEOUT)
    assert page.evaluate("window.__stayed") == "the same page"  # no reload
    assert page.is_checked("input[name=channel][value=x]")
    assert page.input_value("input[name=at]") == "2030-01-02T07:30"
    expect(page.locator("html")).to_have_attribute("data-live-done", "1")  # polling stopped


def test_every_dashboard_page_fits_a_phone_and_its_actions_are_reachable(
        new_page: Callable[..., Any], site: Site) -> None:
    """Issue 19.7: at 390 px the articles list was 815 px wide and the article page 501 px,
    hiding the actions."""
    from playwright.sync_api import expect

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login")
    log_in(page)
    page.wait_for_url("**/dashboard/")
    article = f"/dashboard/articles/{site.articles['Rupiah']}"
    for path in ("/dashboard/", article, "/dashboard/digests", "/dashboard/subscribers",
                 "/dashboard/channels"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 391)
            .slice(0, 6).map(e => e.tagName + '.' + e.className + ' ' +
                             Math.round(e.getBoundingClientRect().right))""")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone: {wide}"
    page.goto(article)
    for name in ("Push now", "Hold", "Schedule"):
        button = page.locator(f"form[action$='/act'] button:has-text('{name}')")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
    shot(page, "article-phone.png")


def test_the_confirmation_mail_fits_a_phone(new_page: Callable[..., Any], site: Site) -> None:
    """Issue 19.8: the confirmation mail's long link overflowed a 390 px screen."""
    import httpx

    address = "telepon@example.org"
    answer = httpx.post(f"{site.url}/subscribe", data={"email": address, "channel": "daily"})
    assert answer.status_code == 200
    site.mail_to(address, "/confirm/")
    (received,) = site.smtp.for_recipient(address)
    html = received.message().get_body(("html",)).get_content()  # type: ignore[union-attr]
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_content(html)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the confirmation mail is {width} px wide on a 390 px phone"


def test_a_paused_channel_shows_on_every_page_and_resumes_after_a_confirmation(
        editor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    from distributor.store.models import ChannelState

    page = editor_page
    with site.rt.store.session() as session:
        session.merge(ChannelState(channel="telegram", paused_reason="Telegram refused the "
                                   "bot token (401 Unauthorized)"))
    page.goto("/dashboard/digests")
    expect(page.locator(".schedule").first).to_contain_text("Every day at 06:00 (WIB)")
    shot(page, "digests.png")
    page.goto("/dashboard/")
    expect(page.get_by_role("alert")).to_contain_text("telegram (Telegram refused the bot")
    page.click("header nav >> text=Channels")
    row = page.locator("tr[data-channel='telegram']")
    expect(row).to_have_attribute("data-state", "paused")
    row.locator("button:has-text('Resume')").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Resume telegram?")
    shot(page, "channels.png")
    page.locator("button:has-text('Resume telegram')").click()
    expect(page.get_by_role("status")).to_contain_text("telegram: resumed")
    expect(page.locator("tr[data-channel='telegram']")).to_have_attribute("data-state",
                                                                          "active")
    expect(page.get_by_role("alert")).to_have_count(0)
