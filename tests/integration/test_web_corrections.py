"""The dashboard's Retract and Correct buttons (issue 16) through httpx's ASGI transport on a
real SQLite file: a confirmation step first (nothing happens before it), then the same
service as the command line; the article page shows the retraction next to the post, and
its help says when to retract and when to correct."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from support.smtp_server import SmtpServer
from support.web import add_article, channels_yaml, csrf_of, login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.runtime import Runtime
from distributor.store.models import DeliveryAction

BASE = "http://localhost:8000"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer, tmp_path: Path
       ) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(write_config(channels_yaml(smtp.port,
                                                                  tmp_path / "outbox"))))
    make_editor(runtime)
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def editor(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        c.app = app  # type: ignore[attr-defined]
        assert (await login(c)).status_code == 303
        yield c


async def post_form(client: httpx.AsyncClient, page: str, action: str,
                    data: dict[str, str]) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf": token, **data})


def action_rows(rt: Runtime) -> list[DeliveryAction]:
    with rt.store.session() as session:
        return list(session.scalars(select(DeliveryAction)))


async def published(editor: httpx.AsyncClient, rt: Runtime, title: str) -> tuple[int, str]:
    article_id = add_article(rt, title)
    page = f"/dashboard/articles/{article_id}"
    await post_form(editor, page, f"{page}/act", {"action": "push", "channel": "files"})
    await editor.app.state.dashboard.idle()  # type: ignore[attr-defined]
    return article_id, page


async def test_retract_asks_for_confirmation_then_retracts_and_the_page_shows_it(
        editor: httpx.AsyncClient, rt: Runtime, tmp_path: Path) -> None:
    article_id, page = await published(editor, rt, "Kabar <b>keliru</b> soal vaksin")
    form = {"action": "retract", "reason": "Sumber tidak valid", "channel": "files"}

    asked = await post_form(editor, page, f"{page}/correction", form)

    assert asked.status_code == 200
    assert "Retract “Kabar &lt;b&gt;keliru&lt;/b&gt; soal vaksin”?" in asked.text
    assert "Sumber tidak valid" in asked.text and 'id="confirm-button"' in asked.text
    assert action_rows(rt) == []  # nothing happened before the confirmation
    assert not list((tmp_path / "outbox" / "files").glob("*.retracted.json"))

    done = await editor.post(f"{page}/correction",
                             data={**form, "confirm": "1", "csrf": csrf_of(asked.text)})

    assert done.status_code == 303 and done.headers["location"] == page
    [written] = (tmp_path / "outbox" / "files").glob(f"{article_id}-*.retracted.json")
    assert json.loads(written.read_text(encoding="utf-8"))["reason"] == "Sumber tidak valid"
    [row] = action_rows(rt)
    assert (row.state, row.requested_by) == ("sent", "dashboard:editor")
    shown = (await editor.get(page)).text
    assert "files: retracted" in shown  # the flash
    channel_row = re.search(r'<tr data-channel="files"[^>]*>.*?</tr>', shown, re.S)
    assert channel_row and "retracted" in channel_row.group(0)
    assert "Sumber tidak valid" in channel_row.group(0)

    again = await post_form(editor, page, f"{page}/correction", {**form, "confirm": "1"})
    assert again.status_code == 303
    assert "files: already retracted" in (await editor.get(page)).text
    assert len(action_rows(rt)) == 1


async def test_a_retraction_without_a_reason_is_refused_with_a_sentence(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    _, page = await published(editor, rt, "Gempa di Cianjur")

    response = await post_form(editor, page, f"{page}/correction",
                               {"action": "retract", "reason": "  ", "channel": "files",
                                "confirm": "1"})

    assert response.status_code == 303
    assert "Say why the article is retracted" in (await editor.get(page)).text
    assert action_rows(rt) == []


async def test_the_article_page_explains_when_to_retract_and_when_to_correct(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    _, page = await published(editor, rt, "Harga beras turun")

    text = (await editor.get(page)).text

    assert "When to retract, when to correct" in text
    assert "<b>Correct</b> when the story stands" in text
    assert "<b>Retract</b> when the story must not stand" in text


async def test_the_correction_route_needs_a_login_and_the_csrf_token(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id, page = await published(editor, rt, "Jalan tol dibuka")
    forged = await editor.post(f"{page}/correction", data={
        "action": "retract", "reason": "x", "channel": "files", "confirm": "1"})
    assert forged.status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)),
                                 base_url=BASE) as anonymous:
        response = await anonymous.post(f"{page}/correction", data={"action": "retract"})
    assert response.status_code in (303, 403)
    assert action_rows(rt) == [] and article_id
