"""The scheduler warms every channel's renderer as it starts (``run``: what a renderer loads
on first use is not paid by the first post), and that warm-up is pure: nothing reaches a
platform, nothing is stored, and a channel that cannot render a single article is passed by."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fakes.telegram_api import FakeTelegram
from sqlalchemy import func, select

from distributor.configfile import load_config
from distributor.engine.embedded import Service, warm_renderers
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Delivery


def channels(tg: FakeTelegram) -> str:
    return f"""\
        channels:
          - name: daily
            type: email
            publish: digest
            schedule: "0 6 * * *"
            from: "RI News Portal <redaksi@rinews.example>"
            smtp:
              host: 127.0.0.1
              port: 9
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
        """


async def test_warming_the_renderers_sends_nothing_and_stores_nothing(
        write_config: Callable[..., Path], tg: FakeTelegram) -> None:
    rt = Runtime.open(load_config(write_config(channels(tg))))
    try:
        warm_renderers(rt)  # the email channel renders digests only: passed by
        await Service(rt).warm_up()

        assert tg.calls == []
        with rt.store.session() as session:
            assert session.scalar(select(func.count()).select_from(ArticleRow)) == 0
            assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    finally:
        await rt.close()
