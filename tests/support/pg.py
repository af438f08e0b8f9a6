"""Databases on the real PostgreSQL server for the tests, made cheap.

Migrating an empty database takes about a second, and so does dropping one (PostgreSQL 15
forces a checkpoint of the whole server to drop a database). So:

* the migrations are applied once, into a **template** database named after the migrations'
  content (``CREATE DATABASE ... TEMPLATE``, kept from one run to the next: a changed
  migration makes a new one); it is built under a lock, by one process of a ``pytest -n`` run;
* a test's database is cloned from it, and when the test is done it goes back to the worker's
  **pool**: the connections the test left are ended, every row is deleted and the sequences
  start again at 1, so the next test gets what a fresh clone holds. A database whose schema the
  test changed (procrastinate's tables, a migration run by hand) is dropped instead;
* a test about migrating from empty asks for an empty database (``pg_empty_url``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "distributor" / "store" / "migrations"
SERVER = "postgresql://postgres@127.0.0.1:5432"
#: the catalogue of what a schema holds (a test that added anything gets its database dropped)
SCHEMA = """
SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
UNION ALL
SELECT n.nspname || '.' || p.proname || ':f' FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT n.nspname || '.' || t.typname || ':t' FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typrelid = 0
   AND t.typelem = 0
UNION ALL
SELECT 'alembic:' || version_num FROM alembic_version
"""


def connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def migrations_digest() -> str:
    """A name for the migrations as they are in this checkout."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.relative_to(MIGRATIONS).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


class Databases:
    """One process's databases on the server at ``admin_url``."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.admin = connect(admin_url)
        self.template = f"distributor_template_{migrations_digest()}"
        self.prefix = f"distributor_test_{uuid.uuid4().hex[:8]}_"
        self.pool: list[str] = []
        self.made = 0
        self._schema: list[str] | None = None

    # ----------------------------------------------------------------- the template

    def ensure_template(self) -> None:
        """The template with every migration applied, built once for these migrations."""
        lock = int(hashlib.sha256(self.template.encode()).hexdigest()[:15], 16)
        self.admin.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            if not self._exists(self.template):
                self._build_template()
        finally:
            self.admin.execute("SELECT pg_advisory_unlock(%s)", (lock,))
        # what a clone holds (never read from the template itself: a connection to it would
        # stop another process's clone)
        name = self._clone()
        with connect(database_url(self.admin_url, name)) as conn:
            self._schema = sorted(r[0] for r in conn.execute(SCHEMA))
        self.pool.append(name)

    def _build_template(self) -> None:
        from distributor.store import open_store

        building = f"{self.template}_building_{uuid.uuid4().hex[:6]}"
        self.admin.execute(f'CREATE DATABASE "{building}"')
        try:
            open_store(database_url(self.admin_url, building)).dispose()
            # complete, so it gets its name (another process never sees half a template)
            self.admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{self.template}"')
        except BaseException:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            raise

    def _exists(self, name: str) -> bool:
        return self.admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone() is not None

    # ----------------------------------------------------------------- a test's database

    @contextmanager
    def migrated(self) -> Iterator[str]:
        """A database holding exactly what the migrations make, no rows."""
        if self._schema is None:
            self.ensure_template()
        name = self.pool.pop() if self.pool else self._clone()
        try:
            yield database_url(self.admin_url, name)
        finally:
            if self._reset(name):
                self.pool.append(name)
            else:
                self.drop(name)

    @contextmanager
    def empty(self) -> Iterator[str]:
        """A database with nothing in it (for a test of migrating from empty)."""
        name = self._name()
        self.admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(self.admin_url, name)
        finally:
            self.drop(name)

    def _name(self) -> str:
        self.made += 1
        return f"{self.prefix}{os.getpid()}_{self.made}"

    def _clone(self) -> str:
        name = self._name()
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def _reset(self, name: str) -> bool:
        """Back to a fresh clone's state; False when the schema changed (then drop it)."""
        self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        try:
            with connect(database_url(self.admin_url, name)) as conn:
                if sorted(r[0] for r in conn.execute(SCHEMA)) != self._schema:
                    return False
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'")]
                sequences = [r[0] for r in conn.execute(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
                with conn.transaction():
                    # the rows go in any order: no foreign key is checked while they do
                    conn.execute("SET LOCAL session_replication_role = replica")
                    for table in tables:
                        conn.execute(f'DELETE FROM "{table}"')
                    for sequence in sequences:
                        conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
            return True
        except Exception:
            return False

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """At the end of the session: drop the pool."""
        for name in self.pool:
            self.drop(name)
        self.pool.clear()
        self.admin.close()
