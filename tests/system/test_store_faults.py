"""Issue 15, item 6: a damaged, read-only or full SQLite file and a PostgreSQL server that is
gone give one line (what, where, what to do) and a non-zero exit, never a traceback; nothing
already stored is lost; `serve` keeps answering and `/healthz` says 503 while the store is
unreachable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from support.web import ServeProcess, free_port, serve_env

from distributor.store import open_store
from distributor.store.models import ArticleRow

Cli = Callable[..., CompletedProcess[str]]
BODY = "JAKARTA — Banjir masih menggenangi sejumlah kawasan di ibu kota pada Kamis pagi.\n"
SOURCES = """\
sources:
  - name: newsroom
    type: directory
    path: articles/
    url_template: https://rinews.example/berita/{slug}
channels:
  - name: files
    type: outbox
    path: outbox/
"""


def article_file(folder: Path, name: str, title: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n\n{BODY}", encoding="utf-8")
    old = time.time() - 60
    os.utime(path, (old, old))


def one_error_line(result: CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def titles(url: str) -> list[str]:
    store = open_store(url, migrate=False)
    try:
        with store.session() as session:
            return [r.title for r in session.scalars(select(ArticleRow).order_by(ArticleRow.id))]
    finally:
        store.dispose()


@pytest.mark.parametrize("command", [["fetch"], ["articles", "list"], ["run", "--once"]])
def test_a_damaged_sqlite_file_is_one_line_and_is_left_as_it_was(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli,
        command: list[str]) -> None:
    db = tmp_path / "distributor.db"
    damaged = b"this is not a database, it is a text file someone saved here\n" * 100
    db.write_bytes(damaged)
    article_file(tmp_path / "articles", "a.txt", "Banjir Jakarta")
    config = write_config(SOURCES)
    line = one_error_line(run_cli("--config", config, *command))
    assert str(db) in line and "damaged" in line and "backup" in line
    assert db.read_bytes() == damaged


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Makes a file read-only even for root (the immutable attribute of ext4 and others)."""
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i does not work here: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_database_is_one_line_and_keeps_what_was_stored(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli,
        read_only: Callable[[Path], None]) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    db = tmp_path / "distributor.db"
    article_file(tmp_path / "articles", "a.txt", "Banjir Jakarta")
    config = write_config(SOURCES)
    assert run_cli("--config", config, "fetch").returncode == 0
    article_file(tmp_path / "articles", "b.txt", "Gempa Cianjur")
    read_only(db)
    line = one_error_line(run_cli("--config", config, "fetch"))
    assert str(db) in line and "read-only" in line
    assert titles(f"sqlite:///{db}") == ["Banjir Jakarta"]


def test_a_full_disk_is_one_line_and_keeps_what_was_stored(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    db = tmp_path / "distributor.db"
    article_file(tmp_path / "articles", "a.txt", "Banjir Jakarta")
    config = write_config(SOURCES)
    assert run_cli("--config", config, "fetch").returncode == 0
    for i in range(40):  # enough text that the next article needs a new page
        article_file(tmp_path / "articles", f"b{i}.txt", f"Gempa Cianjur {i} " + "x" * 300)

    def full(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", full)
    try:
        line = one_error_line(run_cli("--config", config, "fetch"))
    finally:
        event.remove(Engine, "connect", full)
    assert str(db) in line and "full" in line
    assert titles(f"sqlite:///{db}") == ["Banjir Jakarta"]


@pytest.mark.parametrize("command", [["fetch"], ["articles", "list"], ["run", "--once"],
                                     ["deliveries", "list"]])
def test_an_unreachable_postgresql_is_one_line(
        write_config: Callable[..., Path], run_cli: Cli, command: list[str]) -> None:
    config = write_config(SOURCES, database="postgresql://postgres@127.0.0.1:9/nowhere")
    line = one_error_line(run_cli("--config", config, *command))
    assert "127.0.0.1:9/nowhere" in line and "running" in line


def test_serve_answers_503_on_healthz_while_postgresql_is_gone_and_pages_still_answer(
        write_config: Callable[..., Path], tmp_path: Path, pg_url: str) -> None:
    import psycopg

    config = write_config(SOURCES, database=pg_url)
    serve = ServeProcess(config, free_port(), serve_env(), tmp_path / "serve.log").start()
    try:
        assert httpx.get(f"{serve.url}/healthz", timeout=10).status_code == 200
        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        health = httpx.get(f"{serve.url}/healthz", timeout=30)
        assert health.status_code == 503
        page = httpx.get(f"{serve.url}/subscribe", timeout=30)
        assert page.status_code < 600 and serve.proc is not None and serve.proc.poll() is None
        assert httpx.get(f"{serve.url}/healthz", timeout=30).status_code == 503
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        serve.stop()
    assert "Traceback" not in serve.log(), serve.log()
    said = [line for line in serve.log().splitlines() if "healthz:" in line]
    assert said and all("running" in line for line in said), serve.log()


def test_a_read_only_database_can_still_be_listed(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli,
        read_only: Callable[[Path], None]) -> None:
    article_file(tmp_path / "articles", "a.txt", "Banjir Jakarta")
    config = write_config(SOURCES)
    assert run_cli("--config", config, "fetch").returncode == 0
    read_only(tmp_path / "distributor.db")
    listed = run_cli("--config", config, "articles", "list")
    assert listed.returncode == 0 and "Banjir Jakarta" in listed.stdout, listed.stderr


def test_run_goes_on_with_one_line_a_poll_while_postgresql_is_gone(
        write_config: Callable[..., Path], tmp_path: Path, pg_url: str) -> None:
    import psycopg

    article_file(tmp_path / "articles", "a.txt", "Banjir Jakarta")
    config = write_config(SOURCES.replace("    url_template:", "    every: 1s\n    url_template:"),
                          database=pg_url)
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                                 "run"], stdout=log, stderr=subprocess.STDOUT, env=serve_env())
    try:
        wait_for(lambda: "new article 1" in log_path.read_text(errors="replace"))
        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        wait_for(lambda: log_path.read_text(errors="replace").count("job poll") >= 2)
        assert proc.poll() is None  # still running
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        proc.terminate()
        proc.wait(30)
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text
    assert any("job poll" in line and "running" in line for line in text.splitlines()), text


def wait_for(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)
