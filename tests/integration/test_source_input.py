"""Issue 15, items 2-5, through `distributor fetch` on real folders, feed files and stores:
legacy encodings and byte order marks, NUL and control characters, oversized and empty input,
files still being written."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from sqlalchemy import select

from distributor.store import open_store
from distributor.store.models import ArticleRow

Cli = Callable[..., CompletedProcess[str]]
BODY = "JAKARTA — Banjir masih menggenangi sejumlah kawasan di ibu kota pada Kamis pagi.\n"
RUSSIAN_TITLE = "Как пережить зиму в Москве"
RUSSIAN_TEXT = ("Москва - Цены на газ растут третий месяц подряд, сообщили в министерстве "
                "энергетики. Экономисты советуют утеплить окна и двери заранее.")
KOI8_FEED = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Новости</title><link>https://ru.example/</link>
<item><title>{RUSSIAN_TITLE}</title><link>https://ru.example/zima</link>
<guid>ru-1</guid><description>{RUSSIAN_TEXT}</description></item>
</channel></rss>
"""


def settled(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def config_for(write_config: Callable[..., Path], *, database: str | None = None,
               extra: str = "", feed: Path | None = None) -> Path:
    feed_source = (f"  - name: portal\n    type: feed\n    url: {feed}\n" if feed else "")
    return write_config(f"""\
sources:
  - name: newsroom
    type: directory
    path: articles/
    url_template: https://rinews.example/berita/{{slug}}
{extra}{feed_source}""", database=database)


def rows(database: str) -> list[ArticleRow]:
    store = open_store(database)
    try:
        with store.session() as session:
            return list(session.scalars(select(ArticleRow).order_by(ArticleRow.id)).all())
    finally:
        store.dispose()


@pytest.fixture
def database(db_url: str) -> str:
    return db_url


# --------------------------------------------------------------------------- 2. encodings


def test_a_koi8_r_feed_without_a_declared_charset_is_read_as_russian(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    feed = settled(tmp_path / "ru.xml", KOI8_FEED.encode("koi8_r"))
    (tmp_path / "articles").mkdir()
    config = config_for(write_config, feed=feed)
    result = run_cli("--config", config, "fetch")
    assert result.returncode == 0, result.stderr
    [row] = rows(f"sqlite:///{tmp_path / 'distributor.db'}")
    assert row.title == RUSSIAN_TITLE
    assert row.lede.startswith("Цены на газ растут")


def test_a_utf16_text_file_with_a_byte_order_mark_is_stored_as_its_text(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    text = f"Banjir Rob di Pesisir Utara\n\n{BODY}"
    settled(tmp_path / "articles" / "rob.txt", text.encode("utf-16"))
    result = run_cli("--config", config_for(write_config), "fetch")
    assert result.returncode == 0 and "1 new" in result.stdout, result.stdout + result.stderr
    [row] = rows(f"sqlite:///{tmp_path / 'distributor.db'}")
    assert row.title == "Banjir Rob di Pesisir Utara"
    assert row.lede.startswith("Banjir masih menggenangi") and "\x00" not in row.lede


def test_a_windows_1251_markdown_file_is_read_and_a_picture_is_one_problem_line(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    settled(tmp_path / "articles" / "zima.md",
            f"---\ntitle: {RUSSIAN_TITLE}\n---\n\n{RUSSIAN_TEXT}\n".encode("cp1251"))
    settled(tmp_path / "articles" / "foto.txt",
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    result = run_cli("--config", config_for(write_config), "fetch")
    assert "1 new" in result.stdout, result.stdout + result.stderr
    [row] = rows(f"sqlite:///{tmp_path / 'distributor.db'}")
    assert row.title == RUSSIAN_TITLE and row.lede.startswith("Цены на газ")
    problems = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(problems) == 1 and "foto.txt" in problems[0], result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- 3. NUL


def test_nul_and_control_characters_are_stripped_and_the_source_goes_on(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli, database: str) -> None:
    settled(tmp_path / "articles" / "a.txt",
            "Harga Beras\x00 Naik\n\nJAKARTA — Harga\x00 beras\x07 naik lagi.\x1b\n")
    settled(tmp_path / "articles" / "b.txt", f"Banjir Jakarta\n\n{BODY}")
    feed = settled(tmp_path / "feed.xml", KOI8_FEED.replace(
        RUSSIAN_TITLE, RUSSIAN_TITLE + "\x00").encode("utf-8"))
    config = config_for(write_config, database=database, feed=feed)
    for _ in range(2):  # and at the next poll too
        result = run_cli("--config", config, "fetch")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    stored = rows(database)
    assert sorted(r.title for r in stored) == sorted(
        ["Harga Beras Naik", "Banjir Jakarta", RUSSIAN_TITLE])
    harga = next(r for r in stored if r.title == "Harga Beras Naik")
    assert harga.lede == "Harga beras naik lagi."


# --------------------------------------------------------------------------- 4. sizes


def test_a_file_over_the_size_cap_is_one_problem_line_and_the_others_are_read(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    settled(tmp_path / "articles" / "huge.txt", "Judul Besar\n\n" + BODY * 200)
    settled(tmp_path / "articles" / "ok.txt", f"Banjir Jakarta\n\n{BODY}")
    config = config_for(write_config, extra="    max_article_bytes: 4000\n")
    result = run_cli("--config", config, "fetch")
    assert "1 new" in result.stdout, result.stdout + result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert "huge.txt" in line and "max_article_bytes" in line
    assert [r.title for r in rows(f"sqlite:///{tmp_path / 'distributor.db'}")] == [
        "Banjir Jakarta"]


def test_a_feed_item_over_the_size_cap_is_skipped_with_a_problem_line(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    big = KOI8_FEED.replace(RUSSIAN_TEXT, RUSSIAN_TEXT * 100)
    feed = settled(tmp_path / "feed.xml", big.encode("utf-8"))
    (tmp_path / "articles").mkdir()
    config = config_for(write_config, feed=feed, extra="    max_article_bytes: 4000\n")
    text = config.read_text().replace(f"url: {feed}\n", f"url: {feed}\n    "
                                      "max_article_bytes: 4000\n")
    config.write_text(text)
    result = run_cli("--config", config, "fetch")
    assert "source portal: 0 new" in result.stdout, result.stdout + result.stderr
    assert any("max_article_bytes" in line and RUSSIAN_TITLE in line
               for line in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("text", ["JAKARTA -", "Banjir Jakarta\n\nJAKARTA -",
                                  "Banjir Jakarta\n\nPewarta: Siti Rahmawati"])
def test_a_file_with_a_title_or_dateline_but_no_story_is_not_an_article(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli, text: str) -> None:
    settled(tmp_path / "articles" / "kosong.txt", text)
    result = run_cli("--config", config_for(write_config), "fetch")
    assert "0 new" in result.stdout
    assert "kosong.txt" in result.stderr and "no article text" in result.stderr
    assert rows(f"sqlite:///{tmp_path / 'distributor.db'}") == []


# --------------------------------------------------------------------------- 5. being written


def test_fetch_right_after_a_copy_waits_for_the_files_and_reads_them(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    settled(tmp_path / "articles" / "lama.txt", f"Berita Lama\n\n{BODY}")
    (tmp_path / "articles" / "baru.txt").write_text(f"Berita Baru\n\n{BODY}", encoding="utf-8")
    result = run_cli("--config", config_for(write_config), "fetch")
    assert result.returncode == 0, result.stderr
    assert "source newsroom: 2 new, 0 known" in result.stdout, result.stdout
    assert "still being written" not in result.stdout


def test_files_that_settle_later_than_fetch_waits_are_announced_for_the_next_poll(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    settled(tmp_path / "articles" / "lama.txt", f"Berita Lama\n\n{BODY}")
    for name in ("a.txt", "b.txt"):
        (tmp_path / "articles" / name).write_text(f"Berita {name}\n\n{BODY}", encoding="utf-8")
    config = config_for(write_config, extra="    settle: 45s\n")
    result = run_cli("--config", config, "fetch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "source newsroom: 1 new, 0 known",
        "source newsroom: 2 files are still being written; the next poll reads them"]
