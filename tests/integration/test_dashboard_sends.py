"""An editor's push never mails a list by accident (issue 19.1): no channel is ticked by
default; a push that includes a mailing list says "to N subscribers" and asks first, and only
the confirmed push reaches the SMTP server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.smtp_server import SmtpServer, email_channel_yaml
from support.web import add_article, channels_yaml, csrf_of, login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.ledger.subscribers import add_subscriber
from distributor.runtime import Runtime

BASE = "http://localhost:8000"
READERS = ["satu@example.org", "dua@example.org", "tiga@example.org"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer, tmp_path: Path
       ) -> Iterator[Runtime]:
    text = channels_yaml(smtp.port, tmp_path / "outbox") + email_channel_yaml(
        smtp, name="breaking", publish="manual")
    runtime = Runtime.open(load_config(write_config(text)))
    make_editor(runtime)
    with runtime.store.session() as session:
        for address in READERS:
            add_subscriber(session, "breaking", address, confirmed=True)
        add_subscriber(session, "breaking", "belum@example.org")  # not confirmed: not counted
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def editor(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        c.app = app  # type: ignore[attr-defined]
        assert (await login(c)).status_code == 303
        yield c


async def test_no_channel_is_ticked_by_default_and_a_list_says_how_many_it_reaches(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id = add_article(rt, "Gempa M6,1 guncang Garut")
    page = (await editor.get(f"/dashboard/articles/{article_id}")).text
    publish = re.search(r'<form method="post" action="/dashboard/articles/\d+/act">.*?</form>',
                        page, re.S)
    assert publish
    boxes = re.findall(r'<input type="checkbox" name="channel"[^>]*>', publish.group(0))
    assert boxes and not any("checked" in box for box in boxes)
    label = re.search(r'value="breaking"> breaking <span[^>]*>\(([^)]*)\)', page)
    assert label and "to 3 subscribers" in label.group(1)


async def test_a_push_to_a_list_asks_first_and_only_the_confirmed_push_mails_it(
        editor: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    article_id = add_article(rt, "Gempa M6,1 guncang Garut")
    page = f"/dashboard/articles/{article_id}"
    asked = await editor.post(f"{page}/act", data={
        "csrf": csrf_of((await editor.get(page)).text), "action": "push",
        "channel": ["files", "breaking"]})
    assert asked.status_code == 200
    assert "Send to 3 subscribers?" in asked.text
    assert "<b>3</b> subscribers of <b>breaking</b>" in asked.text
    await editor.app.state.dashboard.idle()  # type: ignore[attr-defined]
    assert smtp.received == []  # nothing sent yet, not even to the other channel
    assert not list((Path(rt.config.channel("files").path)).rglob("*.json"))  # type: ignore[attr-defined]

    cancel = re.search(r'<a class="button secondary" href="([^"]+)">Cancel</a>', asked.text)
    assert cancel and cancel.group(1) == page
    sent = await editor.post(f"{page}/act", data={
        "csrf": csrf_of(asked.text), "action": "push", "channel": ["files", "breaking"],
        "confirm": "yes"})
    assert sent.status_code == 303
    await editor.app.state.dashboard.idle()  # type: ignore[attr-defined]
    assert sorted(smtp.recipients()) == sorted(READERS)


async def test_a_push_without_a_list_goes_without_asking(
        editor: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    article_id = add_article(rt, "Harga cabai turun")
    page = f"/dashboard/articles/{article_id}"
    sent = await editor.post(f"{page}/act", data={
        "csrf": csrf_of((await editor.get(page)).text), "action": "push", "channel": "files"})
    assert sent.status_code == 303 and sent.headers["location"] == page
    await editor.app.state.dashboard.idle()  # type: ignore[attr-defined]
    outbox = Path(rt.config.channel("files").path)  # type: ignore[attr-defined]
    assert len(list(outbox.rglob(f"{article_id}-*.json"))) == 1
    assert smtp.received == []


async def test_an_unknown_telegram_post_links_to_the_channel_to_check_and_resend_asks_first(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    from distributor.ledger.deliveries import record
    from distributor.store.models import Delivery

    article_id = add_article(rt, "Banjir rob di Jakarta Utara")
    with rt.store.session() as session:
        d = Delivery(article_id=article_id, channel="telegram", state="pending")
        session.add(d)
        session.flush()
        record(session, d, "unknown", "no answer within 10 s")
        delivery_id = d.id
    page = (await editor.get(f"/dashboard/articles/{article_id}")).text
    row = re.search(r'<tr data-channel="telegram"[^>]*>.*?</tr>', page, re.S)
    assert row and 'href="https://t.me/s/rinewsportal"' in row.group(0)  # its public page
    asked = await editor.post(f"/dashboard/deliveries/{delivery_id}/retry",
                              data={"csrf": csrf_of(page), "force": "1"})
    assert "Post it again on telegram?" in asked.text
    assert 'href="https://t.me/s/rinewsportal"' in asked.text
    with rt.store.session() as session:
        assert session.get_one(Delivery, delivery_id).state == "unknown"


async def test_editors_order_the_digest_and_it_is_sent_in_their_order(
        editor: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    from distributor.engine.digests import run_digest

    titles = ["Pagi: harga beras", "Siang: banjir Bekasi", "Malam: gempa Garut"]
    ids = [add_article(rt, t) for t in titles]
    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
    page = (await editor.get("/dashboard/digests")).text
    assert re.search(r'class="schedule">Every day at 06:00 \(WIB\); next \w{3} \d+ \w{3} 06:00',
                     page)
    listed = re.findall(r'<td><a href="/dashboard/articles/(\d+)">', page)
    assert listed == [str(i) for i in ids]  # by time: the latest story last
    for _ in range(2):  # the evening's lead story to the top
        await editor.post("/dashboard/digests/daily/move", data={
            "csrf": csrf_of(page), "article": str(ids[2]), "step": "-1"})
    page = (await editor.get("/dashboard/digests")).text
    assert "leads the next digest of daily" in page
    assert re.findall(r'<td><a href="/dashboard/articles/(\d+)">', page) == \
        [str(ids[2]), str(ids[0]), str(ids[1])]
    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent", outcome
    (mail,) = smtp.for_recipient("ana@example.org")
    text = mail.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
    places = [text.index(t) for t in (titles[2], titles[0], titles[1])]
    assert places == sorted(places)  # the mail in the editors' order


async def test_send_a_test_of_the_digest_to_me_reaches_only_me_and_records_nothing(
        editor: httpx.AsyncClient, rt: Runtime, smtp: SmtpServer) -> None:
    from sqlalchemy import func, select

    from distributor.store.models import Digest

    add_article(rt, "Gempa M6,1 guncang Garut")
    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
    page = (await editor.get("/dashboard/digests")).text
    assert "Send a test to me" in page
    sent = await editor.post("/dashboard/digests/daily/test", data={
        "csrf": csrf_of(page), "address": "redaktur@rinews.example"})
    assert sent.status_code == 303
    shown = (await editor.get("/dashboard/digests")).text
    assert "a test of the next digest went to redaktur@rinews.example (nobody else)" in shown
    assert smtp.recipients() == ["redaktur@rinews.example"]
    mail = smtp.received[0].message()
    assert str(mail["Subject"]).startswith("[TEST] RI News Portal")
    assert "Gempa M6,1 guncang Garut" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with rt.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Digest)) == 0
    bad = await editor.post("/dashboard/digests/daily/test", data={
        "csrf": csrf_of(shown), "address": "bukan alamat"})
    assert bad.status_code == 303
    assert "daily: no test sent:" in (await editor.get("/dashboard/digests")).text
    assert len(smtp.received) == 1
