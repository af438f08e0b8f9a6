"""A paused channel is never invisible (issue 19.4): the dashboard shows a banner on every page
and a Channels page with the reason and a resume that asks first; a push to it says it was NOT
sent, on the command line and on the dashboard; `channels list` and /metrics show it."""

from __future__ import annotations

import re
import subprocess
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
from distributor.store.models import ChannelState, Delivery

BASE = "http://localhost:8000"
REASON = "the outbox folder refused us (bad credentials)"


@pytest.fixture
def config(write_config: Callable[..., Path], tmp_path: Path) -> Iterator[Path]:
    with SmtpServer() as smtp:
        yield write_config(channels_yaml(smtp.port, tmp_path / "outbox"))


@pytest.fixture
def rt(config: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(config))
    make_editor(runtime)
    yield runtime
    runtime.store.dispose()


def pause(rt: Runtime, channel: str = "files") -> None:
    with rt.store.session() as session:
        session.merge(ChannelState(channel=channel, paused_reason=REASON))


@pytest.fixture
async def editor(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        c.app = app  # type: ignore[attr-defined]
        assert (await login(c)).status_code == 303
        yield c


async def test_every_dashboard_page_shows_a_banner_while_a_channel_is_paused(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id = add_article(rt, "Banjir di Kemang")
    assert "Paused:" not in (await editor.get("/dashboard/")).text
    pause(rt)
    for page in ("/dashboard/", f"/dashboard/articles/{article_id}", "/dashboard/digests",
                 "/dashboard/subscribers", "/dashboard/channels"):
        text = (await editor.get(page)).text
        banner = re.search(r'<div class="error banner" role="alert">(.*?)</div>', text, re.S)
        assert banner, page
        assert "files" in banner.group(1) and REASON in banner.group(1)


async def test_the_channels_page_resumes_a_paused_channel_only_after_a_confirmation(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    pause(rt)
    page = (await editor.get("/dashboard/channels")).text
    row = re.search(r'<tr data-channel="files" data-state="paused">.*?</tr>', page, re.S)
    assert row and REASON in row.group(0) and "Resume" in row.group(0)
    assert re.search(r'<tr data-channel="x" data-state="active">', page)
    token = csrf_of(page)
    first = await editor.post("/dashboard/channels/files/resume", data={"csrf": token})
    assert first.status_code == 303 and first.headers["location"].endswith("?resume=files")
    with rt.store.session() as session:  # asked, not done
        assert session.get_one(ChannelState, "files").paused_reason == REASON
    asking = (await editor.get(first.headers["location"])).text
    assert "Resume files?" in asking
    done = await editor.post("/dashboard/channels/files/resume",
                             data={"csrf": csrf_of(asking), "confirm": "yes"})
    assert done.status_code == 303
    with rt.store.session() as session:
        assert session.get_one(ChannelState, "files").paused_reason is None
    after = (await editor.get("/dashboard/channels")).text
    assert "files: resumed" in after and 'class="error banner"' not in after


async def test_a_resume_without_the_sessions_token_is_refused(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    pause(rt)
    refused = await editor.post("/dashboard/channels/files/resume", data={"confirm": "yes"})
    assert refused.status_code == 403
    with rt.store.session() as session:
        assert session.get_one(ChannelState, "files").paused_reason == REASON


async def test_a_dashboard_push_to_a_paused_channel_says_it_was_not_sent(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    article_id = add_article(rt, "Gempa di Garut")
    pause(rt)
    page = f"/dashboard/articles/{article_id}"
    await editor.post(f"{page}/act", data={"csrf": csrf_of((await editor.get(page)).text),
                                           "action": "push", "channel": "files"})
    await editor.app.state.dashboard.idle()  # type: ignore[attr-defined]
    shown = (await editor.get(page)).text
    assert "files: NOT sent: the channel is paused" in shown
    assert "sending now" not in shown
    with rt.store.session() as session:
        assert session.scalar(select(Delivery.state).where(
            Delivery.article_id == article_id)) == "pending"


async def test_metrics_show_a_paused_channel(editor: httpx.AsyncClient, rt: Runtime) -> None:
    pause(rt)
    text = (await editor.get("/metrics")).text
    assert 'distributor_channel_paused{channel="files"} 1.0' in text
    assert 'distributor_channel_paused{channel="x"} 0.0' in text


def test_cli_push_to_a_paused_channel_says_not_published_and_how_to_resume(
        config: Path, rt: Runtime, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    article_id = add_article(rt, "Harga beras naik")
    pause(rt)
    pushed = run_cli("--config", config, "push", str(article_id), "--channel", "files")
    assert pushed.returncode == 1
    assert "files: not published: the channel is paused" in pushed.stderr
    assert "`distributor channels resume files`" in pushed.stderr
    assert "queued for the workers" not in pushed.stdout + pushed.stderr
    listed = run_cli("--config", config, "channels", "list")
    row = next(line for line in listed.stdout.splitlines() if line.startswith("files"))
    assert f"paused: {REASON}" in row and row.split()[-1] == "1"  # one delivery waits
    resumed = run_cli("--config", config, "channels", "resume", "files")
    assert "channel files resumed" in resumed.stdout
    again = run_cli("--config", config, "channels", "resume", "files")
    assert "channel files is not paused" in again.stdout
    typo = run_cli("--config", config, "channels", "resume", "filez")
    assert typo.returncode != 0 and "files" in typo.stderr and "Traceback" not in typo.stderr


async def test_healthz_says_degraded_while_a_channel_is_paused(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    assert (await editor.get("/healthz")).json() == {"status": "ok"}
    pause(rt)
    answer = await editor.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "degraded"}
    assert "files" not in answer.text  # strangers learn no names


async def test_an_article_whose_derived_link_collided_says_so_on_the_dashboard(
        editor: httpx.AsyncClient, rt: Runtime) -> None:
    """Issue 15.1: the collision is a warning on the CLI and on the dashboard."""
    from distributor.store.models import ArticleRow

    article_id = add_article(rt, "Banjir Jakarta (pukul 12.00)")
    note = ("https://rinews.example/berita/banjir-jakarta was taken by another article; this "
            "one is https://rinews.example/berita/banjir-jakarta-2")
    with rt.store.session() as session:
        session.get_one(ArticleRow, article_id).url_note = note
    listing = (await editor.get("/dashboard/")).text
    assert re.search(r'class="state state-retry url-note" title="[^"]*banjir-jakarta-2', listing)
    page = (await editor.get(f"/dashboard/articles/{article_id}")).text
    shown = re.search(r'<p class="error small url-note" role="note">(.*?)</p>', page, re.S)
    assert shown and "banjir-jakarta-2" in shown.group(1)


async def test_the_resume_question_names_the_configuration_file_in_use(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        path = write_config(channels_yaml(smtp.port, tmp_path / "outbox"), name="site.yaml")
    runtime = Runtime.open(load_config(path))
    try:
        make_editor(runtime)
        pause(runtime)
        app = create_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=BASE) as client:
            assert (await login(client)).status_code == 303
            asking = (await client.get("/dashboard/channels?resume=files")).text
        assert "(site.yaml or the environment, then a restart)" in " ".join(asking.split())
        assert "channels.yaml" not in asking
    finally:
        runtime.store.dispose()
