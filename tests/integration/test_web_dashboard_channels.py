"""The dashboard previews Mastodon, Bluesky, Discord and Slack in the style each channel
declares (preview_style): chats as bubbles, Mastodon and Bluesky as posts with their length
against the platform's limit; the core knows none of their names. Whatever an article says
is escaped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from support.web import add_article, login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.runtime import Runtime

BASE = "http://localhost:8000"


@pytest.fixture
async def editor(write_config: Callable[..., Path]) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                                          Runtime]]:
    config = write_config("""\
        channels:
          - {name: masto, type: mastodon, publish: manual, instance: "http://127.0.0.1:9",
             access_token: t0ken-masto}
          - {name: bsky, type: bluesky, publish: manual, handle: rinews.bsky.test,
             app_password: abcd-efgh-ijkl-mnop, service: "http://127.0.0.1:9"}
          - {name: disc, type: discord, publish: manual,
             webhook_url: "http://127.0.0.1:9/api/webhooks/1/t0ken"}
          - {name: slk, type: slack, publish: manual,
             webhook_url: "http://127.0.0.1:9/services/T/B/s3cret"}
        """)
    rt = Runtime.open(load_config(config))
    make_editor(rt)
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        assert (await login(client)).status_code == 303
        yield client, rt
    await rt.close()


async def test_the_new_channels_preview_in_their_declared_styles(
        editor: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, rt = editor
    article_id = add_article(rt, "Banjir <script>alert(1)</script> surut",
                             lede="Air mulai surut pada Selasa pagi, kata petugas.")
    page = (await client.get(f"/dashboard/articles/{article_id}")).text
    kinds = {channel: kind for kind, channel in re.findall(
        r'<div class="card preview preview-(\w+)" data-channel="(\w+)"', page)}
    assert kinds == {"masto": "thread", "bsky": "thread", "disc": "chat",
                               "slk": "chat"}
    assert "<script>alert(1)</script>" not in page
    shown = "Banjir &lt;script&gt;alert(1)&lt;/script&gt; surut"  # as readers see it
    assert page.count(shown) >= 4
    counts = re.findall(r'<div class="count">(\d+)/(\d+)</div>', page)
    assert {limit for _, limit in counts} == {"500", "300"}
    assert all(int(n) <= int(limit) for n, limit in counts)
    assert page.count('<div class="bubble">') == 2
