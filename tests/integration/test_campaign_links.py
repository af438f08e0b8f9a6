"""`utm` and `strip_params` on every channel (issue 16): an article whose feed link carries
tracking parameters is previewed and sent on Telegram, X, email (an article mail and a digest),
the outbox and the webhook example plugin; each channel's messages link to the article without
the feed's tracking parameters and with the channel's own UTM tags, the rest of the query
kept. The stored article keeps its link as the feed gave it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime

pytestmark = pytest.mark.usefixtures("webhook_plugin")

FEED_LINK = "https://rinews.example/berita/banjir-bandung?id=7&utm_source=rss&fbclid=IwAR0zz"
UTM = """\
    utm:
      source: "{channel}"
      medium: social
      campaign: "{slug}"
"""


def tagged(channel: str) -> str:
    return ("https://rinews.example/berita/banjir-bandung?id=7&utm_source=" + channel
            + "&utm_medium=social&utm_campaign=banjir-rendam-ribuan-rumah")


@pytest.fixture
def config(write_config: Callable[..., Path], tg: FakeTelegram, tmp_path: Path) -> Path:
    with SmtpServer() as smtp:  # only rendered here: nothing is sent
        email = email_channel_yaml(smtp, name="daily", extra=UTM)
        mail = email_channel_yaml(smtp, name="breaking", publish="instant", extra=UTM)
    indented = UTM.replace("\n    ", "\n            ").replace("    utm:", "            utm:")
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
{indented}          - name: x
            type: x
            consumer_key: k
            consumer_secret: s
            access_token: t
            access_token_secret: ts
{indented}          - name: files
            type: outbox
            path: {tmp_path / "outbox"}
{indented}          - name: hook
            type: webhook
            url: http://127.0.0.1:9/hook
{indented}""")
    path.write_text(path.read_text() + email + mail)
    rt = Runtime.open(load_config(path))
    now = datetime.now(UTC) - timedelta(minutes=5)
    with rt.store.session() as session:
        store_article(session, Article(
            source="portal", key="banjir", url=FEED_LINK, published=now,
            title="Banjir rendam ribuan rumah",
            lede="Banjir merendam ribuan rumah di Kabupaten Bandung pada Minggu malam."),
            now=now)
    rt.store.dispose()
    return path


@pytest.mark.parametrize("channel", ["telegram", "x", "files", "hook", "breaking"])
def test_every_channel_links_with_its_own_utm_tags_and_without_the_feeds(
        run_cli: Callable[..., object], config: Path, channel: str) -> None:
    result = run_cli("--config", config, "preview", "1", "--channel", channel, "--json")
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    text = json.dumps(json.loads(result.stdout)["messages"],  # type: ignore[attr-defined]
                      ensure_ascii=False).replace("&amp;", "&")

    assert tagged(channel) in text
    assert "fbclid" not in text and "utm_source=rss" not in text


def test_the_digest_links_with_the_digest_channels_tags(
        run_cli: Callable[..., object], config: Path) -> None:
    result = run_cli("--config", config, "digest", "preview", "--channel", "daily", "--json")
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    [mail] = json.loads(result.stdout)["messages"]  # type: ignore[attr-defined]

    assert tagged("daily") in mail["text"] and tagged("daily") in mail["html"].replace("&amp;", "&")
    assert "fbclid" not in mail["text"] + mail["html"]


def test_the_stored_article_keeps_the_feeds_link(
        run_cli: Callable[..., object], config: Path) -> None:
    result = run_cli("--config", config, "articles", "list", "--json")
    [article] = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert article["url"] == FEED_LINK
