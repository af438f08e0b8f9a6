"""What the channel tests of Discord, Slack, Mastodon and Bluesky share: a runtime on a real
SQLite file from a channels.yaml, stored articles, the deliveries, letting the waits pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

SECRET_WORDS = ("token", "password", "secret")


def open_runtime(config: Path) -> Runtime:
    return Runtime.open(load_config(config))


def add_articles(rt: Runtime, n: int, *, prefix: str = "Berita",
                 image: str | None = None) -> list[int]:
    """``n`` articles first seen ten minutes ago (this minute's digest holds them)."""
    now = datetime.now(UTC)
    ids = []
    with rt.store.session() as session:
        for i in range(n):
            article = Article(source="test", key=f"{prefix}{i}",
                              url=f"https://rinews.example/{prefix.lower()}/{i}",
                              title=f"{prefix} {i}: banjir surut di Semarang",
                              lede=f"Air mulai surut pada Selasa pagi, kata petugas nomor {i}. "
                                   "Warga kembali ke rumah.",
                              image=image, published=now - timedelta(minutes=20 + n - i))
            row, _ = store_article(session, article, now=now - timedelta(minutes=10))
            ids.append(row.id)
    return ids


def deliveries(rt: Runtime, channel: str) -> list[Delivery]:
    with rt.store.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.channel == channel)
                               .order_by(Delivery.article_id)).all()
        session.expunge_all()
        return list(rows)


def make_due(rt: Runtime) -> None:
    """The waits are over: every waiting delivery and channel is due now."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.session() as session:
        session.execute(update(Delivery).where(Delivery.state.in_(("pending", "retry")))
                        .values(next_attempt_at=past))
        session.execute(update(ChannelState).values(next_send_at=None))


def article_file(folder: Path, name: str = "banjir.md") -> Path:
    path = folder / name
    path.write_text("---\ntitle: Banjir Semarang surut\nurl: https://rinews.example/berita/"
                    "banjir-semarang-surut\nimage: https://rinews.example/img/banjir.jpg\n---\n"
                    "Air mulai surut pada Selasa pagi, kata petugas BPBD. Warga mulai "
                    "membersihkan rumah mereka.\n", encoding="utf-8")
    return path
