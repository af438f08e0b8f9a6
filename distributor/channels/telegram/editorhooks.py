"""The editor bots with ``editor_bot: webhook``, answered by ``distributor serve``.

This module holds Telegram's side (the secret path and header, setWebhook, feeding an update to
the bot's handlers) and no web framework: ``distributor.interfaces.web`` routes
``POST {prefix}{secret_path}`` to :meth:`EditorWebhooks.receive`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from distributor.channels.telegram.editor_app import build_application, close_application
from distributor.channels.telegram.editor_conversation import EditorDesk
from distributor.channels.telegram.editor_groups import BotGroup, editor_bot_groups
from distributor.channels.telegram.reconcile import EDITOR_UPDATES
from distributor.channels.telegram.tokens import polling
from distributor.channels.telegram.transport import redact
from distributor.plugin import Desk, WebConfig

log = logging.getLogger("distributor.editorbot")

#: where ``distributor serve`` receives a bot's updates: WEBHOOK_PREFIX + the bot's secret path
WEBHOOK_PREFIX = "/telegram/"
#: the header Telegram sends with every webhook request (setWebhook's ``secret_token``)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookConfigError(ValueError):
    """A webhook editor bot cannot run with this configuration; the message says why."""


def webhook_secrets(web: WebConfig, token: str) -> tuple[str, str]:
    """(secret path, secret header) of a bot's webhook, both derived from ``web.secret_key``
    and the token: stable across restarts, different per token, revealing neither."""
    secret = web.secret_key
    if secret is None or not secret.get_secret_value():
        raise WebhookConfigError("editor_bot: webhook needs web.secret_key (the webhook's "
                                 "address and Telegram's secret header are derived from it)")
    key = hashlib.sha256(b"distributor telegram webhook\0" +
                         secret.get_secret_value().encode()).digest()

    def derive(purpose: bytes, size: int) -> str:
        digest = hmac.new(key, purpose + b"\0" + token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:size]

    # Telegram's secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -
    return derive(b"path", 32), derive(b"header", 43)


@dataclass
class _Hook:
    group: BotGroup
    desk: EditorDesk
    path: str
    header: str
    app: Application[Any, Any, Any, Any, Any, Any] | None = None


class EditorWebhooks:
    """The editor bots with ``editor_bot: webhook``.

    :meth:`receive` checks Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header (a wrong or
    missing one is 403 and does nothing) and puts the update into the same handlers as long
    polling. :meth:`start` (or :meth:`running`) starts each bot and calls setWebhook with
    ``web.base_url`` + the path and the secret header; :meth:`stop` stops them (the webhook
    stays registered: Telegram keeps the updates of a restart and sends them later).
    """

    prefix = WEBHOOK_PREFIX

    def __init__(self, desk: Desk, *, clock: Callable[[], datetime] | None = None):
        self.web = desk.web
        groups = [] if desk.dry_run else [g for g in editor_bot_groups(desk.channels())
                                          if g.mode == "webhook"]
        self.hooks: list[_Hook] = []
        for group in groups:
            path, header = webhook_secrets(desk.web, group.token)
            self.hooks.append(_Hook(group, EditorDesk(desk, group, clock=clock), path, header))
        self._stack = contextlib.ExitStack()

    @property
    def active(self) -> bool:
        """Whether any bot receives its updates here (else no route is needed)."""
        return bool(self.hooks)

    def url(self, hook: _Hook) -> str:
        return self.web.base_url.rstrip("/") + WEBHOOK_PREFIX + hook.path

    async def start(self) -> None:
        """Start each bot's handlers and register its webhook with Telegram."""
        for hook in self.hooks:
            names = ", ".join(hook.group.names)
            app = build_application(hook.desk, poll_timeout=0.0, webhook=True)
            try:
                await app.initialize()
                await app.start()
                await app.bot.set_webhook(url=self.url(hook), secret_token=hook.header,
                                          allowed_updates=list(EDITOR_UPDATES))
            except InvalidToken:
                log.error("the editor bot of %s cannot start: the bot token is invalid; check "
                          "the `token:` of %s in the configuration (and the ${...} variable "
                          "it names)", names, names)
                await close_application(app)
                continue
            except (TelegramError, OSError) as exc:
                log.error("the editor bot of %s cannot register its webhook at %s%s…: %s "
                          "(Telegram needs web.base_url to be an https:// address it can reach, "
                          "on port 443, 80, 88 or 8443)", names, self.web.base_url.rstrip("/"),
                          WEBHOOK_PREFIX, redact(str(exc)))
                await close_application(app)
                continue
            except BaseException:  # cancelled: nothing of the bot is left running
                await close_application(app)
                raise
            hook.app = app
            # its updates arrive here: reconciliation in this process reads what they bring
            self._stack.enter_context(polling(hook.group.key))
            log.info("editor bot @%s of %s receives messages by webhook at %s%s… (%d editors)",
                     app.bot.username, names, self.web.base_url.rstrip("/"), WEBHOOK_PREFIX,
                     len(hook.group.editors))

    async def stop(self) -> None:
        for hook in self.hooks:
            app, hook.app = hook.app, None
            if app is not None:
                await close_application(app)
        self._stack.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """``async with webhooks.running():`` inside an app's own lifespan."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def _hook(self, path: str) -> _Hook | None:
        found = None
        for hook in self.hooks:  # compare every path, in constant time
            if hmac.compare_digest(hook.path.encode(), path.encode()):
                found = hook
        return found

    async def receive(self, path: str, headers: Mapping[str, str],
                      body: bytes) -> tuple[int, str]:
        """One update from Telegram, POSTed to ``{prefix}{path}``: (HTTP status, text)."""
        hook = self._hook(path)
        if hook is None:
            return 404, "Not Found"
        given = headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), hook.header.encode()):
            log.warning("refused a request to the webhook of the editor bot of %s: %s header "
                        "%s", ", ".join(hook.group.names), SECRET_HEADER,
                        "wrong" if given else "missing")
            return 403, "Forbidden"
        app = hook.app
        if app is None:  # not started, or setWebhook failed: Telegram sends it again later
            return 503, "The editor bot is not running"
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, app.bot)
        except Exception as exc:
            log.warning("the editor bot of %s got an unreadable webhook request: %s",
                        ", ".join(hook.group.names), exc)
            return 400, "Bad Request"
        await app.update_queue.put(update)
        return 200, ""
