"""The directory source, on real folders: what an editor who drops files in it gets."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distributor.articles import RelatedLink
from distributor.config import DirectorySourceConfig
from distributor.sources import FetchResult, SourceError, SourceState, fetch_source
from distributor.sources.directory import article_files, load_article_file, read_directory

SEED = Path(__file__).resolve().parents[2] / "examples" / "articles" / "000_9e063caa9953ea57.txt"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TEMPLATE = "https://rinews.example/berita/{slug}"

MARKDOWN = """---
title: TransJakarta Perpanjang Jam Operasional
url: https://rinews.example/berita/transjakarta-jam-operasional
image: https://rinews.example/foto/halte.jpg
published: 2026-11-25T09:30:00+07:00
author: Dewi Lestari
tags: [Jakarta, transportasi]
---

RI News Portal. Jakarta — TransJakarta memperpanjang jam operasional hingga pukul 01.00 WIB.

Baca juga: [Tarif Integrasi Berlaku](https://rinews.example/berita/tarif-integrasi)

Penumpang diimbau memantau jadwal terbaru.

Editor: Rahmat Hidayat
"""

JSON_ARTICLE = {
    "title": "Harga Cabai Rawit Turun",
    "url": "https://rinews.example/berita/harga-cabai-turun",
    "body": "Jakarta (ANTARA) - Harga cabai rawit turun menjadi Rp50.000 per kilogram.\n"
            "Pasokan dari Jawa Tengah bertambah.",
    "image": "https://rinews.example/foto/cabai.jpg",
    "published": "Wed, 25 Nov 2026 07:15:00 +0700",
    "author": "Yusuf Maulana",
    "tags": ["ekonomi"],
}


def source(path: Path, **options: object) -> DirectorySourceConfig:
    values: dict[str, object] = {"name": "newsroom", "type": "directory", "path": path,
                                 "max_age": "3650d", "settle": 0}
    values.update(options)
    return DirectorySourceConfig.model_validate(values)


async def read(path: Path, state: SourceState | None = None, **options: object) -> FetchResult:
    return await read_directory(source(path, **options), state or SourceState(),
                                site_language="id", now=NOW)


def write(path: Path, text: str | bytes, mtime: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


# --------------------------------------------------------------------------- the three formats


async def test_txt_file_like_the_seed_becomes_an_article_with_a_derived_title(
    tmp_path: Path,
) -> None:
    shutil.copy(SEED, tmp_path / SEED.name)
    result = await read(tmp_path, url_template=TEMPLATE)
    assert result.problems == []
    [article] = result.articles
    assert article.source == "newsroom"
    assert article.key == "file:000_9e063caa9953ea57.txt"
    assert article.title_derived is True
    assert article.title.startswith("Moskow dan Beijing semakin mempertegas")
    assert article.url == ("https://rinews.example/berita/moskow-dan-beijing-semakin-mempertegas"
                           "-posisi-mereka-sebagai-penyeimbang-utama")
    assert article.dateline == "Moscow"
    assert article.lede.startswith("Moskow dan Beijing")
    assert article.author == "Anjar Bramantyo"
    assert [r.title for r in article.related] == [
        "Akhir Era Pengendalian Nuklir: Dunia Memasuki Babak Perlombaan Senjata Tanpa Batas"]
    assert article.language == "id"
    assert len(article.body) == 9


async def test_markdown_front_matter_gives_title_url_image_date_author_and_tags(
    tmp_path: Path,
) -> None:
    write(tmp_path / "transjakarta.md", MARKDOWN)
    [article] = (await read(tmp_path, tags=["metro", "jakarta"])).articles
    assert article.title == "TransJakarta Perpanjang Jam Operasional"
    assert article.title_derived is False
    assert article.url == "https://rinews.example/berita/transjakarta-jam-operasional"
    assert article.image == "https://rinews.example/foto/halte.jpg"
    assert article.published == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert article.author == "Dewi Lestari"
    assert article.editor == "Rahmat Hidayat"
    assert article.tags == ["Jakarta", "transportasi", "metro"]
    assert article.dateline == "Jakarta"
    assert article.lede == "TransJakarta memperpanjang jam operasional hingga pukul 01.00 WIB."
    assert article.body == ["Penumpang diimbau memantau jadwal terbaru."]
    assert article.related == [RelatedLink(title="Tarif Integrasi Berlaku",
                                           url="https://rinews.example/berita/tarif-integrasi")]


async def test_markdown_without_front_matter_takes_its_heading_as_title(tmp_path: Path) -> None:
    write(tmp_path / "banjir.md", "# Banjir Rendam Bekasi\n\nBanjir merendam 300 rumah di "
          "Bekasi.\n\n![foto](https://rinews.example/foto/banjir.jpg)\n")
    [article] = (await read(tmp_path, url_template=TEMPLATE)).articles
    assert article.title == "Banjir Rendam Bekasi"
    assert article.url == "https://rinews.example/berita/banjir-rendam-bekasi"
    assert article.image == "https://rinews.example/foto/banjir.jpg"
    assert article.lede == "Banjir merendam 300 rumah di Bekasi."


async def test_json_file_becomes_an_article(tmp_path: Path) -> None:
    write(tmp_path / "cabai.json", json.dumps(JSON_ARTICLE))
    [article] = (await read(tmp_path)).articles
    assert article.title == "Harga Cabai Rawit Turun"
    assert article.url == "https://rinews.example/berita/harga-cabai-turun"
    assert article.image == "https://rinews.example/foto/cabai.jpg"
    assert article.published == datetime(2026, 11, 25, 0, 15, tzinfo=UTC)
    assert article.author == "Yusuf Maulana"
    assert article.dateline == "Jakarta"
    assert article.lede == "Harga cabai rawit turun menjadi Rp50.000 per kilogram."
    assert article.body == ["Pasokan dari Jawa Tengah bertambah."]
    assert article.tags == ["ekonomi"]


async def test_json_body_may_be_a_list_of_paragraphs_or_html(tmp_path: Path) -> None:
    write(tmp_path / "a.json", json.dumps({"title": "Satu", "url": "https://x.example/1",
                                           "body": ["Paragraf satu.", "Paragraf dua."]}))
    write(tmp_path / "b.json", json.dumps({"title": "Dua", "url": "https://x.example/2",
                                           "body": "<p>Paragraf &amp; satu.</p><p>Dua.</p>"}))
    articles = {a.title: a for a in (await read(tmp_path)).articles}
    assert articles["Satu"].paragraphs == ["Paragraf satu.", "Paragraf dua."]
    assert articles["Dua"].paragraphs == ["Paragraf & satu.", "Dua."]


# --------------------------------------------------------------------------- url_template


async def test_url_template_fills_slug_stem_and_local_date(tmp_path: Path) -> None:
    write(tmp_path / "2026-11-25-banjir.md",
          "---\ntitle: Banjir Rendam Bekasi\npublished: 2026-11-25T06:00:00+07:00\n---\n"
          "Banjir merendam 300 rumah.\n")
    template = "https://rinews.example/{date}/{stem}/{slug}"
    [article] = (await read(tmp_path, url_template=template)).articles
    assert article.url == "https://rinews.example/2026/11/25/2026-11-25-banjir/banjir-rendam-bekasi"


async def test_date_of_a_file_without_published_is_its_modification_time(tmp_path: Path) -> None:
    write(tmp_path / "kabar.txt", "Kabar Pagi Ini\nWarga berkumpul di alun-alun.",
          mtime=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    [article] = (await read(tmp_path, url_template="https://x.example/{date}/{slug}")).articles
    assert article.published == datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert article.url == "https://x.example/2026/03/04/kabar-pagi-ini"


async def test_a_file_with_neither_url_nor_template_is_a_problem_that_names_the_fix(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "kabar.txt", "Kabar Pagi\nWarga berkumpul di alun-alun.")
    result = await read(tmp_path)
    assert result.articles == []
    [problem] = result.problems
    assert problem.startswith(f"{path}: ")
    assert "url_template" in problem


# --------------------------------------------------------------------------- stable keys


async def test_editing_a_file_keeps_its_key_but_changes_its_content_hash(tmp_path: Path) -> None:
    path = write(tmp_path / "desk" / "kabar.txt", "Kabar Pagi\nWarga berkumpul di alun-alun.")
    [before] = (await read(tmp_path, url_template=TEMPLATE)).articles
    write(path, "Kabar Pagi Ini\nWarga berkumpul di alun-alun kota sejak subuh.")
    [after] = (await read(tmp_path, url_template=TEMPLATE)).articles
    assert before.key == after.key == "file:desk/kabar.txt"
    assert before.content_hash != after.content_hash
    assert after.title == "Kabar Pagi Ini"


def test_load_article_file_without_a_root_keys_by_absolute_path(tmp_path: Path) -> None:
    path = write(tmp_path / "kabar.txt", "Kabar Pagi\nWarga berkumpul.")
    article = load_article_file(path, url_template=TEMPLATE, now=NOW)
    assert article.key == "file:" + path.resolve().as_posix()
    assert article.source == "manual"
    assert article.first_seen == NOW


# --------------------------------------------------------------------------- problems


@pytest.mark.parametrize(("name", "content", "complaint"), [
    ("rusak.json", '{"title": "x", "body": "y",}', "invalid JSON at line 1"),
    ("daftar.json", '["bukan", "objek"]', "one object"),
    ("tanpa-isi.json", '{"title": "x", "url": "https://x.example/1"}', '"body" is missing'),
    ("kosong.txt", "  \n\n", "empty"),
    ("buruk.md", "---\ntitle: [belum ditutup\n---\nIsi.", "bad front matter at line 2"),
    ("terbuka.md", "---\ntitle: Judul\nIsi berita tanpa penutup.", "never closed"),
    ("salah-kunci.md", "---\ntitel: Judul\n---\nIsi.", "did you mean 'title'?"),
    ("tanggal.md", "---\npublished: kemarin sore\n---\nIsi.", "not a date"),
    ("alamat.json", '{"url": "rinews.example/a", "body": "Isi."}', "https://"),
    ("picture.md", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not text in any encoding"),
    ("judul-saja.md", "---\ntitle: Judul\nurl: https://x.example/a\n---\n", "no article text"),
])
async def test_a_malformed_file_is_one_problem_line_and_the_others_are_read(
    tmp_path: Path, name: str, content: str | bytes, complaint: str
) -> None:
    write(tmp_path / "baik.json", json.dumps(JSON_ARTICLE))
    bad = write(tmp_path / name, content)
    result = await read(tmp_path)
    assert [a.title for a in result.articles] == ["Harga Cabai Rawit Turun"]
    [problem] = result.problems
    assert problem.startswith(f"{bad}: ")
    assert complaint in problem
    assert "\n" not in problem
    assert "; " in problem  # what is wrong; how to fix it


async def test_a_windows_1252_txt_file_is_read_with_its_curly_quotes(tmp_path: Path) -> None:
    text = "Warga Menyambut \u201cPesta Rakyat\u201d\nCaf\u00e9 di alun-alun ramai sejak pagi."
    write(tmp_path / "lama.txt", text.encode("cp1252"))
    result = await read(tmp_path, url_template=TEMPLATE)
    assert result.problems == []
    [article] = result.articles
    assert article.title == "Warga Menyambut \u201cPesta Rakyat\u201d"
    assert article.lede == "Caf\u00e9 di alun-alun ramai sejak pagi."


def test_load_article_file_raises_one_line_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "rusak.json", "{")
    with pytest.raises(SourceError) as caught:
        load_article_file(path)
    assert str(caught.value).startswith(f"{path}: invalid JSON")
    with pytest.raises(SourceError, match="no such file"):
        load_article_file(tmp_path / "hilang.txt")


async def test_a_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist; create it or fix"):
        await read(tmp_path / "tidak-ada")


# --------------------------------------------------------------------------- which files


async def test_hidden_temporary_and_unknown_files_are_skipped_and_subfolders_read(
    tmp_path: Path,
) -> None:
    good = "Judul Berita\nIsi berita yang baik."
    for name in ("a.txt", "desk/b.md", "desk/2026/c.txt"):
        write(tmp_path / name, good)
    for name in (".hidden.txt", ".git/x.txt", "d.txt~", ".d.txt.swp", "e.txt.tmp", "~$f.txt",
                 "#g.txt#", "foto.jpg", "catatan.docx", "README.md"):
        write(tmp_path / name, good)
    result = await read(tmp_path, url_template=TEMPLATE)
    assert result.problems == []
    assert sorted(a.key for a in result.articles) == [
        "file:a.txt", "file:desk/2026/c.txt", "file:desk/b.md"]
    assert [p.relative_to(tmp_path).as_posix() for p in article_files(tmp_path)] == [
        "a.txt", "desk/2026/c.txt", "desk/b.md"]


async def test_articles_are_ordered_by_publication_time(tmp_path: Path) -> None:
    write(tmp_path / "a-baru.txt", "Berita Baru\nIsi.", mtime=NOW - timedelta(hours=1))
    write(tmp_path / "b-lama.txt", "Berita Lama\nIsi.", mtime=NOW - timedelta(hours=5))
    write(tmp_path / "c-tengah.md", "---\ntitle: Berita Tengah\npublished: "
          f"{(NOW - timedelta(hours=3)).isoformat()}\n---\nIsi.")
    result = await read(tmp_path, url_template=TEMPLATE)
    assert [a.title for a in result.articles] == ["Berita Lama", "Berita Tengah", "Berita Baru"]


async def test_articles_older_than_max_age_are_backlog(tmp_path: Path) -> None:
    write(tmp_path / "lama.txt", "Berita Lama\nIsi.", mtime=NOW - timedelta(days=3))
    write(tmp_path / "baru.txt", "Berita Baru\nIsi.", mtime=NOW - timedelta(hours=3))
    result = await read(tmp_path, url_template=TEMPLATE, max_age="2d")
    assert {a.title: a.backlog for a in result.articles} == {
        "Berita Lama": True, "Berita Baru": False}


async def test_language_follows_config_then_the_text_then_the_site(tmp_path: Path) -> None:
    write(tmp_path / "en.txt", "Council Votes\nThe council said that the budget is in the red.")
    write(tmp_path / "pendek.txt", "Kabar Singkat\nJokowi ke Bali.")
    detected = {a.title: a.language for a in (await read(tmp_path, url_template=TEMPLATE)).articles}
    assert detected == {"Council Votes": "en", "Kabar Singkat": "id"}  # site language: id
    forced = await read(tmp_path, url_template=TEMPLATE, language="en")
    assert {a.language for a in forced.articles} == {"en"}


# --------------------------------------------------------------------------- polling


async def test_an_unchanged_folder_is_not_modified_and_a_change_is_read(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Judul Satu\nIsi.")
    first = await read(tmp_path, url_template=TEMPLATE)
    assert len(first.articles) == 1 and first.state.etag
    again = await read(tmp_path, first.state, url_template=TEMPLATE)
    assert again.not_modified is True and again.articles == []
    write(tmp_path / "b.txt", "Judul Dua\nIsi.")
    changed = await read(tmp_path, again.state, url_template=TEMPLATE)
    assert changed.not_modified is False
    assert [a.title for a in changed.articles] != []
    assert len(changed.articles) == 2


async def test_fixing_the_configuration_rereads_files_that_had_problems(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Judul Satu\nIsi.")
    broken = await read(tmp_path)
    assert len(broken.problems) == 1
    fixed = await read(tmp_path, broken.state, url_template=TEMPLATE)
    assert fixed.not_modified is False
    assert [a.url for a in fixed.articles] == ["https://rinews.example/berita/judul-satu"]


async def test_fetch_source_dispatches_directory_sources(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Judul Satu\nIsi.")
    result = await fetch_source(source(tmp_path, url_template=TEMPLATE), SourceState())
    assert [a.key for a in result.articles] == ["file:a.txt"]


async def test_a_file_still_being_written_waits_for_the_next_poll(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("Judul Lama\n\nJakarta — Isi lama.\n", encoding="utf-8")
    past = time.time() - 60
    os.utime(tmp_path / "old.txt", (past, past))
    (tmp_path / "new.txt").write_text("Judul Baru\n\nJakarta — Isi yang belum", encoding="utf-8")
    template = "https://rinews.example/{slug}"
    first = await read(tmp_path, settle="30s", url_template=template)
    assert [a.title for a in first.articles] == ["Judul Lama"]
    assert first.state.etag is None  # the next poll reads the folder again
    os.utime(tmp_path / "new.txt", (past, past))
    second = await read(tmp_path, first.state, settle="30s", url_template=template)
    assert sorted(a.title for a in second.articles) == ["Judul Baru", "Judul Lama"]
