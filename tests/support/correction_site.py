"""A newsroom for the tests of retractions and corrections: one article file in a folder, and
a channel of every kind (Telegram, X, an outbox, the webhook plugin) on their test servers.
Used by tests/integration/test_corrections.py and tests/system/test_corrections_killed.py
(a plugin of tests/conftest.py: its fixtures ``site``, ``x`` and ``hook`` are everyone's,
and a test module's own fixture of the same name comes first)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import FakeX
from sqlalchemy import select

from distributor.configfile import load_config
from distributor.runtime import Runtime
from distributor.store.models import DeliveryAction
from support.webhook_server import WebhookServer

Cli = Callable[..., subprocess.CompletedProcess[str]]

LEDE = ("Banjir setinggi satu hingga dua meter merendam sedikitnya 3.400 rumah di tujuh "
        "kecamatan di Kabupaten Bandung setelah hujan deras mengguyur kawasan hulu Sungai "
        "Citarum sejak Minggu malam, kata Badan Penanggulangan Bencana Daerah setempat. Ribuan "
        "warga mengungsi ke masjid, sekolah dan balai desa, sementara petugas gabungan "
        "mengerahkan perahu karet untuk mengevakuasi lansia dan anak-anak yang masih terjebak "
        "di lantai dua rumah mereka. Pemerintah kabupaten menetapkan status tanggap darurat "
        "selama empat belas hari, dan dapur umum didirikan di setiap kecamatan yang terdampak "
        "untuk melayani para pengungsi hingga air surut sepenuhnya. Bupati meminta warga di "
        "bantaran sungai tetap waspada karena hujan lebat diperkirakan masih turun hingga "
        "akhir pekan, dan jalur provinsi yang menghubungkan Bandung dengan Garut ditutup "
        "sementara karena genangan setinggi lutut orang dewasa.")
TITLE = "Banjir rendam ribuan rumah di Kabupaten Bandung"


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, write_config: Callable[..., Path], tg: FakeTelegram, x: FakeX,
         hook: WebhookServer, webhook_plugin: Path) -> dict[str, Any]:
    return newsroom_site(tmp_path, write_config, tg, x, hook, webhook_plugin)


def newsroom_site(tmp_path: Path, write_config: Callable[..., Path], tg: FakeTelegram, x: FakeX,
                  hook: WebhookServer, webhook_plugin: Path) -> dict[str, Any]:
    """A newsroom folder with one article file, and every kind of channel."""
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "banjir.md"
    write_article(article, TITLE, LEDE)
    config = write_config(f"""\
        sources:
          - name: newsroom
            type: directory
            path: {folder}
            url_template: https://rinews.example/berita/{{slug}}
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: 5
            reconcile_wait: 0
            rate_per_minute: 6000  # no 3 s pause between a post and its retraction here
          - name: x
            type: x
            consumer_key: {x.consumer_key}
            consumer_secret: {x.consumer_secret}
            access_token: {x.access_token}
            access_token_secret: {x.access_token_secret}
            api_base_url: {x.url}
            timeout: 20
            rate_per_minute: 6000
          - name: files
            type: outbox
            path: {tmp_path / "outbox"}
          - name: hook
            type: webhook
            url: {hook.url}
            timeout: 5
        """)
    return {"config": config, "article": article, "outbox": tmp_path / "outbox",
            "plugin": webhook_plugin}


def write_article(path: Path, title: str, lede: str, image: str | None = None) -> None:
    front = f"title: {title}\nurl: https://rinews.example/berita/banjir-bandung\n"
    if image:
        front += f"image: {image}\n"
    path.write_text(f"---\n{front}---\n\n{lede}\n", encoding="utf-8")
    past = time.time() - 600  # written a while ago: the folder's reader takes it at once
    os.utime(path, (past, past))


def published(run_cli: Cli, site: dict[str, Any], *channels: str) -> None:
    args = [a for c in channels for a in ("--channel", c)]
    result = run_cli("--config", site["config"], "push", site["article"], *args)
    assert result.returncode == 0, result.stderr


def actions(config: Path) -> list[DeliveryAction]:
    rt = Runtime.open(load_config(config))
    try:
        with rt.store.session() as session:
            rows = list(session.scalars(select(DeliveryAction).order_by(DeliveryAction.id)))
            session.expunge_all()
            return rows
    finally:
        rt.store.dispose()
