"""Opening the store: engine, sessions, and migrations applied at start."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    OperationalError,
    PendingRollbackError,
    ProgrammingError,
)
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest migration's revision (tests/unit/test_store_head.py holds it to alembic's head):
#: a database already there opens without loading alembic and the migration scripts, a third
#: of a second of every command's start
HEAD_REVISION = "0010"
#: the PostgreSQL advisory lock (two int4 keys) held while migrating: "dbmg", "migr"
MIGRATION_LOCK = (0x64626D67, 0x6D696772)


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says how to fix it."""


#: after a failed attempt to reach a store that has not answered yet, requests fail at once
#: for this many seconds instead of each waiting for its own connection attempt; the wait
#: doubles with each failed attempt up to UNREACHABLE_RETRY_MAX (an attempt may block its
#: caller up to the connect timeout when the server drops packets)
UNREACHABLE_RETRY = 1.0
UNREACHABLE_RETRY_MAX = 16.0


class Store:
    def __init__(self, engine: Engine, *, ready: bool = True, url: str = ""):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        #: migrations checked (False: the database did not answer at start, see open_store)
        self.ready = ready
        self.url = url or str(engine.url)
        self._ready_lock = threading.Lock()
        #: (when the next attempt may be made, the last attempt's error, the wait before it)
        self._failed: tuple[float, Exception, float] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_ready(self) -> None:
        """Check the migrations once the database answers, when it did not at start: until
        then every use raises the error of the last attempt (a DBAPIError, which every interface
        turns into its one line or its 503). Attempts are a second apart at first, then ever
        further apart, up to UNREACHABLE_RETRY_MAX."""
        if self.ready:
            return
        with self._ready_lock:
            if self.ready:
                return
            if self._failed and time.monotonic() < self._failed[0]:
                raise self._failed[1].with_traceback(None)
            try:
                self.migrate()
            except Exception as exc:  # any: a database at a newer revision is not retried at once
                wait = min(2 * self._failed[2], UNREACHABLE_RETRY_MAX) if self._failed else \
                    UNREACHABLE_RETRY
                self._failed = (time.monotonic() + wait, exc, wait)
                raise
            self.ready, self._failed = True, None
        log.info("the database %s answers now; its schema is checked and current, work "
                    "goes on", redact_url(self.url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        self.ensure_ready()
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest revision, under a lock that processes starting on
        the same database at the same moment share (a PostgreSQL advisory lock, an exclusive
        SQLite transaction): the first migrates, the others wait and find nothing to do."""
        for attempt in range(1, 6):
            try:
                if self.revision() == HEAD_REVISION:
                    return
                from alembic.config import Config as AlembicConfig

                cfg = AlembicConfig()
                cfg.set_main_option("script_location", str(MIGRATIONS))
                if not self._at_head(cfg):
                    self._upgrade(cfg)
                return
            except OperationalError as exc:
                # SQLite answers "locked" without waiting in a few moments of a new file's
                # life (two processes turning on WAL at once): wait a little, try again
                if self.dialect != "sqlite" or "locked" not in str(exc.orig) or attempt == 5:
                    raise
                time.sleep(0.2 * attempt)

    def _upgrade(self, cfg: Any) -> None:
        from alembic import command

        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"),
                                   {"c": MIGRATION_LOCK[0], "k": MIGRATION_LOCK[1]})
            elif self.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN EXCLUSIVE")
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def _at_head(self, cfg: Any) -> bool:
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current is not None and current == head

    def revision(self) -> str | None:
        """The schema's revision as recorded in the database; None when there is none yet.
        Raises the driver's error when the database cannot be reached."""
        with self.engine.connect() as connection:
            try:
                value = connection.execute(text("SELECT version_num FROM alembic_version")
                                           ).scalar()
            except (OperationalError, ProgrammingError):  # no such table: a new database
                return None
        return str(value) if value is not None else None

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: seconds to wait for PostgreSQL to accept and answer a new connection
CONNECT_TIMEOUT = 10


def make_engine(url: str) -> Engine:
    from distributor.values import database_problem

    problem = database_problem(url)
    if problem is not None:
        raise StoreError(f"database: {problem}")
    postgres = not url.startswith("sqlite")
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        # a server that takes the connection but never answers must not hang every command:
        # libpq waits forever unless told (the URL's own ?connect_timeout= wins)
        args = {} if "connect_timeout=" in url else {"connect_timeout": CONNECT_TIMEOUT}
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    except ArgumentError as exc:
        raise StoreError(f"database URL {redact_url(url)!r} is not valid: {exc}; "
                         "use sqlite:///distributor.db or postgresql://user@host/db") from None
    except ModuleNotFoundError as exc:
        fix = ("install distributor[postgres]" if postgres else
               "install a Python built with its sqlite3 module")
        raise StoreError(f"the driver for {redact_url(url)} is not installed ({exc.name}); "
                         f"{fix}") from None


def open_store(url: str, *, migrate: bool = True, wait: str | None = None,
               where: str | None = None) -> Store:
    """Open the database and bring its schema up to date. Raises :class:`StoreError` (one
    line: what, where, what to do) when it cannot be opened or changed.

    ``wait`` (a long-running command: what it does meanwhile) opens a store that does not
    answer anyway: one warning line, and the migrations are checked at its first use once
    it answers (:meth:`Store.ensure_ready`). ``where``: where the URL is set (``FILE:LINE``
    of ``database:``), for the messages."""
    store = Store(make_engine(url), url=url)
    if migrate:
        try:
            store.migrate()
        except DBAPIError as exc:
            if wait is None:
                store.dispose()
                raise StoreError(store_problem(exc, url, where)) from None
            store.ready = False
            store._failed = (time.monotonic() + UNREACHABLE_RETRY, exc, UNREACHABLE_RETRY)
            log.warning("%s; %s", store_problem(exc, url, where), wait)
    return store


def database_setting(where: str | None) -> str:
    """Where a user changes the database: ``database:`` at FILE:LINE (or the variable)."""
    return (f"`database:` in {where or 'the configuration file'} (or "
            "DISTRIBUTOR_DATABASE_URL)")


def database_status(url: str, where: str | None = None) -> str:
    """One line on the database for ``check --online``: it answers, and its schema's revision
    against this release's. A SQLite file that is not there yet is said so (and not made).
    Raises :class:`StoreError` (one line) when it cannot be read."""
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path and path != ":memory:" and not Path(path).exists():
            return f"{path} does not exist yet; the first run creates it"
    store = Store(make_engine(url), url=url)
    try:
        current = store.revision()
    except DBAPIError as exc:
        raise StoreError(store_problem(exc, url, where)) from None
    finally:
        store.dispose()
    shown = redact_url(url)
    if current is None:
        return (f"{shown} answers; no schema yet: the first run (or `distributor db upgrade`) "
                "makes it")
    if current == HEAD_REVISION:
        return f"{shown} answers; its schema is up to date (revision {current})"
    return (f"{shown} answers; its schema is at revision {current}, this release's is "
            f"{HEAD_REVISION}: `distributor db upgrade` (or the first run) brings it there")


def _sqlite_file(url: str) -> str:
    path = url.split("///", 1)[-1]
    if path.startswith("file:"):
        path = path[5:]
    return path.split("?", 1)[0]


def store_problem(exc: BaseException, url: str, where: str | None = None) -> str:
    """One line for an error the database gave: what, where, what to do; nothing stored is
    lost (the transaction it broke was rolled back). ``where``: where the URL is set
    (``FILE:LINE`` of ``database:``, :meth:`Config.where`)."""
    if isinstance(exc, PendingRollbackError):  # the connection broke in a transaction
        detail = "the connection to the database broke"
    else:
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    low = detail.lower()
    if url.startswith("sqlite"):
        where = _sqlite_file(url)
        if "not a database" in low or "malformed" in low or "disk i/o" in low:
            return (f"the database file {where} is damaged ({detail}); restore it from a "
                    "backup, or move it away and distributor starts a new one")
        if "readonly" in low or "read-only" in low or "unable to open" in low:
            return (f"the database file {where} is read-only or cannot be opened ({detail}); "
                    "let distributor write the file and its folder, or point `database:` at a "
                    "writable place (nothing stored was lost)")
        if "full" in low:
            return (f"the disk holding the database file {where} is full ({detail}); free some "
                    "space and run again (nothing stored was lost)")
        if "locked" in low:
            return (f"the database file {where} is locked by another program ({detail}); stop "
                    "it or wait, then run again")
        return (f"the database file {where} failed ({detail}); check the file and the disk "
                "(nothing stored was lost)")
    return (f"cannot use the database {redact_url(url)} ({detail}); check "
            f"{database_setting(where)} and that the server is running (nothing stored was "
            "lost)")


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url
