"""The subscribe form against abuse, and its languages, with a real SMTP server: the per-address
and per-client limits, the honeypot, answers that never tell whether an address is known,
re-subscribing after leaving, and the pages in Indonesian or English."""

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
from distributor.interfaces.web.subscriber_pages import ADDRESS_LIMIT, CLIENT_LIMIT
from distributor.ledger.subscribers import add_subscriber, record_bounce, unsubscribe_token
from distributor.runtime import Runtime
from distributor.store.models import Subscriber


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer) -> Iterator[Runtime]:
    path = write_config("channels:\n" + email_channel_yaml(smtp))
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


async def subscribe(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    return await client.post("/subscribe", data={"email": email, "channel": "daily", **extra})


def visible(html: str) -> str:
    """The page's main text, without the address it repeats."""
    main = re.search(r"<main>(.*)</main>", html, re.S)
    assert main
    return main.group(1)


async def test_one_address_gets_a_few_mails_at_most(client: httpx.AsyncClient,
                                                    smtp: SmtpServer, rt: Runtime) -> None:
    answers = []
    for _ in range(ADDRESS_LIMIT + 3):
        response = await subscribe(client, "victim@example.org")
        answers.append((response.status_code, visible(response.text)))
        # the pending address is not mailed twice within ten minutes either; make every
        # request count by clearing that mark, so only the rate limit stops the mails
        with rt.store.session() as session:
            for row in session.scalars(select(Subscriber)):
                row.confirmation_sent_at = None
    assert len(set(answers)) == 1 and answers[0][0] == 200  # the same answer each time
    assert smtp.recipients() == ["victim@example.org"] * ADDRESS_LIMIT


async def test_one_client_is_slowed_down(client: httpx.AsyncClient, smtp: SmtpServer) -> None:
    for i in range(CLIENT_LIMIT):
        assert (await subscribe(client, f"user{i}@example.org")).status_code == 200
    refused = await subscribe(client, "one-more@example.org")
    assert refused.status_code == 429 and "Terlalu banyak permintaan" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert "one-more@example.org" not in smtp.recipients()


async def test_the_honeypot_catches_robots(client: httpx.AsyncClient, smtp: SmtpServer,
                                           rt: Runtime) -> None:
    robot = await subscribe(client, "robot@example.org", website="http://spam.example")
    human = await subscribe(client, "human@example.org", website="")
    assert robot.status_code == human.status_code == 200
    assert visible(robot.text).replace("robot", "X") == visible(human.text).replace("human",
                                                                                      "X")
    assert smtp.recipients() == ["human@example.org"]
    with rt.store.session() as session:
        assert session.scalars(select(Subscriber.email)).all() == ["human@example.org"]
    form = await client.get("/subscribe")
    assert 'class="hp" aria-hidden="true"' in form.text and 'name="website"' in form.text


async def test_the_answer_never_tells_whether_an_address_is_known(
        client: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    with rt.store.session() as session:
        add_subscriber(session, "daily", "known@example.org", confirmed=True)
        add_subscriber(session, "daily", "bounced@example.org", confirmed=True)
        record_bounce(session, "bounced@example.org", "hard")
    pages = {}
    for name in ("known", "bounced", "unknown"):
        response = await subscribe(client, f"{name}@example.org")
        assert response.status_code == 200
        pages[name] = visible(response.text).replace(name, "X")
    assert pages["known"] == pages["bounced"] == pages["unknown"]
    assert smtp.recipients() == ["unknown@example.org"]


async def test_leave_and_subscribe_again(client: httpx.AsyncClient, rt: Runtime,
                                         smtp: SmtpServer) -> None:
    with rt.store.session() as session:
        row = add_subscriber(session, "daily", "dewi@example.org", confirmed=True).subscriber
        token = unsubscribe_token("test-secret-key", "daily", row.id, row.token_key)
    left = await client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert left.status_code == 200
    link = re.search(r'<a href="(/subscribe\?[^"]+)">([^<]+)</a>', left.text)
    assert link and "Berlangganan lagi" in link.group(2)
    form = await client.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200 and 'value="daily"' in form.text
    again = await subscribe(client, "dewi@example.org")
    assert again.status_code == 200
    assert smtp.recipients() == ["dewi@example.org"]  # a new confirmation: double opt-in
    with rt.store.session() as session:
        assert session.scalar(select(Subscriber.state)) == "pending"
    old_link = await client.get(f"/unsubscribe/{token}")
    assert old_link.status_code == 400  # the old subscription's links died with it


async def test_pages_in_indonesian_or_english(client: httpx.AsyncClient) -> None:
    site_language = await client.get("/subscribe")
    assert "Berlangganan" in site_language.text and 'lang="id"' in site_language.text
    assert 'href="/subscribe?channel=daily&amp;lang=en"' in site_language.text
    english = await client.get("/subscribe", params={"lang": "en"})
    assert "Get RI News Portal's news by email." in english.text.replace("&#39;", "'")
    assert '<html lang="en">' in english.text and 'name="lang" value="en"' in english.text
    browser = await client.get("/subscribe", headers={"accept-language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in browser.text
    indonesian_browser = await client.get("/subscribe",
                                          headers={"accept-language": "id-ID,id;q=0.9"})
    assert '<html lang="id">' in indonesian_browser.text
    answer = await client.post("/subscribe", data={"email": "x@example.org", "channel": "daily",
                                                   "lang": "en"})
    assert "Check your inbox" in answer.text
    bad = await client.post("/subscribe", data={"email": "nope", "channel": "daily",
                                                "lang": "en"})
    assert bad.status_code == 400 and "This is not a valid email address" in bad.text
    invalid = await client.get("/confirm/forged.token.x", params={"lang": "en"})
    assert invalid.status_code == 400 and "This link does not work" in invalid.text
