"""`distributor serve` against a stranger (issue 15, "nobody let in, nothing leaked"), through
httpx's ASGI transport on a real store: request bodies capped while they stream in, forwarded
headers believed only from trusted proxies, a health answer that says nothing about the
database, safe download names, bounded JSON, failed logins that slow a guesser down without
letting anybody lock an editor out, and one confirmation mail for requests at once."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from support.smtp_server import SmtpServer, email_channel_yaml
from support.web import PASSWORD, login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.interfaces.web.auth import (
    FREE_FAILURES_PER_ACCOUNT,
    FREE_FAILURES_PER_CLIENT_ACCOUNT,
    LONGEST_ACCOUNT_WAIT,
    LoginLimits,
)
from distributor.interfaces.web.guards import WEBHOOK_BODY
from distributor.interfaces.web.subscriber_pages import BOUNCE_ITEMS, CLIENT_LIMIT
from distributor.ledger.subscribers import add_subscriber
from distributor.runtime import Runtime
from distributor.store.models import Subscriber

BASE = "http://localhost:8000"
PROXY = "10.0.0.2"
CAP = 64 * 1024
HOOK = {"Authorization": "Bearer hook-secret"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def make_rt(write_config: Callable[..., Path], smtp: SmtpServer
            ) -> Iterator[Callable[..., Runtime]]:
    opened: list[Runtime] = []

    def make(database: str | None = None, web: str = "") -> Runtime:
        path = write_config("channels:\n" + email_channel_yaml(
            smtp, extra="    bounce_secret: hook-secret\n"), database=database)
        path.write_text(path.read_text().replace(
            "  secret_key: test-secret-key\n", "  secret_key: test-secret-key\n" + web))
        rt = Runtime.open(load_config(path))
        opened.append(rt)
        make_editor(rt)
        return rt

    yield make
    for rt in opened:
        rt.store.dispose()


@pytest.fixture
def rt(make_rt: Callable[..., Runtime]) -> Runtime:
    return make_rt(web=f"  trusted_proxies: [{PROXY}]\n")


class Clock:
    """The login throttle's clock: time passes only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def connect(rt: Runtime, clock: Clock) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """A client of one app from a given address (as the server sees the connection)."""
    app = create_app(rt)
    app.state.dashboard.limits = LoginLimits(clock=clock)
    clients: list[httpx.AsyncClient] = []

    def client(address: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url=BASE))
        return clients[-1]

    yield client
    for c in clients:
        await c.aclose()


class Body:
    """A request body of ``size`` bytes streamed in 16 KiB chunks; counts what was read."""

    def __init__(self, size: int, fill: bytes = b"A"):
        self.size, self.fill, self.read = size, fill, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = self.fill * (16 * 1024 // len(self.fill))
        while self.read < self.size:
            self.read += len(chunk)
            yield chunk


# --------------------------------------------------------------------------- request bodies


@pytest.mark.parametrize(("path", "cap"), [
    ("/unsubscribe/some-token", CAP), ("/subscribe", CAP), ("/login", CAP),
    ("/webhooks/bounce", WEBHOOK_BODY)])
async def test_a_huge_body_gets_413_after_reading_no_more_than_the_cap(
        connect: Callable[[str], httpx.AsyncClient], path: str, cap: int) -> None:
    body = Body(8 * 1024 * 1024)  # sent without Content-Length (chunked)

    answer = await connect("203.0.113.7").post(path, content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **HOOK})

    assert answer.status_code == 413 and f"{cap} bytes" in answer.json()["error"]
    assert body.read <= cap + 16 * 1024


async def test_a_body_declared_too_large_is_refused_before_it_is_read(
        connect: Callable[[str], httpx.AsyncClient]) -> None:
    body = Body(1024)

    answer = await connect("203.0.113.7").post("/unsubscribe/some-token", content=body,
                                               headers={"Content-Length": str(10**9)})

    assert answer.status_code == 413 and body.read == 0


async def test_a_one_click_unsubscribe_within_the_cap_still_works(
        connect: Callable[[str], httpx.AsyncClient], rt: Runtime) -> None:
    from distributor.ledger.subscribers import unsubscribe_token
    with rt.store.session() as session:
        row = add_subscriber(session, "daily", "ana@example.org", confirmed=True).subscriber
        token = unsubscribe_token("test-secret-key", "daily", row.id, row.token_key)

    answer = await connect("203.0.113.7").post(f"/unsubscribe/{token}",
                                               content=b"List-Unsubscribe=One-Click")

    assert answer.status_code == 200
    with rt.store.session() as session:
        assert session.scalar(select(Subscriber.state)) == "unsubscribed"


# --------------------------------------------------------------------------- proxies


async def subscribe_from(client: httpx.AsyncClient, i: int, forwarded: str | None
                         ) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await client.post("/subscribe", data={"email": f"u{i}@example.org",
                                                 "channel": "daily"}, headers=headers)


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
        connect: Callable[[str], httpx.AsyncClient]) -> None:
    proxy = connect(PROXY)
    for i in range(CLIENT_LIMIT + 5):  # more than one client may send, each from its address
        answer = await subscribe_from(proxy, i, f"198.51.100.{i}")
        assert answer.status_code == 200
    for i in range(CLIENT_LIMIT):
        await subscribe_from(proxy, 100 + i, "198.51.100.250")
    assert (await subscribe_from(proxy, 200, "198.51.100.250")).status_code == 429


async def test_a_client_that_is_no_trusted_proxy_cannot_choose_its_address(
        connect: Callable[[str], httpx.AsyncClient], caplog: pytest.LogCaptureFixture) -> None:
    stranger = connect("203.0.113.7")
    for i in range(CLIENT_LIMIT):
        assert (await subscribe_from(stranger, i, f"198.51.100.{i}")).status_code == 200
    refused = await subscribe_from(stranger, 99, "198.51.100.99")
    assert refused.status_code == 429
    assert "too many requests from 203.0.113.7" in caplog.text


async def test_without_trusted_proxies_forwarded_headers_count_for_nothing(
        make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt()
    assert rt.config.web.trusted_proxies == []  # the default
    transport = httpx.ASGITransport(app=create_app(rt), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as local:
        for i in range(CLIENT_LIMIT):
            await subscribe_from(local, i, f"198.51.100.{i}")
        assert (await subscribe_from(local, 99, "198.51.100.99")).status_code == 429


def test_a_trusted_proxy_that_is_no_address_is_one_clear_error(
        write_config: Callable[..., Path]) -> None:
    from distributor.config import ConfigErrors
    path = write_config("channels: []\n")
    path.write_text(path.read_text().replace(
        "  secret_key: test-secret-key\n", "  secret_key: k\n  trusted_proxies: [my-proxy]\n"))
    with pytest.raises(ConfigErrors, match=r"web.trusted_proxies.*'my-proxy' is not an address"):
        load_config(path)


# --------------------------------------------------------------------------- what strangers see


async def test_healthz_says_ok_and_nothing_about_the_database(
        connect: Callable[[str], httpx.AsyncClient], rt: Runtime, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    client = connect("203.0.113.7")
    ok = await client.get("/healthz")
    assert ok.status_code == 200 and ok.json() == {"status": "ok"}

    database = tmp_path / "distributor.db"
    shutil.move(database, tmp_path / "moved.db")
    database.mkdir()  # the store cannot be opened any more
    rt.store.engine.dispose()
    down = await client.get("/healthz")

    assert down.status_code == 503 and down.json() == {"status": "unavailable"}
    assert "distributor.db" not in down.text and "sqlite" not in down.text.lower()
    assert "healthz: the store does not answer" in caplog.text  # the reason is for the log


@pytest.mark.parametrize("channel", ['x"; filename="evil.exe', "a\r\nSet-Cookie: s=1",
                                     "berita-ñ-日本", "../../etc/passwd"])
async def test_the_csv_file_name_cannot_be_injected_and_any_name_downloads(
        connect: Callable[[str], httpx.AsyncClient], channel: str) -> None:
    editor = connect("203.0.113.7")
    assert (await login(editor)).status_code == 303

    export = await editor.get("/dashboard/subscribers.csv", params={"channel": channel})

    assert export.status_code == 200
    disposition = export.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+"'
                        r"(; filename\*=UTF-8''[A-Za-z0-9%._~-]+)?", disposition), disposition
    assert "set-cookie" not in export.headers


async def test_deeply_nested_or_huge_bounce_json_is_refused_politely(
        connect: Callable[[str], httpx.AsyncClient]) -> None:
    client = connect("203.0.113.7")
    depth = 200_000
    nested = await client.post("/webhooks/bounce", content=b"[" * depth + b"]" * depth,
                               headers=HOOK)
    assert nested.status_code == 400 and "nested too deeply" in nested.json()["error"]

    many = [{"email": f"u{i}@example.org", "kind": "soft"} for i in range(BOUNCE_ITEMS + 1)]
    too_many = await client.post("/webhooks/bounce", content=json.dumps(many), headers=HOOK)
    assert too_many.status_code == 413 and f"at most {BOUNCE_ITEMS}" in too_many.text


# --------------------------------------------------------------------------- logins


async def test_a_stranger_cannot_lock_an_editor_out(
        connect: Callable[[str], httpx.AsyncClient]) -> None:
    editor = connect("198.51.100.20")
    assert (await login(editor)).status_code == 303  # this browser now knows the account
    editor.cookies.delete("distributor_session")

    # a guesser from many addresses, each a few wrong passwords: slowed down soon
    answers = []
    for n in range(FREE_FAILURES_PER_ACCOUNT + 10):
        stranger = connect(f"203.0.113.{n + 1}")
        for _ in range(FREE_FAILURES_PER_CLIENT_ACCOUNT):
            answers.append((await login(stranger, password="guess")).status_code)
    assert answers[:FREE_FAILURES_PER_ACCOUNT] == [401] * FREE_FAILURES_PER_ACCOUNT
    assert answers[-1] == 429
    assert (await login(stranger, password=PASSWORD)).status_code == 429  # even if right

    assert (await login(editor)).status_code == 303  # the editor's browser gets in at once
    new_browser = connect("198.51.100.21")
    slowed = await login(new_browser)  # a new browser waits a little, never long
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["retry-after"]) <= LONGEST_ACCOUNT_WAIT


async def test_each_failed_login_waits_longer_and_a_wait_always_ends(
        connect: Callable[[str], httpx.AsyncClient], clock: Clock) -> None:
    guesser = connect("198.51.100.30")
    for _ in range(FREE_FAILURES_PER_CLIENT_ACCOUNT):
        assert (await login(guesser, password="guess")).status_code == 401
    waits = []
    for _ in range(5):
        assert (await login(guesser, password="guess")).status_code == 401
        refused = await login(guesser, password=PASSWORD)  # too soon, even when right
        assert refused.status_code == 429 and "Too many failed attempts" in refused.text
        waits.append(int(refused.headers["retry-after"]))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 16]
    assert (await login(guesser)).status_code == 303  # the wait is over: the right one is in


async def test_a_wrong_password_from_one_client_does_not_slow_another(
        connect: Callable[[str], httpx.AsyncClient]) -> None:
    typo = connect("198.51.100.30")
    for _ in range(FREE_FAILURES_PER_CLIENT_ACCOUNT + 1):
        await login(typo, password="wrong password")
    assert (await login(typo)).status_code == 429

    assert (await login(connect("198.51.100.31"))).status_code == 303


# --------------------------------------------------------------------------- confirmations


def test_requests_at_once_claim_one_confirmation_mail(make_rt: Callable[..., Runtime],
                                                      db_url: str) -> None:
    rt = make_rt(database=db_url)
    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org")  # pending, mail claimed now
        session.execute(Subscriber.__table__.update().values(confirmation_sent_at=None))
    first_done, results = threading.Event(), []
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with rt.store.session() as session:  # claims, then holds its transaction open
                results.append(add_subscriber(session, "daily", "ana@example.org")
                               .needs_confirmation)
                first_done.set()
                second_thread.join(timeout=0.5)  # the second runs into the claim meanwhile
        except BaseException as exc:
            errors.append(exc)
            first_done.set()

    def second() -> None:
        first_done.wait()
        try:
            with rt.store.session() as session:
                results.append(add_subscriber(session, "daily", "ana@example.org")
                               .needs_confirmation)
        except BaseException as exc:
            errors.append(exc)

    second_thread = threading.Thread(target=second)
    first_thread = threading.Thread(target=first)
    second_thread.start()  # waits for the first's claim
    first_thread.start()
    first_thread.join()
    second_thread.join()

    assert errors == []
    assert sorted(results) == [False, True]  # one mail, whoever wins
