"""Retract and correct (issue 16), end to end: `distributor push`, then `distributor retract` /
`distributor correct` through the command line, the real dispatcher and a real SQLite ledger,
against the HTTP doubles of the Telegram Bot API and the X API v2, the outbox and the webhook
example plugin (which cannot retract: it says so and the others go on). Exactly once: asked
twice, nothing more reaches a platform. (A process killed in the middle is resumed without
repeating what was done: tests/system/test_corrections_killed.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import DELETE_TWEET, POST_TWEETS, FakeX
from support.correction_site import (
    LEDE,
    TITLE,
    Cli,
    actions,
    published,
    write_article,
)
from support.webhook_server import WebhookServer

pytestmark = pytest.mark.usefixtures("webhook_plugin")


# --------------------------------------------------------------------------- retract


def test_a_retraction_deletes_the_telegram_post_and_every_x_part_last_first(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram, x: FakeX,
        hook: WebhookServer) -> None:
    published(run_cli, site, "telegram", "x", "files", "hook")
    [post] = tg.messages
    thread = [t.id for t in x.tweets]
    assert len(thread) >= 2  # a thread: the lede does not fit one post
    outbox_files = sorted(p.name for p in (site["outbox"] / "files").iterdir())

    result = run_cli("--config", site["config"], "retract", site["article"],
                     "--reason", "Angka korban keliru")

    assert tg.messages == [] and [m.message_id for m in tg.deleted] == [post.message_id]
    assert x.tweets == []
    deletes = [r.path.rsplit("/", 1)[-1] for r in x.posts_to(DELETE_TWEET)]
    assert deletes == list(reversed(thread))  # the last part first, each once
    retraction = json.loads((site["outbox"] / "files" / outbox_files[0].replace(
        ".json", ".retracted.json")).read_text(encoding="utf-8"))
    assert retraction["reason"] == "Angka korban keliru"
    assert retraction["article"]["title"] == TITLE
    # the webhook plugin cannot retract: it says so, the others went on, the exit status tells
    assert "error: hook: not supported" in result.stderr
    assert result.returncode == 1
    assert "telegram: retracted" in result.stdout and "x: retracted" in result.stdout
    assert "files: retracted" in result.stdout
    rows = {a.channel: a for a in actions(site["config"])}
    assert set(rows) == {"telegram", "x", "files"}
    assert rows["x"].state == "sent" and rows["x"].requested_by == "cli"
    assert rows["x"].reason == "Angka korban keliru"
    assert rows["x"].done == {t: "deleted" for t in thread}


def test_retracting_twice_changes_nothing_the_second_time_and_says_so(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram, x: FakeX) -> None:
    published(run_cli, site, "telegram", "x")
    first = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                    "Ditarik redaksi", "--channel", "telegram", "--channel", "x")
    assert first.returncode == 0, first.stderr
    calls = len(tg.calls), len(x.requests)

    second = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Ditarik redaksi", "--channel", "telegram", "--channel", "x")

    assert second.returncode == 0, second.stderr
    assert "telegram: already retracted" in second.stdout
    assert "x: already retracted" in second.stdout
    assert "nothing changed" in second.stdout
    assert (len(tg.calls), len(x.requests)) == calls  # not one request more
    assert len(actions(site["config"])) == 2


def test_deliveries_and_articles_lists_show_the_retraction_next_to_the_posts(
        run_cli: Cli, site: dict[str, Any]) -> None:
    published(run_cli, site, "telegram", "x")
    run_cli("--config", site["config"], "retract", site["article"], "--reason",
            "Ditarik redaksi", "--channel", "telegram", "--channel", "x")

    listed = json.loads(run_cli("--config", site["config"], "deliveries", "list",
                                "--json").stdout)
    table = run_cli("--config", site["config"], "deliveries", "list").stdout
    [article] = json.loads(run_cli("--config", site["config"], "articles", "list",
                                   "--json").stdout)

    for delivery in listed:
        [action] = delivery["actions"]
        assert delivery["state"] == "sent"
        assert (action["action"], action["state"], action["reason"],
                action["requested_by"]) == ("retract", "sent", "Ditarik redaksi", "cli")
    assert table.count("  retract") == 2 and "Ditarik redaksi" in table
    assert article["retraction"]["reason"] == "Ditarik redaksi"
    assert article["retraction"]["channels"] == {"telegram": "sent", "x": "sent"}


def test_a_telegram_message_that_cannot_be_deleted_becomes_the_retraction_notice(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    published(run_cli, site, "telegram")
    [post] = tg.messages
    tg.undeletable.add(post.message_id)  # older than 48 hours, say

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Atas perintah pengadilan", "--channel", "telegram")

    assert result.returncode == 0, result.stderr
    [kept] = tg.messages
    assert kept.message_id == post.message_id
    assert kept.plain_text == f"[Dicabut] {TITLE}: Atas perintah pengadilan"
    assert "marked as retracted" in result.stdout


def test_a_photo_post_that_cannot_be_deleted_gets_the_notice_as_its_caption(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    write_article(site["article"], TITLE, LEDE, image="https://rinews.example/foto/banjir.jpg")
    published(run_cli, site, "telegram")
    [post] = tg.messages
    assert post.method == "sendPhoto"
    tg.undeletable.add(post.message_id)

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Foto keliru <b>&</b>", "--channel", "telegram")

    assert result.returncode == 0, result.stderr
    assert [c.method for c in tg.calls if c.method.startswith("edit")] == ["editMessageCaption"]
    assert tg.messages[0].plain_text == f"[Dicabut] {TITLE}: Foto keliru <b>&</b>"


def test_a_retraction_of_an_article_not_yet_published_holds_it(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    fetched = run_cli("--config", site["config"], "fetch")
    assert "1 new" in fetched.stdout, fetched.stdout + fetched.stderr

    result = run_cli("--config", site["config"], "retract", "1", "--reason", "Batal",
                     "--channel", "telegram")
    run_cli("--config", site["config"], "run", "--once")

    assert result.returncode == 0, result.stderr
    assert "telegram: nothing published there; it is held and will not be published" in \
        result.stdout.splitlines()
    assert tg.messages == []  # the planned post never went out


def test_a_dry_run_retraction_writes_the_outbox_and_touches_nothing(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram, x: FakeX) -> None:
    published(run_cli, site, "telegram", "x")
    calls = len(tg.calls), len(x.requests)

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Uji", "--channel", "telegram", "--channel", "x", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "telegram: would be retracted" in result.stdout
    assert (len(tg.calls), len(x.requests)) == calls
    assert actions(site["config"]) == []
    written = sorted(p.name for p in (site["config"].parent / "outbox" / "telegram").iterdir())
    assert any(name.endswith(".retracted.json") for name in written)


# --------------------------------------------------------------------------- correct


def test_a_correction_edits_the_telegram_message_in_place_and_replies_to_the_x_thread(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram, x: FakeX) -> None:
    published(run_cli, site, "telegram", "x")
    [post] = tg.messages
    thread = [t.id for t in x.tweets]
    write_article(site["article"], TITLE, LEDE.replace("3.400", "4.300"))

    result = run_cli("--config", site["config"], "correct", site["article"], "--note",
                     "jumlah rumah 4.300, bukan 3.400", "--channel", "telegram", "--channel",
                     "x")

    assert result.returncode == 0, result.stderr
    [edited] = tg.messages
    assert edited.message_id == post.message_id and "4.300 rumah" in edited.plain_text
    assert [mid for mid, _ in tg.edits] == [post.message_id]
    reply = x.tweets[-1]
    assert [t.id for t in x.tweets[:-1]] == thread  # the thread stands
    assert reply.in_reply_to == thread[-1]
    assert reply.text == ("Ralat: jumlah rumah 4.300, bukan 3.400 "
                          "https://rinews.example/berita/banjir-bandung")

    again = run_cli("--config", site["config"], "correct", site["article"], "--note",
                    "jumlah rumah 4.300, bukan 3.400", "--channel", "telegram", "--channel",
                    "x")

    assert again.returncode == 0, again.stderr
    assert "already corrected" in again.stdout
    assert len(tg.edits) == 1 and len(x.posts_to(POST_TWEETS)) == len(thread) + 1


def test_a_retraction_after_a_correction_takes_the_correction_reply_down_too(
        run_cli: Cli, site: dict[str, Any], x: FakeX) -> None:
    published(run_cli, site, "x")
    thread = [t.id for t in x.tweets]
    corrected = run_cli("--config", site["config"], "correct", site["article"], "--note",
                        "judul diperbaiki", "--channel", "x")
    assert corrected.returncode == 0, corrected.stderr
    [reply] = [t.id for t in x.tweets if t.in_reply_to == thread[-1]]

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Ditarik", "--channel", "x")

    assert result.returncode == 0, result.stderr
    assert x.tweets == []  # nothing of the story stands, its correction neither
    assert [t.id for t in x.deleted] == [reply, *reversed(thread)]  # each once, replies first


# --------------------------------------------------------------------------- on_update


def test_an_article_edited_at_its_source_follows_on_update(
        run_cli: Cli, tmp_path: Path, write_config: Callable[..., Path], tg: FakeTelegram,
        x: FakeX) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "banjir.md"
    write_article(article, TITLE, LEDE)
    config = write_config(f"""\
        sources:
          - name: newsroom
            type: directory
            path: {folder}
            settle: 0s
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            reconcile_wait: 0
            on_update: edit
          - name: x
            type: x
            consumer_key: {x.consumer_key}
            consumer_secret: {x.consumer_secret}
            access_token: {x.access_token}
            access_token_secret: {x.access_token_secret}
            api_base_url: {x.url}
            on_update: note
        """)
    first = run_cli("--config", config, "run", "--once")
    assert first.returncode == 0, first.stderr
    [post] = tg.messages_in(tg.channel.id)
    thread = [t.id for t in x.tweets]

    write_article(article, TITLE, LEDE.replace("3.400", "4.300 lebih"))
    again = run_cli("--config", config, "run", "--once")
    unchanged = run_cli("--config", config, "run", "--once")

    assert again.returncode == 0 and unchanged.returncode == 0, again.stderr
    [edited] = tg.messages_in(tg.channel.id)
    assert edited.message_id == post.message_id
    assert "4.300 lebih rumah" in edited.plain_text
    assert len(tg.edits) == 1
    replies = [t for t in x.tweets if t.in_reply_to == thread[-1]]
    assert [r.text for r in replies] == [
        "Ralat: artikel diperbarui https://rinews.example/berita/banjir-bandung"]
    assert {(a.channel, a.requested_by) for a in actions(config)} == {
        ("telegram", "source:newsroom"), ("x", "source:newsroom")}


def test_a_retracted_article_is_not_corrected(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    published(run_cli, site, "telegram")
    run_cli("--config", site["config"], "retract", site["article"], "--reason", "Ditarik",
            "--channel", "telegram")
    calls = len(tg.calls)

    result = run_cli("--config", site["config"], "correct", site["article"], "--note", "x",
                     "--channel", "telegram")

    assert result.returncode == 0, result.stderr
    assert "telegram: nothing published there; it was retracted there" in result.stdout
    assert len(tg.calls) == calls
