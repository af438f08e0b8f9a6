"""The store on a real SQLite file and on the real PostgreSQL: migrations, time zones,
deduplication, the unique ledger row, and digests that a restart cannot send twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from distributor.articles import Article
from distributor.config import cron_trigger
from distributor.configfile import load_config
from distributor.engine.embedded import run_due_digests
from distributor.engine.jobs import previous_fire
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store import open_store
from distributor.store.models import ArticleRow, Base, Delivery, Digest


def article(key: str, url: str, source: str = "portal", **fields: object) -> Article:
    return Article(source=source, key=key, url=url, title=f"Judul {key}", lede="Lede.",
                   **fields)  # type: ignore[arg-type]


def test_migrations_create_exactly_the_models_schema(empty_db_url: str) -> None:
    from alembic.autogenerate import compare_metadata  # not at collection: in one test only
    from alembic.migration import MigrationContext

    store = open_store(empty_db_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    store.dispose()
    assert diff == [], "a model changed without a migration: add one under store/migrations"
    assert version is not None
    open_store(empty_db_url).dispose()  # applying them again changes nothing


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.dispose()


def test_times_come_back_as_the_same_utc_instant(db_url: str) -> None:
    store = open_store(db_url)
    jakarta = datetime(2026, 11, 25, 13, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
    with store.session() as session:
        row, _ = store_article(session, article("a", "https://r.example/a", published=jakarta),
                               now=datetime.now(UTC))
        row_id = row.id
    with store.session() as session:
        published = session.get_one(ArticleRow, row_id).published
    store.dispose()
    assert published == jakarta and published is not None and published.tzinfo is not None


def test_an_article_is_stored_once_by_key_and_by_url(db_url: str) -> None:
    store = open_store(db_url)
    now = datetime.now(UTC)
    with store.session() as session:
        first, new1 = store_article(session, article("guid-1", "https://r.example/a"), now=now)
        again, new2 = store_article(session, article("guid-1", "https://r.example/a2"), now=now)
        other, new3 = store_article(session, article("file:a.txt", "https://r.example/a",
                                                     source="newsroom"), now=now)
        count = len(session.scalars(select(ArticleRow)).all())
    store.dispose()
    assert (new1, new2, new3) == (True, False, False)
    assert first.id == again.id == other.id and count == 1


def test_the_ledger_has_one_row_per_article_and_channel(db_url: str) -> None:
    store = open_store(db_url)
    with store.session() as session:
        row, _ = store_article(session, article("a", "https://r.example/a"), now=datetime.now(UTC))
        session.add(Delivery(article_id=row.id, channel="x"))
        session.flush()
        session.add(Delivery(article_id=row.id, channel="x"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    store.dispose()


@pytest.fixture
def digest_rt(write_config: Callable[..., Path], db_url: str) -> Iterator[Runtime]:
    path = write_config("""\
        channels:
          - name: daily
            type: outbox
            publish: digest
            schedule: "0 6 * * *"
            path: out/
        """, database=db_url)
    rt = Runtime.open(load_config(path))
    yield rt
    rt.store.dispose()


def test_the_last_fire_time_is_in_the_site_timezone(digest_rt: Runtime) -> None:
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
    fire = previous_fire(cron_trigger("0 6 * * *", timezone=digest_rt.config.site.tz), now)
    assert fire == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 06:00 in Jakarta


async def test_a_missed_digest_is_sent_once_and_a_stale_one_not_at_all(digest_rt: Runtime) -> None:
    fire = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    with digest_rt.store.session() as session:
        for i in range(2):
            store_article(session, article(f"k{i}", f"https://r.example/{i}"),
                          now=fire - timedelta(hours=3))
    too_late = await run_due_digests(digest_rt, now=fire + timedelta(hours=7))
    assert too_late == []
    restarted = await run_due_digests(digest_rt, now=fire + timedelta(hours=2))
    assert [(o.state, o.articles) for o in restarted] == [("sent", 2)]
    again = await run_due_digests(digest_rt, now=fire + timedelta(hours=2, minutes=1))
    assert [o.state for o in again] == ["exists"]
    with digest_rt.store.session() as session:
        digests = session.scalars(select(Digest)).all()
    assert [(d.channel, d.period, d.state) for d in digests] == [
        ("daily", fire.isoformat(), "sent")]
    out = digest_rt.config.channel("daily").path / "daily"  # type: ignore[attr-defined]
    assert len(list(out.glob("digest-*.json"))) == 1


async def test_an_empty_period_sends_no_digest(digest_rt: Runtime) -> None:
    fire = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    outcomes = await run_due_digests(digest_rt, now=fire + timedelta(minutes=5))
    assert [o.state for o in outcomes] == ["skipped"]
    out = digest_rt.config.channel("daily").path / "daily"  # type: ignore[attr-defined]
    assert not out.exists()


def test_postgres_tables_exist_under_their_names(pg_empty_url: str) -> None:
    store = open_store(pg_empty_url)
    names = set(inspect(store.engine).get_table_names())
    store.dispose()
    assert {"articles", "deliveries", "delivery_parts", "delivery_events", "digests",
            "source_state", "channel_state", "alembic_version"} <= names
