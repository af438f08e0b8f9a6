"""`distributor check --online` opens the database too: it says whether it answers and where
its schema stands against this release's, and an unreachable one is one error line and exit
1. A SQLite file that is not there yet is said so and not made. Real SQLite files and the
real PostgreSQL server's port (a closed one for the unreachable case)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

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


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_check_refuses_a_database_that_is_neither_sqlite_nor_postgresql_naming_its_line(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    """A mysql:// URL passed `check` and failed later (with a hint to install the PostgreSQL
    driver): now one error line with the file and line of `database:`, the schemes that work,
    never the password."""
    (tmp_path / "articles").mkdir()
    config = write_config(CONFIG, database="mysql://news:pw-rahasia@db.example/news",
                          name="site.yaml")
    result = run_cli("--config", config, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {config}:{_line_of(config, 'database:')}: database: mysql:// databases are not "
        "supported; distributor supports SQLite and PostgreSQL: write "
        "sqlite:///path/to/distributor.db or postgresql://user@host/dbname",
        f"1 problem in {config}; fix it and run `distributor check` again"]
    assert "pw-rahasia" not in result.stdout + result.stderr


def test_a_database_url_from_the_environment_is_checked_too(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    config = write_config(CONFIG, database="${DISTRIBUTOR_DATABASE_URL}")
    result = run_cli("--config", config, "check",
                     env={"DISTRIBUTOR_DATABASE_URL": "oracle://scott:tiger@db.example/news"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(
        f"error: {config}:{_line_of(config, 'database:')}: database: oracle:// databases are not "
        "supported; ")
    assert "tiger" not in result.stderr
    # and a variable that is not set is said once: the variable, not also its empty value
    unset = run_cli("--config", config, "check")
    assert unset.returncode == 2
    assert [x for x in unset.stderr.splitlines() if x.startswith("error:")] == [
        f"error: {config}:{_line_of(config, 'database:')}: database: environment variable "
        "DISTRIBUTOR_DATABASE_URL is not set; export DISTRIBUTOR_DATABASE_URL=... or write "
        "${DISTRIBUTOR_DATABASE_URL:-default} to give a default"]


def test_the_missing_driver_hint_is_only_for_postgresql() -> None:
    from distributor.store.db import StoreError, make_engine

    with pytest.raises(StoreError) as refused:
        make_engine("mysql://news:pw-rahasia@db.example/news")
    assert "distributor[postgres]" not in str(refused.value)
    assert "mysql:// databases are not supported" in str(refused.value)
    assert "pw-rahasia" not in str(refused.value)


def test_a_database_that_does_not_answer_names_the_configuration_file_in_use(
        write_config: Callable[..., Path], run_cli: Cli, tmp_path: Path) -> None:
    """`--config site.yaml`: the store's one line sends the user to site.yaml's `database:`
    line, not to a channels.yaml that is not there."""
    (tmp_path / "articles").mkdir()
    url = f"postgresql://newsroom@127.0.0.1:{_closed_port()}/news"
    config = write_config(CONFIG, database=url, name="site.yaml")
    where = f"`database:` in {config}:{_line_of(config, 'database:')} (or DISTRIBUTOR_DATABASE_URL)"
    for args in (["articles", "list"], ["check", "--online"]):
        result = run_cli("--config", config, *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
        assert f"check {where} and that the server is running" in line, line
        assert "channels.yaml" not in result.stderr
