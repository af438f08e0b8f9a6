"""The database of distributed mode: PostgreSQL only, its migrations and the task queue's
schema (``distributor db upgrade``), and one line for every way talking to it fails."""

from __future__ import annotations

import contextlib
import logging
import zlib
from typing import TYPE_CHECKING

from sqlalchemy import text

from distributor.config import Config
from distributor.store.db import StoreError, database_setting, redact_url

if TYPE_CHECKING:
    pass


log = logging.getLogger("distributor.workers")


#: advisory lock classes (the first int4 key); the second key is a hash of the name
UPGRADE_CLASS = 0x64626D67  # "dbmg"

class DistributedError(Exception):
    """Distributed mode cannot run; the message (one line) says how to fix it."""


class DatabaseUnreachable(DistributedError):
    """PostgreSQL does not take the connection (down, not there yet, refused): a worker or
    scheduler that is starting waits for it."""


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def distributed_problems(config: Config) -> list[str]:
    """What stops ``execution: distributed`` with this configuration (for ``check``)."""
    if config.execution != "distributed":
        return []
    if not is_postgres(config.database):
        return [f"execution: distributed needs a PostgreSQL database, but database is "
                f"{redact_url(config.database)!r}; set {database_setting(config.where('database'))}"
                " to postgresql://user@host/dbname, or use execution: embedded"]
    return []


def require_distributed(config: Config) -> None:
    problems = distributed_problems(config)
    if problems:
        raise DistributedError(problems[0])


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (``postgresql+psycopg://...``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not is_postgres(url):
        raise DistributedError(f"{redact_url(url)!r} is not a PostgreSQL URL")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DistributedError(f"database URL {redact_url(url)!r} is not valid: {exc}") from None
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


#: what a server says when it refuses a connection for now (it starts, stops, is full)
_FOR_NOW = ("starting up", "shutting down", "in recovery", "not yet accepting",
            "too many", "connection slots")


def _connect_error(url: str, exc: BaseException, where: str | None = None
                   ) -> DistributedError:
    """``where``: where the URL is set (``FILE:LINE`` of ``database:``)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    said = str(exc)
    if "FATAL:" in said and not any(phrase in said for phrase in _FOR_NOW):
        # the server answered and refused for good: a wrong password, role or database name
        # (waiting would never end)
        return DistributedError(
            f"PostgreSQL at {redact_url(url)} refused the connection: {first}; check "
            f"{database_setting(where)}: the user, its password and the database name")
    return DatabaseUnreachable(
        f"cannot connect to PostgreSQL at {redact_url(url)}: {first}; check "
        f"{database_setting(where)} and that the server is running")


def _int4(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def lock_key(name: str) -> int:
    """The second int4 key of an advisory lock named ``name``."""
    return _int4(zlib.crc32(name.encode("utf-8")))


def upgrade(url: str, where: str | None = None) -> list[str]:
    """``distributor db upgrade``: the Alembic migrations, then procrastinate's schema when it
    is missing, under one PostgreSQL advisory lock (several machines may run it at once: the
    others wait, then find nothing to do). On SQLite, only the migrations. Returns what was
    done, one line each; raises DistributedError / StoreError with one line. ``where``:
    where the URL is set (``FILE:LINE`` of ``database:``), for the messages."""
    from distributor.store.db import open_store

    if not is_postgres(url):
        open_store(url, where=where).dispose()
        return [f"{redact_url(url)}: migrations applied (SQLite: no task queue schema)"]
    import psycopg
    from procrastinate.schema import SchemaManager

    try:
        connection = psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise _connect_error(url, exc, where) from None
    lines = []
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s, 0)", (UPGRADE_CLASS,))
        try:
            store = open_store(url, where=where)
            try:
                with store.engine.connect() as sa:
                    head = sa.execute(text("SELECT version_num FROM alembic_version")).scalar()
            finally:
                store.dispose()
            lines.append(f"{redact_url(url)}: migrations at {head}")
            row = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                lines.append("procrastinate schema: present")
            else:
                with connection.transaction():
                    connection.execute(SchemaManager.get_schema())
                lines.append("procrastinate schema: applied")
        finally:
            with contextlib.suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s, 0)", (UPGRADE_CLASS,))
    return lines


def ensure_schema(url: str, where: str | None = None) -> None:
    """Bring the schema up to date before a worker or scheduler starts (idempotent)."""
    for line in upgrade(url, where):
        log.debug("%s", line)


def open_error(exc: BaseException, url: str, where: str | None = None) -> DistributedError:
    """One line for an error met while talking to PostgreSQL."""
    if isinstance(exc, DistributedError):
        return exc
    if isinstance(exc, StoreError):
        return DistributedError(str(exc))
    return _connect_error(url, exc, where)
