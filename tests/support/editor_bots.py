"""The editor bots of a runtime, long-polling a Telegram double for the length of a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from distributor.channels.telegram.editorbot import run_editor_bots
from distributor.runtime import Runtime
from distributor.services.desk import ServiceDesk


async def until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``condition()``'s first true value, looked at every 30 ms; AssertionError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.03)
    raise AssertionError(f"timed out waiting for {condition}")


@asynccontextmanager
async def editor_bots(rt: Runtime, tg: Any) -> AsyncIterator[asyncio.Task[None]]:
    """The configuration's editor bots polling ``tg`` (a FakeTelegram) until the block ends;
    the runtime is closed after them."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    await until(lambda: tg.calls_to("getUpdates"))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await rt.close()
