"""The audience of a list channel reads its subscribers and writes its send rows in bounded
batches, whatever the list's size and whatever a caller hands over (real SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.engine.digests import bind_adapters
from distributor.ledger.mailing import PAGE_LIMIT, ROWS_PER_WRITE, Mailing
from distributor.ledger.subscribers import new_token_key
from distributor.ledger.subscribers.tokens import unsubscribe_token
from distributor.plugin import RecipientResult
from distributor.runtime import Runtime
from distributor.store.models import EmailSend, Subscriber

SECRET = "test-secret-key"
N = PAGE_LIMIT + 1500


@pytest.fixture
def rt(write_config: Callable[..., Path], db_url: str) -> Iterator[Runtime]:
    with SmtpServer() as smtp:
        path = write_config("channels:\n" + email_channel_yaml(smtp, publish="digest"),
                            database=db_url)
    runtime = Runtime.open(load_config(path))
    bind_adapters(runtime)
    now = datetime.now(UTC)
    with runtime.store.session() as session:
        session.execute(insert(Subscriber), [
            {"channel": "daily", "email": f"r{i}@example.org", "email_key": f"r{i}@example.org",
             "state": "confirmed", "token_key": new_token_key(), "source": "import",
             "created_at": now, "updated_at": now, "confirmed_at": now, "soft_bounces": 0}
            for i in range(N)])
    yield runtime
    runtime.store.dispose()


def test_subscribers_come_in_bounded_pages_each_once_with_valid_tokens(rt: Runtime) -> None:
    mailing = Mailing(rt.store, rt.config, "daily", owner="test")
    run = mailing.open_run("digest:1", {"subject": "s", "text": "t"})
    pages: list[int] = []
    seen: list[int] = []
    after = 0
    while rows := mailing.recipients(run.id, after=after, limit=10 * N):
        pages.append(len(rows))
        seen.extend(r.id for r in rows)
        after = rows[-1].id
    assert pages == [PAGE_LIMIT, N - PAGE_LIMIT]
    assert len(seen) == len(set(seen)) == N
    with rt.store.session() as session:
        sid, key = session.execute(select(Subscriber.id, Subscriber.token_key)
                                   .where(Subscriber.id == seen[-1])).one()
    last = mailing.recipients(run.id, after=seen[-2], limit=1)[0]
    assert last.unsubscribe_token == unsubscribe_token(SECRET, "daily", sid, key)


def test_send_rows_are_written_in_bounded_statements_however_many_are_handed_over(
        rt: Runtime) -> None:
    mailing = Mailing(rt.store, rt.config, "daily", owner="test")
    run = mailing.open_run("digest:1", {"subject": "s", "text": "t"})
    recipients = mailing.recipients(run.id, limit=PAGE_LIMIT)
    sizes: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EMAIL_SENDS"):
            sizes.append(len(parameters) if executemany else 1)

    event.listen(rt.store.engine, "before_cursor_execute", count)
    try:
        mailing.record(run.id, [RecipientResult(r, "sent") for r in recipients])
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", count)
    assert sum(sizes) == PAGE_LIMIT and max(sizes) <= ROWS_PER_WRITE
    with rt.store.session() as session:
        assert session.scalar(select(func.count()).select_from(EmailSend)) == PAGE_LIMIT
    assert mailing.counts(run.id) == (PAGE_LIMIT, N - PAGE_LIMIT)
