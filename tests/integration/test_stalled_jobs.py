"""Jobs left by a worker that died (procrastinate's job table on the real PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.postgres,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _status(pg_url: str, job_id: int) -> str:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s",
                           (job_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_drain_left_by_a_dead_worker_gives_way_to_the_drain_waiting_behind_it(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The dead worker's drain holds the channel's lock; an equal drain waits (its queueing
    lock), so the dead one cannot go back to the queue. It is ended instead, and the waiting
    one runs: before, the channel stood still for good (the distributed stall of session 4)."""
    from distributor.engine.distributed.database import ensure_schema
    from distributor.engine.distributed.queue import QUEUE, enqueue, retry_stalled_jobs
    from distributor.engine.distributed.worker import make_app

    ensure_schema(pg_url)

    async def scenario() -> tuple[int, int, int, int | None, int | None]:
        app = make_app(pg_url, max_size=2)
        async with app.open_async():
            dead = await app.job_manager.register_worker()
            first = await enqueue(app, "drain", "tg", channel="tg")
            taken = await app.job_manager.fetch_job(queues=[QUEUE], worker_id=dead)
            assert taken is not None and taken.id == first
            waiting = await enqueue(app, "drain", "tg", channel="tg")
            assert waiting is not None
            # the waiting drain cannot start while the dead one holds the channel's lock
            blocked = await app.job_manager.fetch_job(queues=[QUEUE], worker_id=dead)
            assert blocked is None
            await app.job_manager.connector.execute_query_async(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = %(id)s", id=dead)
            retried = await retry_stalled_jobs(app, 3)
            live = await app.job_manager.register_worker()
            runs = await app.job_manager.fetch_job(queues=[QUEUE], worker_id=live)
            assert first is not None
            return first, waiting, retried, runs.id if runs else None, live

    first, waiting, retried, runs, _ = asyncio.run(scenario())
    assert retried == 1
    assert runs == waiting, "the waiting drain of the channel did not get to run"
    assert _status(pg_url, first) == "failed"
    assert _status(pg_url, waiting) == "doing"
    assert "an equal job waits in the queue and takes its work over" in caplog.text


def test_a_job_left_by_a_dead_worker_with_nothing_waiting_goes_back_to_the_queue(
        pg_url: str) -> None:
    from distributor.engine.distributed.database import ensure_schema
    from distributor.engine.distributed.queue import QUEUE, enqueue, retry_stalled_jobs
    from distributor.engine.distributed.worker import make_app

    ensure_schema(pg_url)

    async def scenario() -> tuple[int, int]:
        app = make_app(pg_url, max_size=2)
        async with app.open_async():
            dead = await app.job_manager.register_worker()
            first = await enqueue(app, "drain", "tg", channel="tg")
            assert first is not None
            assert await app.job_manager.fetch_job(queues=[QUEUE], worker_id=dead)
            await app.job_manager.connector.execute_query_async(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = %(id)s", id=dead)
            return first, await retry_stalled_jobs(app, 3)

    first, retried = asyncio.run(scenario())
    assert retried == 1
    assert _status(pg_url, first) == "todo"
