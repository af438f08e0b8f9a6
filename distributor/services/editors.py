"""The editor bots, as the engines and ``distributor serve`` start them: long polling beside
the jobs (a :data:`~distributor.engine.jobs.Companion`), or webhooks answered by the web app.
Each gets the editor services (:class:`~distributor.services.desk.ServiceDesk`) and imports
nothing else of the core."""

from __future__ import annotations

import asyncio
from typing import Any

from distributor.engine.dispatcher import Dispatcher
from distributor.engine.jobs import Companion
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
        from distributor.channels.telegram.editorbot import run_editor_bots

        desk = ServiceDesk(rt, Sender(rt, dispatcher=dispatcher, hand_over=hand_over))
        await run_editor_bots(desk, stop)

    return run


def editor_webhooks(rt: Runtime, sender: Sender | None = None) -> Any:
    """The editor bots answered by webhook in ``distributor serve`` (a
    :class:`~distributor.interfaces.web.editor_webhooks.WebhookReceiver`)."""
    from distributor.channels.telegram.editorhooks import EditorWebhooks

    return EditorWebhooks(ServiceDesk(rt, sender))


def _has_editors(rt: Runtime) -> bool:
    return any(getattr(c, "editors", None) for c in rt.channels())
