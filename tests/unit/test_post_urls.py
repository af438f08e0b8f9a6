"""The public address of a published post, as each adapter gives it (the dashboard links it)."""

from __future__ import annotations

import pytest

from distributor.channels.outbox import OutboxAdapter
from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.x.adapter import XAdapter, XConfig
from distributor.config import ChannelConfig


def telegram(chat_id: str | int) -> TelegramAdapter:
    return TelegramAdapter(TelegramConfig(name="tg", type="telegram", chat_id=chat_id,
                                          token="123:secret"))


@pytest.mark.parametrize(("chat_id", "moved_to", "remote_id", "url"), [
    ("@rinewsportal", None, "42", "https://t.me/rinewsportal/42"),
    ("-1001234567890", None, "42", "https://t.me/c/1234567890/42"),
    ("-4123456789", "-1009876543210", "7", "https://t.me/c/9876543210/7"),  # a migrated group
    ("-4123456789", None, "7", None),  # a basic group's posts have no public address
    (123456789, None, "7", None),  # a private chat
    ("@rinewsportal", None, "not-a-number", None),
])
def test_telegram_links_public_channels_and_supergroups(
        chat_id: str | int, moved_to: str | None, remote_id: str, url: str | None) -> None:
    assert telegram(chat_id).post_url(remote_id, moved_to=moved_to) == url


def test_x_links_the_post_by_its_id() -> None:
    adapter = XAdapter(XConfig(name="x", type="x", consumer_key="a", consumer_secret="b",
                               access_token="c", access_token_secret="d"))
    assert adapter.post_url("1790001") == "https://x.com/i/web/status/1790001"
    assert adapter.post_url("/tmp/outbox/x/1.json") is None


def test_a_dry_run_outbox_has_no_public_address(tmp_path: object) -> None:
    outbox = OutboxAdapter(ChannelConfig(name="files", type="outbox"), folder=tmp_path)
    assert outbox.post_url("42") is None
