"""Issue 15, item 1: two articles never merge silently. Within a source an article is its key;
across sources one canonical URL given by a feed or a file is one article; a URL derived from
``url_template`` never merges two files (the second gets a short suffix and a warning)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from sqlalchemy import select

from distributor.articles import Article
from distributor.ledger.ingest import store_article
from distributor.store import open_store
from distributor.store.models import ArticleRow

LONG = ("Pemerintah provinsi DKI Jakarta memperpanjang masa tanggap darurat banjir di lima "
        "wilayah kota hingga akhir pekan depan")
BODY = "JAKARTA — Banjir masih menggenangi sejumlah kawasan di ibu kota pada Kamis pagi.\n"


def settled(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


@pytest.fixture
def folder_config(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    (tmp_path / "articles").mkdir()
    return write_config("""\
        sources:
          - name: newsroom
            type: directory
            path: articles/
            url_template: https://rinews.example/berita/{slug}
        """)


def stored(config: Path) -> list[tuple[str, str, str | None]]:
    db = config.parent / "distributor.db"
    store = open_store(f"sqlite:///{db}")
    try:
        with store.session() as session:
            rows = session.scalars(select(ArticleRow).order_by(ArticleRow.id)).all()
            return [(r.title, r.url, r.url_note) for r in rows]
    finally:
        store.dispose()


def test_two_long_titles_sharing_their_first_80_characters_are_two_articles_and_a_warning(
    folder_config: Path, tmp_path: Path, run_cli: Callable[..., CompletedProcess[str]],
) -> None:
    settled(tmp_path / "articles" / "banjir.txt", f"{LONG}\n\n{BODY}")
    first = run_cli("--config", folder_config, "fetch")
    assert first.returncode == 0, first.stderr
    assert "1 new, 0 known" in first.stdout
    settled(tmp_path / "articles" / "banjir-update.txt", f"{LONG} (pukul 12.00)\n\n{BODY}")
    second = run_cli("--config", folder_config, "fetch")
    assert second.returncode == 0, second.stderr
    assert "1 new, 1 known" in second.stdout
    rows = stored(folder_config)
    assert [title for title, _, _ in rows] == [LONG, f"{LONG} (pukul 12.00)"]
    first_url, second_url = rows[0][1], rows[1][1]
    assert first_url != second_url and second_url.startswith(first_url)
    assert second_url == first_url + "-2"
    assert rows[0][2] is None and rows[1][2] is not None and first_url in rows[1][2]
    [warning] = [line for line in second.stderr.splitlines() if line.startswith("warning:")]
    assert "banjir-update.txt" in warning and first_url in warning and second_url in warning
    settled(tmp_path / "articles" / "lain.txt", f"Berita lain\n\n{BODY}")
    again = run_cli("--config", folder_config, "fetch")  # re-reading the two changes nothing
    assert "1 new, 2 known" in again.stdout and "warning" not in again.stderr
    assert [url for _, url, _ in stored(folder_config)][:2] == [first_url, second_url]


def test_two_files_with_the_same_derived_link_in_one_poll_are_both_stored(
    folder_config: Path, tmp_path: Path, run_cli: Callable[..., CompletedProcess[str]],
) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        settled(tmp_path / "articles" / name, f"{LONG} {name[0] * 3}\n\n{BODY}")
    result = run_cli("--config", folder_config, "fetch")
    assert "3 new, 0 known" in result.stdout, result.stdout + result.stderr
    urls = [url for _, url, _ in stored(folder_config)]
    assert len(set(urls)) == 3
    assert sum(line.startswith("warning:") for line in result.stderr.splitlines()) == 2


def article(source: str, key: str, url: str, *, derived: bool = False) -> Article:
    return Article(source=source, key=key, url=url, title=f"Judul {key}", lede="Lede.",
                   url_derived=derived)


def test_a_story_by_feed_and_by_folder_is_one_article_whichever_comes_first(
        db_url: str) -> None:
    store = open_store(db_url)
    now = datetime.now(UTC)
    url = "https://rinews.example/berita/banjir-jakarta"
    with store.session() as session:
        feed, new1 = store_article(session, article("portal", "guid-1", url), now=now)
        folder, new2 = store_article(session, article("newsroom", "file:b.txt", url,
                                                      derived=True), now=now)
        folder2, new3 = store_article(session, article("newsroom", "file:c.txt", url + "-x",
                                                       derived=True), now=now)
        feed2, new4 = store_article(session, article("portal", "guid-2", url + "-x"), now=now)
    store.dispose()
    assert (new1, new2, new3, new4) == (True, False, True, False)
    assert feed.id == folder.id and folder2.id == feed2.id


def test_within_a_source_an_article_is_its_key_never_a_derived_link(db_url: str) -> None:
    store = open_store(db_url)
    now = datetime.now(UTC)
    url = "https://rinews.example/berita/banjir"
    with store.session() as session:
        a, _ = store_article(session, article("newsroom", "file:a.txt", url, derived=True),
                             now=now)
        b, new_b = store_article(session, article("newsroom", "file:b.txt", url, derived=True),
                                 now=now)
        other, new_o = store_article(session, article("desk", "file:c.txt", url, derived=True),
                                     now=now)
        urls = [r.url for r in session.scalars(select(ArticleRow).order_by(ArticleRow.id))]
    store.dispose()
    assert new_b and new_o and len({a.id, b.id, other.id}) == 3
    assert urls == [url, url + "-2", url + "-3"]


def test_a_copy_of_a_file_is_the_same_article_not_a_second_post(
    folder_config: Path, tmp_path: Path, run_cli: Callable[..., CompletedProcess[str]],
) -> None:
    settled(tmp_path / "articles" / "banjir.txt", f"{LONG}\n\n{BODY}")
    settled(tmp_path / "articles" / "banjir (1).txt", f"{LONG}\n\n{BODY}")
    result = run_cli("--config", folder_config, "fetch")
    assert "1 new, 1 known" in result.stdout, result.stdout + result.stderr
    assert "warning" not in result.stderr
    assert len(stored(folder_config)) == 1
