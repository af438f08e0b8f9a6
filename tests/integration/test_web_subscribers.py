"""The subscriber pages of `distributor serve` (Starlette, through httpx's ASGI transport) with a
real SMTP server: the web form's double opt-in, the confirmation link, the unsubscribe page and
RFC 8058 one-click POST, forged links, the bounce webhook and /healthz."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.ledger.subscribers import add_subscriber, unsubscribe_token
from distributor.runtime import Runtime
from distributor.store.models import Subscriber

SECRET = "test-secret-key"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer, db_url: str) -> Iterator[Runtime]:
    extra = "    bounce_secret: hook-secret\n"
    path = write_config("channels:\n" + email_channel_yaml(smtp, extra=extra), database=db_url)
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


def state(rt: Runtime, email: str) -> str | None:
    with rt.store.session() as session:
        return session.scalar(select(Subscriber.state).where(
            Subscriber.email_key == email.lower()))


def link_in(text: str, path: str) -> str:
    found = re.search(rf"http://localhost:8000(/{path}/[A-Za-z0-9_.\-]+)", text)
    assert found, text
    return found.group(1)


async def test_subscribe_confirm_and_one_click_unsubscribe(
        client: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    form = await client.get("/subscribe")
    assert form.status_code == 200 and 'name="email"' in form.text
    assert "set-cookie" not in form.headers

    bad = await client.post("/subscribe", data={"email": "not an address", "channel": "daily"})
    assert bad.status_code == 400 and "tidak valid" in bad.text

    done = await client.post("/subscribe", data={"email": "Ana@Example.org", "channel": "daily"})
    assert done.status_code == 200 and "Periksa kotak masuk" in done.text
    assert state(rt, "ana@example.org") == "pending"
    assert smtp.recipients() == ["Ana@example.org"]
    mail = smtp.received[0].message()
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    confirm = link_in(text, "confirm")

    page = await client.get(confirm)  # a GET (a link checker) changes nothing
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    assert state(rt, "ana@example.org") == "pending"
    confirmed = await client.post(confirm)
    assert confirmed.status_code == 200 and "sudah berlangganan" in confirmed.text
    assert state(rt, "ana@example.org") == "confirmed"

    again = await client.post("/subscribe", data={"email": "ana@example.org",
                                                  "channel": "daily"})
    assert again.status_code == 200 and smtp.count == 1  # same answer, no second mail

    with rt.store.session() as session:
        row = session.scalars(select(Subscriber)).one()
        token = unsubscribe_token(SECRET, "daily", row.id, row.token_key)
    page = await client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Berhenti berlangganan" in page.text
    assert state(rt, "ana@example.org") == "confirmed"
    one_click = await client.post(
        f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200  # never a redirect, no cookie, no login
    assert "location" not in one_click.headers and "set-cookie" not in one_click.headers
    assert state(rt, "ana@example.org") == "unsubscribed"
    repeat = await client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert repeat.status_code == 200


async def test_forged_tampered_and_expired_links_are_rejected(
        client: httpx.AsyncClient, rt: Runtime) -> None:
    with rt.store.session() as session:
        ana = add_subscriber(session, "daily", "ana@example.org", confirmed=True).subscriber
        budi = add_subscriber(session, "daily", "budi@example.org", confirmed=True).subscriber
    token = unsubscribe_token(SECRET, "daily", ana.id, ana.token_key)
    sid, key, signature = token.split(".")
    for bad in (f"{budi.id}.{key}.{signature}", f"{sid}.{key}.{signature[::-1]}",
                unsubscribe_token("guessed-secret", "daily", ana.id, ana.token_key), "1.2.3",
                "nonsense"):
        assert (await client.post(f"/unsubscribe/{bad}")).status_code == 400
        assert (await client.get(f"/unsubscribe/{bad}")).status_code == 400
        assert (await client.post(f"/confirm/{bad}")).status_code == 400
    assert state(rt, "ana@example.org") == state(rt, "budi@example.org") == "confirmed"


async def test_the_bounce_webhook_needs_the_shared_secret(
        client: httpx.AsyncClient, rt: Runtime) -> None:
    with rt.store.session() as session:
        add_subscriber(session, "daily", "cici@example.org", confirmed=True)
        add_subscriber(session, "daily", "dedi@example.org", confirmed=True)
    body = {"email": "cici@example.org", "kind": "hard", "detail": "550 5.1.1 unknown user"}
    assert (await client.post("/webhooks/bounce", json=body)).status_code == 401
    assert (await client.post("/webhooks/bounce", json=body,
                              headers={"authorization": "Bearer wrong"})).status_code == 401
    assert state(rt, "cici@example.org") == "confirmed"
    auth = {"authorization": "Bearer hook-secret"}
    ok = await client.post("/webhooks/bounce", json=body, headers=auth)
    assert ok.status_code == 200 and ok.json()["updated"] == 1
    assert state(rt, "cici@example.org") == "bounced"
    many = await client.post("/webhooks/bounce", headers=auth, json=[
        {"email": "dedi@example.org", "kind": "complaint"},
        {"email": "nobody@example.org", "kind": "soft"}])
    assert many.json() == {"ok": True, "updated": 1, "unknown": ["nobody@example.org"]}
    assert state(rt, "dedi@example.org") == "complained"
    bad = await client.post("/webhooks/bounce", headers=auth, json={"email": "x@example.org"})
    assert bad.status_code == 400


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
