"""The editor bot's application: python-telegram-bot's Application with the conversation's
handlers, run with long polling by :func:`run_editor_bots` (restarted after network failures)
or fed by a webhook (:mod:`.editorhooks`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from distributor.channels.telegram.editor_conversation import EditorDesk
from distributor.channels.telegram.editor_groups import BotGroup, editor_bot_groups
from distributor.channels.telegram.reconcile import EDITOR_UPDATES
from distributor.channels.telegram.tokens import polling
from distributor.channels.telegram.transport import bot_requests, close_bot, redact
from distributor.plugin import Desk

log = logging.getLogger("distributor.editorbot")

#: seconds one getUpdates long poll waits for news
POLL_TIMEOUT = 10.0
#: pause before starting a bot again after a network failure
RESTART_DELAY = 30.0


def build_application(desk: EditorDesk, *, poll_timeout: float, webhook: bool = False
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """PTB's Application with the desk's handlers; ``webhook``: without an updater (updates
    are put into ``app.update_queue`` by :class:`EditorWebhooks`)."""
    group = desk.group
    request, updates_request = bot_requests(group.token, group.api_base_url,
                                            timeout=group.timeout, poll_timeout=poll_timeout)
    # both requests are the bot's, so close_bot closes both (a webhook bot never polls)
    builder = (ApplicationBuilder().token(group.token)
               .base_url(f"{group.api_base_url}/bot")
               .base_file_url(f"{group.api_base_url}/file/bot").request(request)
               .get_updates_request(updates_request))
    if webhook:
        builder = builder.updater(None)
    app = builder.job_queue(None).concurrent_updates(8).build()
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, desk.on_channel_post))
    app.add_handler(MessageHandler(private & filters.TEXT, desk.on_update_text))
    app.add_handler(CallbackQueryHandler(desk.on_callback))
    app.add_error_handler(_log_error)
    return app


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    log.error("the editor bot failed on an update: %s", redact(repr(error)),
              exc_info=(type(error), error, error.__traceback__) if error else None)


class EditorBot:
    """One bot token's long-polling editor bot, restarted after network failures."""

    def __init__(self, desk: Desk, group: BotGroup, *, poll_timeout: float = POLL_TIMEOUT,
                 clock: Callable[[], datetime] | None = None):
        self.desk = EditorDesk(desk, group, clock=clock)
        self.group = group
        self.poll_timeout = poll_timeout

    async def run(self, stop: asyncio.Event) -> None:
        names = ", ".join(self.group.names)
        while not stop.is_set():
            app = build_application(self.desk, poll_timeout=self.poll_timeout)
            try:
                await app.initialize()
                await app.start()
                assert app.updater is not None
                with polling(self.group.key):
                    await app.updater.start_polling(
                        timeout=timedelta(seconds=self.poll_timeout),
                        allowed_updates=list(EDITOR_UPDATES), bootstrap_retries=0)
                    log.info("editor bot @%s of %s is listening (%d editors)",
                             app.bot.username, names, len(self.group.editors))
                    await stop.wait()
                    await app.updater.stop()
                return
            except InvalidToken:
                log.error("the editor bot of %s cannot start: the bot token is invalid; check "
                          "the `token:` of %s in the configuration (and the ${...} variable "
                          "it names)", names, names)
                return
            except (TelegramError, OSError) as exc:
                log.warning("the editor bot of %s stopped (%s); starting again in %.0f s",
                            names, redact(str(exc)), RESTART_DELAY)
            finally:
                await close_application(app)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_DELAY)


async def close_application(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop and shut down ``app``, whatever it got to; its HTTP clients are closed even when
    its start failed or was cancelled (then PTB's ``Application.shutdown`` does nothing)."""
    try:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
    except Exception as exc:  # closing is best effort
        log.debug("closing the editor bot: %s", redact(str(exc)))
    finally:
        try:
            await close_bot(app.bot)
        except Exception as exc:
            log.debug("closing the editor bot's connections: %s", redact(str(exc)))


async def run_editor_bots(desk: Desk, stop: asyncio.Event, *,
                          poll_timeout: float = POLL_TIMEOUT,
                          clock: Callable[[], datetime] | None = None) -> None:
    """Run the editor bot of every Telegram token with editors until ``stop`` is set.

    ``desk``: the editor services (the core's; in embedded mode they send through the
    scheduler's dispatcher, so an editor's push and the scheduled passes share one drain per
    channel). Under ``--dry-run`` no bot runs.
    """
    groups = [] if desk.dry_run else editor_bot_groups(desk.channels())
    for group in [g for g in groups if g.mode == "webhook"]:
        log.info("the editor bot of %s receives its messages by webhook: `distributor serve` "
                 "answers them (no long polling here)", ", ".join(group.names))
    groups = [g for g in groups if g.mode == "polling"]
    if not groups:
        await stop.wait()
        return
    bots = [EditorBot(desk, g, poll_timeout=poll_timeout, clock=clock) for g in groups]
    await asyncio.gather(*(b.run(stop) for b in bots))
