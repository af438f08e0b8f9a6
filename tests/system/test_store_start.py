"""Issue 15, item 7: processes that start on a new database at the same moment (`serve` and
`run` from one compose file, two previews at once) migrate it once, under a lock: an advisory
lock on PostgreSQL, an exclusive one on SQLite; the others wait and go on."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from distributor.store import open_store

pytestmark = pytest.mark.slow
PROCESSES = 4
ROUNDS = 5


def _open(url: str, barrier: multiprocessing.synchronize.Barrier,
          results: multiprocessing.queues.Queue[str]) -> None:
    barrier.wait()
    try:
        open_store(url).dispose()
        results.put("ok")
    except BaseException as exc:  # what the process would have died of
        results.put(f"{type(exc).__name__}: {exc}".splitlines()[0])


def start_at_once(url: str) -> list[str]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    results: multiprocessing.queues.Queue[str] = context.Queue()
    procs = [context.Process(target=_open, args=(url, barrier, results))
             for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    return outcomes


def assert_migrated_once(url: str) -> None:
    store = open_store(url, migrate=False)
    try:
        with store.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            assert len(versions) == 1
            assert "articles" in inspect(connection).get_table_names()
    finally:
        store.dispose()


def test_processes_starting_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    for number in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'new-{number}.db'}"
        assert start_at_once(url) == ["ok"] * PROCESSES
        assert_migrated_once(url)


@pytest.fixture
def new_pg_databases(pg_url: str) -> Iterator[Callable[[], str]]:
    import psycopg

    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    made: list[str] = []

    def make() -> str:
        name = f"distributor_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return pg_url.rsplit("/", 1)[0] + "/" + name

    yield make
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_processes_starting_on_a_new_postgresql_database_all_start(
        new_pg_databases: Callable[[], str]) -> None:
    for _ in range(ROUNDS):
        url = new_pg_databases()
        assert start_at_once(url) == ["ok"] * PROCESSES
        assert_migrated_once(url)


assert os.name == "posix"  # fork
