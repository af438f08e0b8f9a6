"""Telegram digests (issue 17, item 5): ``publish: digest`` with a ``schedule`` on a Telegram
channel posts one message listing the period's articles, headline and link each, against the
fake Bot API; once; and every article of a long period in as few messages as 4096 allow."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from support.channel_runs import add_articles, open_runtime
from support.timeouts import ANSWERED

from distributor.articles import Article
from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.telegram.render import TEXT_LIMIT, check_telegram_html, visible_text
from distributor.config import SiteConfig, WebConfig
from distributor.plugin import RenderContext, utcnow
from distributor.render import Templates

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_digest_send_posts_one_message_with_every_headline_as_a_link_once(
        write_config: Callable[..., Path], tg: Any, run_cli: Run) -> None:
    config = write_config(f"""\
        channels:
          - name: tg-morning
            type: telegram
            publish: digest
            schedule: "0 6 * * *"
            chat_id: "@{tg.chats[0].username}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: {ANSWERED}
        """)
    assert run_cli("--config", config, "check").returncode == 0
    rt = open_runtime(config)
    try:
        add_articles(rt, 3)
    finally:
        rt.store.dispose()
    result = run_cli("--config", config, "digest", "send", "--channel", "tg-morning")
    assert result.returncode == 0, result.stderr
    [message] = tg.messages
    lines = message.plain_text.split("\n")
    assert lines[0].startswith("RI News Portal, ")
    assert lines[2:] == [f"• Berita {i}: banjir surut di Semarang" for i in range(3)]
    links = [e["url"] for e in message.entities if e["type"] == "text_link"]
    assert links == [f"https://rinews.example/berita/{i}" for i in range(3)]
    assert (message.link_preview_options or {}).get("is_disabled") is True
    assert run_cli("--config", config, "digest", "send", "--channel", "tg-morning"
                   ).returncode == 0
    assert len(tg.messages) == 1


def test_a_long_digest_splits_only_where_4096_forces_it() -> None:
    adapter = TelegramAdapter(TelegramConfig(name="tg", chat_id="@rinews",
                                             token="123:abcdefghijklmnopqrstu"))
    site = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id")
    ctx = RenderContext(site=site, channel=adapter.config, web=WebConfig(),
                        templates=Templates(), now=utcnow())
    articles = [Article(source="t", key=f"k{i}", url=f"https://rinews.example/b/{i}?a=1&b=<2>",
                        title=f"Berita <{i}> & kabar lain tentang banjir yang surut " * 2)
                for i in range(80)]
    messages = adapter.render_digest(articles, ctx)
    assert len(messages) > 1
    for message in messages:
        assert check_telegram_html(message["text"], TEXT_LIMIT) == []
    shown = "\n".join(visible_text(m["text"]) for m in messages)
    assert all(f"Berita <{i}> & kabar" in shown for i in range(80))
    for message, after in pairwise(messages):
        next_line = visible_text(after["text"]).split("\n")[2]
        assert len(visible_text(message["text"]) + "\n" + next_line) > TEXT_LIMIT
