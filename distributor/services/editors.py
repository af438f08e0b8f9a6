"""The editor bots, as the engines and ``distributor serve`` start them: long polling beside
the jobs (a :data:`~distributor.engine.jobs.Companion`), or webhooks answered by the web app.
Each gets the editor services (:class:`~distributor.services.desk.ServiceDesk`) and imports
nothing else of the core."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from distributor.engine.dispatcher import Dispatcher
from distributor.engine.jobs import Companion
from distributor.plugin import Adapter
from distributor.registry import get_adapter_class
from distributor.runtime import Runtime
from distributor.services.desk import ServiceDesk
from distributor.services.sending import HandOver, Sender


def editor_bots(rt: Runtime) -> Companion:
    """The long-polling editor bots, run beside an engine's jobs: in embedded mode they send
    through the engine's dispatcher, in distributed mode they hand pushes to the workers."""

    async def run(stop: asyncio.Event, *, dispatcher: Dispatcher | None = None,
                  hand_over: HandOver | None = None) -> None:
        if rt.dry_run or not _has_editors(rt):
            await stop.wait()
            return
        desk = ServiceDesk(rt, Sender(rt, dispatcher=dispatcher, hand_over=hand_over))
        runs = [run for cls in _channel_classes(rt)
                if (run := cls.editor_bots(desk, stop)) is not None]
        if not runs:
            await stop.wait()
            return
        await asyncio.gather(*runs)

    return run


def editor_webhooks(rt: Runtime, sender: Sender | None = None) -> Any:
    """The editor bots answered by webhook in ``distributor serve`` (a
    :class:`~distributor.interfaces.web.editor_webhooks.WebhookReceiver`)."""
    desk = ServiceDesk(rt, sender)
    for cls in _channel_classes(rt):
        hooks = cls.editor_webhooks(desk)
        if hooks is not None:
            return hooks  # one platform's editor interface answers by webhook today
    return NoWebhooks()


class NoWebhooks:
    """No editor bot answers by webhook: no route, nothing to start."""

    prefix = ""
    active = False

    async def receive(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        return 404, ""

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield


def _channel_classes(rt: Runtime) -> list[type[Adapter]]:
    """The classes of the enabled channels, each once: an editor interface is per platform."""
    seen: dict[str, type[Adapter]] = {}
    for channel in rt.channels():
        seen.setdefault(channel.type, get_adapter_class(channel.type))
    return list(seen.values())


def _has_editors(rt: Runtime) -> bool:
    return any(getattr(c, "editors", None) for c in rt.channels())
