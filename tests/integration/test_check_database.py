"""`distributor check --online` opens the database too: it says whether it answers and where
its schema stands against this release's, and an unreachable one is one error line and exit
1. A SQLite file that is not there yet is said so and not made. Real SQLite files and the
real PostgreSQL server's port (a closed one for the unreachable case)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from distributor.store.db import HEAD_REVISION

Cli = Callable[..., CompletedProcess[str]]
CONFIG = """\
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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_online_says_a_new_sqlite_file_is_made_by_the_first_run_and_makes_none(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    db = tmp_path / "data" / "news.db"
    config = write_config(CONFIG, database=f"sqlite:///{db}")
    result = run_cli("--config", config, "check", "--online")
    assert result.returncode == 0, result.stderr
    assert f"database: {db} does not exist yet; the first run creates it" in result.stdout
    assert not db.exists() and not db.parent.exists()


def test_check_online_says_the_schema_is_up_to_date_after_an_upgrade(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    db = tmp_path / "news.db"
    config = write_config(CONFIG, database=f"sqlite:///{db}")
    assert run_cli("--config", config, "db", "upgrade").returncode == 0
    result = run_cli("--config", config, "check", "--online")
    assert result.returncode == 0, result.stderr
    assert (f"database: sqlite:///{db} answers; its schema is up to date (revision "
            f"{HEAD_REVISION})") in result.stdout


def test_check_online_says_in_one_line_that_the_database_does_not_answer(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    url = f"postgresql://newsroom:pw-rahasia@127.0.0.1:{_closed_port()}/news"
    config = write_config(CONFIG, database=url)
    result = run_cli("--config", config, "check", "--online")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: database: ")]
    assert "127.0.0.1" in line and "pw-rahasia" not in result.stderr + result.stdout
    assert "1 problem found online" in result.stderr
