"""Retract and correct (issue 16), end to end: `distributor push`, then `distributor retract` /
`distributor correct` through the command line, the real dispatcher and a real SQLite ledger,
against the HTTP doubles of the Telegram Bot API and the X API v2, the outbox and the webhook
example plugin (which cannot retract: it says so and the others go on). Exactly once: asked
twice, nothing more reaches a platform, and a process killed in the middle is resumed without
repeating what was done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import DELETE_TWEET, POST_TWEETS, FakeX
from sqlalchemy import select
from support.cli import process_env
from support.webhook_server import WebhookServer

from distributor.configfile import load_config
from distributor.runtime import Runtime
from distributor.store.models import DeliveryAction

pytestmark = pytest.mark.usefixtures("webhook_plugin")

Cli = Callable[..., subprocess.CompletedProcess[str]]

LEDE = ("Banjir setinggi satu hingga dua meter merendam sedikitnya 3.400 rumah di tujuh "
        "kecamatan di Kabupaten Bandung setelah hujan deras mengguyur kawasan hulu Sungai "
        "Citarum sejak Minggu malam, kata Badan Penanggulangan Bencana Daerah setempat. Ribuan "
        "warga mengungsi ke masjid, sekolah dan balai desa, sementara petugas gabungan "
        "mengerahkan perahu karet untuk mengevakuasi lansia dan anak-anak yang masih terjebak "
        "di lantai dua rumah mereka. Pemerintah kabupaten menetapkan status tanggap darurat "
        "selama empat belas hari, dan dapur umum didirikan di setiap kecamatan yang terdampak "
        "untuk melayani para pengungsi hingga air surut sepenuhnya. Bupati meminta warga di "
        "bantaran sungai tetap waspada karena hujan lebat diperkirakan masih turun hingga "
        "akhir pekan, dan jalur provinsi yang menghubungkan Bandung dengan Garut ditutup "
        "sementara karena genangan setinggi lutut orang dewasa.")
TITLE = "Banjir rendam ribuan rumah di Kabupaten Bandung"


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, write_config: Callable[..., Path], tg: FakeTelegram, x: FakeX,
         hook: WebhookServer, webhook_plugin: Path) -> dict[str, Any]:
    """A newsroom folder with one article file, and every kind of channel."""
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "banjir.md"
    write_article(article, TITLE, LEDE)
    config = write_config(f"""\
        sources:
          - name: newsroom
            type: directory
            path: {folder}
            url_template: https://rinews.example/berita/{{slug}}
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: 5
            reconcile_wait: 0
            rate_per_minute: 6000  # no 3 s pause between a post and its retraction here
          - name: x
            type: x
            consumer_key: {x.consumer_key}
            consumer_secret: {x.consumer_secret}
            access_token: {x.access_token}
            access_token_secret: {x.access_token_secret}
            api_base_url: {x.url}
            timeout: 20
            rate_per_minute: 6000
          - name: files
            type: outbox
            path: {tmp_path / "outbox"}
          - name: hook
            type: webhook
            url: {hook.url}
            timeout: 5
        """)
    return {"config": config, "article": article, "outbox": tmp_path / "outbox",
            "plugin": webhook_plugin}


def write_article(path: Path, title: str, lede: str, image: str | None = None) -> None:
    front = f"title: {title}\nurl: https://rinews.example/berita/banjir-bandung\n"
    if image:
        front += f"image: {image}\n"
    path.write_text(f"---\n{front}---\n\n{lede}\n", encoding="utf-8")
    past = time.time() - 600  # written a while ago: the folder's reader takes it at once
    os.utime(path, (past, past))


def published(run_cli: Cli, site: dict[str, Any], *channels: str) -> None:
    args = [a for c in channels for a in ("--channel", c)]
    result = run_cli("--config", site["config"], "push", site["article"], *args)
    assert result.returncode == 0, result.stderr


def actions(config: Path) -> list[DeliveryAction]:
    rt = Runtime.open(load_config(config))
    try:
        with rt.store.session() as session:
            rows = list(session.scalars(select(DeliveryAction).order_by(DeliveryAction.id)))
            session.expunge_all()
            return rows
    finally:
        rt.store.dispose()


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
    assert "nothing published there" in result.stdout
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


# --------------------------------------------------------------------------- crashes


def start(site: dict[str, Any], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "distributor", "--config",
                             str(site["config"]), *args], env=process_env(site["plugin"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when(process: subprocess.Popen[str], condition: Callable[[], bool]) -> None:
    """SIGKILL the process as soon as ``condition`` holds (it waits on a request it sent)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_a_retraction_killed_in_the_middle_of_a_thread_resumes_and_deletes_each_part_once(
        run_cli: Cli, site: dict[str, Any], x: FakeX) -> None:
    published(run_cli, site, "x")
    thread = [t.id for t in x.tweets]
    assert len(thread) >= 2
    # the first DELETE (the last part) is carried out, but its answer never comes: the
    # process dies waiting, with the other parts still up
    x.no_answer(50, endpoints=(DELETE_TWEET,))
    process = start(site, "retract", str(site["article"]), "--reason", "Ditarik",
                    "--channel", "x")
    kill_when(process, lambda: len(x.posts_to(DELETE_TWEET)) == 1)
    [row] = actions(site["config"])
    assert row.state == "sending" and row.done == {}
    assert [t.id for t in x.tweets] == thread[:-1]

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Ditarik", "--channel", "x")

    assert result.returncode == 0, result.stderr
    assert "x: retracted" in result.stdout
    assert x.tweets == []
    assert sorted(t.id for t in x.deleted) == sorted(thread)  # each part deleted once
    [row] = actions(site["config"])
    assert row.state == "sent"
    assert row.done == {thread[-1]: "gone"} | {t: "deleted" for t in thread[:-1]}


def test_a_correction_killed_after_x_took_the_reply_does_not_reply_twice(
        run_cli: Cli, site: dict[str, Any], x: FakeX) -> None:
    published(run_cli, site, "x")
    thread = [t.id for t in x.tweets]
    x.no_answer(50, endpoints=(POST_TWEETS,))  # the reply is posted; the answer never comes
    process = start(site, "correct", str(site["article"]), "--note", "judul diperbaiki",
                    "--channel", "x")
    kill_when(process, lambda: len(x.tweets) == len(thread) + 1)

    result = run_cli("--config", site["config"], "correct", site["article"], "--note",
                     "judul diperbaiki", "--channel", "x")

    assert result.returncode == 0, result.stderr
    replies = [t for t in x.tweets if t.in_reply_to == thread[-1]]
    assert len(replies) == 1 and replies[0].text.startswith("Ralat: judul diperbaiki")
    [row] = actions(site["config"])
    assert row.state == "sent" and row.done == {replies[0].id: "replied"}


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


def test_a_telegram_correction_killed_after_the_edit_edits_once(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    published(run_cli, site, "telegram")
    [post] = tg.messages
    write_article(site["article"], TITLE, LEDE.replace("3.400", "4.300"))
    tg.delay(50, methods=("editMessageText",))  # edited, but the answer never comes
    process = start(site, "correct", str(site["article"]), "--channel", "telegram")
    kill_when(process, lambda: len(tg.edits) == 1)

    result = run_cli("--config", site["config"], "correct", site["article"], "--channel",
                     "telegram")

    assert result.returncode == 0, result.stderr
    assert "telegram: corrected" in result.stdout
    assert [mid for mid, _ in tg.edits] == [post.message_id]  # edited once, in place
    assert "4.300 rumah" in tg.messages[0].plain_text
    [row] = actions(site["config"])
    assert row.state == "sent" and row.done == {str(post.message_id): "left"}
