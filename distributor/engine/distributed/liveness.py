"""Which lease owners are alive, from any machine: each worker holds a PostgreSQL advisory lock
named after its owner for its whole life; and the advisory locks of channels and batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update

from distributor.engine.dispatcher import Dispatcher, DispatchReport
from distributor.runtime import Runtime
from distributor.store.models import Delivery

if TYPE_CHECKING:
    pass

from distributor.clock import utcnow
from distributor.engine.distributed.database import _connect_error, conninfo, lock_key

log = logging.getLogger("distributor.workers")


LIVENESS_CLASS = 0x6C697665  # "live"
CHANNEL_CLASS = 0x6368616E  # "chan"
BATCH_CLASS = 0x62617463  # "batc"
#: marks a lease owner that holds a liveness lock (see :class:`Liveness`)
OWNER_MARK = "pg-"


# --------------------------------------------------------------------------- liveness


def liveness_owner() -> str:
    """A lease owner (``host:pid:pg-<id>``) that :class:`Liveness` holds a lock for."""
    return f"{socket.gethostname()}:{os.getpid()}:{OWNER_MARK}{uuid.uuid4().hex[:12]}"


class Liveness:
    """Holds, for this process's life, a session advisory lock named after its lease owner.

    PostgreSQL releases it when the process's connection ends (the process died, its machine
    went away), so any worker anywhere can tell a live owner from a dead one. The connection
    is checked every few seconds and the lock taken again after a reconnection."""

    CHECK_EVERY = 5.0

    def __init__(self, url: str, owner: str | None = None, where: str | None = None):
        self.url = url
        self.where = where  # where the URL is set (FILE:LINE), for the messages
        self.owner = owner or liveness_owner()
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _lock(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            conninfo(self.url), autocommit=True, connect_timeout=10, keepalives=1,
            keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        await conn.execute("SELECT pg_advisory_lock(%s, %s)",
                           (LIVENESS_CLASS, lock_key(self.owner)))
        self._conn = conn

    async def start(self) -> None:
        import psycopg

        try:
            await self._lock()
        except psycopg.Error as exc:
            raise _connect_error(self.url, exc, self.where) from None
        self._task = asyncio.create_task(self._watch(), name="liveness")

    async def _watch(self) -> None:
        import psycopg

        while True:
            await asyncio.sleep(self.CHECK_EVERY)
            try:
                await self._conn.execute("SELECT 1")
                continue
            except psycopg.Error as exc:
                log.warning("the liveness connection to PostgreSQL broke (%s); reconnecting",
                            exc)
            with contextlib.suppress(Exception):
                await self._conn.close()
            delay = 1.0
            while True:
                try:
                    await self._lock()
                    log.info("liveness lock taken again")
                    break
                except psycopg.Error:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


def owners_gone(rt: Runtime, owners: Iterable[str]) -> set[str]:
    """The lease owners, among ``owners``, that hold a liveness lock no more (dead processes,
    on any machine). Owners without the mark are not judged here."""
    marked = sorted({o for o in owners if o and f":{OWNER_MARK}" in o and o != rt.owner})
    if not marked or rt.store.dialect != "postgresql":
        return set()
    gone = set()
    with rt.store.engine.begin() as connection:
        for owner in marked:
            free = connection.execute(text("SELECT pg_try_advisory_xact_lock(:c, :k)"),
                                      {"c": LIVENESS_CLASS, "k": lock_key(owner)}).scalar()
            if free:
                gone.add(owner)
    return gone


@asynccontextmanager
async def session_lock(url: str, lock_class: int, name: str) -> AsyncIterator[bool]:
    """Try to take an advisory lock on a connection of its own; yields whether it was taken.
    Held until the block ends, or until this process dies (PostgreSQL then frees it)."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True,
                                                 connect_timeout=10)
    try:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                    (lock_class, lock_key(name)))
        row = await cursor.fetchone()
        yield bool(row and row[0])
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


class WorkerDispatcher(Dispatcher):
    """The dispatcher of a worker: a lease whose owner's liveness lock is free is expired
    before the usual recovery, so it is recovered at once, whatever machine it was on."""

    async def recover(self, *, now: datetime | None = None) -> DispatchReport:
        await asyncio.to_thread(self.expire_dead_leases)
        return await super().recover(now=now)

    def expire_dead_leases(self) -> list[int]:
        store = self.rt.store
        with store.session() as session:
            rows = session.execute(select(Delivery.id, Delivery.lease_owner).where(
                Delivery.state == "sending", Delivery.lease_owner.is_not(None))).all()
        gone = owners_gone(self.rt, [owner for _, owner in rows if owner])
        ids = [i for i, owner in rows if owner in gone]
        if ids:
            past = utcnow() - timedelta(seconds=1)
            with store.session() as session:
                session.execute(update(Delivery).where(
                    Delivery.id.in_(ids), Delivery.state == "sending",
                    Delivery.lease_owner.in_(gone)).values(lease_until=past))
            log.warning("deliveries %s: their sender (%s) is gone; recovering them",
                        ", ".join(map(str, ids)), ", ".join(sorted(gone)))
        return ids
