"""The editor bot: editors publish from a chat with the channel's Telegram bot.

A Telegram channel with ``editors:`` (Telegram user ids) in channels.yaml runs its bot inside
``distributor run`` with long polling (:func:`run_editor_bots`), or, with ``editor_bot:
webhook``, inside ``distributor serve``: :class:`EditorWebhooks` registers
``web.base_url/telegram/<secret path>`` with setWebhook at startup and feeds the updates Telegram
POSTs there (checked by the ``X-Telegram-Bot-Api-Secret-Token`` header) to the same handlers.
An editor sends the bot

* an article URL or a stored article id: the stored article;
* pasted text with the article's link in it: a new article (source ``editor``), parsed like an
  article file; it is kept out of automatic publishing until an editor presses a button;

and gets the Telegram post exactly as it would appear, then a summary (each channel's post or
thread, the digest placement) with buttons: publish to a channel, publish to all, add to the next
digest, cancel. ``/status`` lists the last deliveries and those waiting for a decision
(``unknown``, ``failed``) and paused channels; ``/retry ID [force]`` and ``/resolve ID
sent|failed`` act on one.

Anyone else gets a polite refusal and nothing happens. A button press is checked three ways: the
person pressing is an editor, the button's data carries an HMAC (over the action, the article,
the time and the chat, keyed by ``web.secret_key`` or else the bot token) and it is at most
:data:`BUTTON_TTL` old, so a forwarded, replayed or forged button cannot act. Pushing goes
through the editor services (:class:`distributor.plugin.Desk`), so pressing twice never posts
twice.

The bot also records the ``channel_post`` updates it receives, which the Telegram adapter's
reconciliation searches for a post whose answer was lost; while it polls, that reconciliation
does not call getUpdates on the same token (Telegram allows one poller per token: a second
getUpdates ends the first with 409 Conflict).

The bot lives in modules of its own, gathered here: :mod:`.editor_groups` (which bots run),
:mod:`.editor_buttons` (signed buttons), :mod:`.editor_conversation` (what it answers and
does), :mod:`.editor_texts` (how it says it), :mod:`.editor_app` (the application, polling) and
:mod:`.editorhooks` (the webhook).
"""

from __future__ import annotations

from distributor.channels.telegram.editor_app import (
    POLL_TIMEOUT,
    RESTART_DELAY,
    EditorBot,
    build_application,
    close_application,
    run_editor_bots,
)
from distributor.channels.telegram.editor_buttons import (
    BUTTON_TTL,
    ButtonRefused,
    button_secret,
    check_button,
    sign_button,
)
from distributor.channels.telegram.editor_conversation import OUTCOME_WAIT, EditorDesk
from distributor.channels.telegram.editor_groups import BotGroup, editor_bot_groups

__all__ = ["BUTTON_TTL", "OUTCOME_WAIT", "POLL_TIMEOUT", "RESTART_DELAY", "BotGroup",
           "ButtonRefused", "EditorBot", "EditorDesk", "build_application", "button_secret",
           "check_button", "close_application", "editor_bot_groups", "run_editor_bots",
           "sign_button"]
