"""A store that did not answer at start (``open_store(wait=...)``) is tried again at its first
use, then no more than once per wait: every use in between fails at once with the last
attempt's error instead of each waiting for a connection of its own, and the wait grows
while the database stays away (issue 15, from the review of the store-away work)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from distributor.store.db import UNREACHABLE_RETRY, Store, make_engine


class HangUp:
    """A TCP server on 127.0.0.1 that takes each connection and closes it at once (a
    database that does not answer), counting them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    server = HangUp()
    yield server
    server.sock.close()


def test_uses_after_a_failed_attempt_fail_at_once_without_connecting_again(
        hang_up: HangUp) -> None:
    store = Store(make_engine(f"postgresql+psycopg://u@127.0.0.1:{hang_up.port}/db"),
                  ready=False)
    try:
        with pytest.raises(DBAPIError) as first:
            store.ensure_ready()
        tried = hang_up.accepted
        assert tried >= 1
        for _ in range(20):
            with pytest.raises(DBAPIError) as again, store.session():
                pass
            assert again.value is first.value  # the last attempt's error, raised again
        assert hang_up.accepted == tried  # and no connection attempt of their own
        assert not store.ready

        time.sleep(UNREACHABLE_RETRY)  # once the wait is over, the next use tries again
        with pytest.raises(DBAPIError) as later:
            store.ensure_ready()
        assert later.value is not first.value and hang_up.accepted > tried
        tried = hang_up.accepted  # the wait has doubled (2 s): a use now tries nothing
        with pytest.raises(DBAPIError) as cached:
            store.ensure_ready()
        assert cached.value is later.value and hang_up.accepted == tried
    finally:
        store.dispose()


def test_a_database_at_a_newer_revision_is_not_tried_again_at_every_use(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as db:  # as a newer release of distributor left it
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
    engine = make_engine(f"sqlite:///{path}")
    connections = []
    event.listen(engine, "checkout", lambda *_: connections.append(1))
    store = Store(engine, ready=False)
    try:
        with pytest.raises(Exception) as first:
            store.ensure_ready()
        assert "ffffffffffff" in str(first.value)
        used = len(connections)
        for _ in range(10):
            with pytest.raises(Exception) as again:
                store.ensure_ready()
            assert again.value is first.value
        assert len(connections) == used
    finally:
        store.dispose()
