"""The ledger's retraction and correction rows on both stores (SQLite and the real
PostgreSQL): one row per (article, channel, action) however often it is asked for, the
states of a post, and a digest channel's notice row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.plugin import ActionKind
from distributor.runtime import Runtime
from distributor.services import corrections
from distributor.services import deliveries as services
from distributor.store.models import DeliveryAction


@pytest.fixture
def rt(write_config: Callable[..., Path], db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    path = write_config(f"""\
        channels:
          - name: files
            type: outbox
            publish: manual
            path: {tmp_path / "outbox"}
        """, database=db_url)
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


async def test_one_row_per_article_channel_and_action_on_both_stores(
        rt: Runtime, tmp_path: Path) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    with rt.store.session() as session:
        article_id = store_article(session, Article(
            source="t", key="a", url="https://rinews.example/a", title="Judul",
            lede="Isi."), now=now)[0].id
    await services.push(rt, article_id, ["files"], by="test")

    corrected = await corrections.correct(rt, article_id, ["files"], note="ejaan")
    again = await corrections.correct(rt, article_id, ["files"], note="ejaan")
    retracted = await corrections.retract(rt, article_id, ["files"], reason="Ditarik")
    twice = await corrections.retract(rt, article_id, ["files"], reason="Ditarik")

    assert [o.kind for o in corrected + again + retracted + twice] == [
        ActionKind.DONE, ActionKind.ALREADY_DONE, ActionKind.DONE, ActionKind.ALREADY_DONE]
    assert corrected[0].state == retracted[0].state == "sent"
    with rt.store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAction)) == 2
        rows = {r.action: r for r in session.scalars(select(DeliveryAction))}
    assert rows["retract"].reason == "Ditarik" and rows["correct"].note == "ejaan"
    assert list((tmp_path / "outbox" / "files").glob("*.retracted.json"))
