"""Retracting and correcting a Telegram post (the plugin API's ``retract`` and ``correct``).

Retract: ``deleteMessage`` for every message of the post. Where Telegram refuses (a message
older than 48 hours in a group, missing rights) the message is edited into a retraction notice
instead (``editMessageText``, or ``editMessageCaption`` for a photo), from the template
``telegram/retracted.html`` ("[Dicabut] <headline>: <reason>"). A message already gone counts
as done, so a resumed retraction never fails on what an earlier attempt deleted.

Correct: each message is edited in place (same message id) to the article as it is now;
"message is not modified" counts as done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot

from distributor.channels.telegram.transport import Failure, attempt
from distributor.plugin import (
    ActionContext,
    ChannelError,
    Message,
    PermanentError,
    templates_for,
)

RETRACTED_TEMPLATE = "telegram/retracted.html"
#: Telegram's descriptions: the message is not there (any more)
_GONE = ("message to delete not found", "message to edit not found")
#: Telegram will not delete it: mark it instead
_CANNOT_DELETE = ("message can't be deleted", "not enough rights", "need administrator rights",
                  "have no rights")
_NOT_MODIFIED = "message is not modified"

Call = Callable[[Awaitable[Any]], Awaitable[Any]]
ErrorOf = Callable[[Failure], ChannelError]


def notice(ctx: ActionContext) -> str:
    """The retraction notice a message that cannot be deleted becomes (HTML parse mode)."""
    article = ctx.article
    language = (article.language if article is not None else None) or \
        (ctx.render.site.language if ctx.render is not None else "id")
    templates = templates_for(ctx.render)
    return templates.render(RETRACTED_TEMPLATE, title=article.title if article else "",
                            url=article.url if article else "", reason=ctx.reason or "",
                            language=language).strip()


def _is_photo(message: Message | None) -> bool:
    return bool(message) and (message or {}).get("method") == "sendPhoto"


async def retract(bot: Bot, chat: str | int, remote_ids: list[str], ctx: ActionContext,
                  error_of: ErrorOf) -> None:
    """Delete every message of the post not done yet (else mark it), recording each."""
    posted = list(ctx.posted)
    for index, remote_id in enumerate(remote_ids):
        if remote_id in ctx.done:
            continue
        message_id = int(remote_id)
        ctx.request_sent()
        result = await attempt(bot.delete_message(chat_id=chat, message_id=message_id))
        if not isinstance(result, Failure):
            ctx.record(remote_id, "deleted")
            continue
        description = result.description.lower()
        if any(g in description for g in _GONE):
            ctx.record(remote_id, "gone")
            continue
        if not any(c in description for c in _CANNOT_DELETE):
            raise error_of(result)
        ctx.log.info("Telegram will not delete message %s (%s); marking it as retracted",
                     remote_id, result.description)
        message = posted[index] if index < len(posted) else None
        ctx.request_sent()
        await _edit(bot, chat, message_id, notice(ctx), photo=_is_photo(message),
                    error_of=error_of)
        ctx.record(remote_id, "marked")


async def correct(bot: Bot, chat: str | int, remote_ids: list[str], messages: list[Message],
                  ctx: ActionContext, error_of: ErrorOf) -> list[str]:
    """Edit each message of the post in place to the article as it is now."""
    if len(messages) < len(remote_ids):
        raise PermanentError(f"the corrected post has {len(messages)} messages where "
                             f"{len(remote_ids)} were published; retract it and push again")
    for remote_id, message in zip(remote_ids, messages, strict=False):
        if remote_id in ctx.done:
            continue
        text = str(message.get("caption") if _is_photo(message) else message.get("text") or "")
        ctx.request_sent()
        changed = await _edit(bot, chat, int(remote_id), text, photo=_is_photo(message),
                              error_of=error_of)
        ctx.record(remote_id, "edited" if changed else "left")
    return list(remote_ids)


async def _edit(bot: Bot, chat: str | int, message_id: int, html: str, *, photo: bool,
                error_of: ErrorOf) -> bool:
    """Edit a message's text (a photo's caption); False when it already says that."""
    if photo:
        call = bot.edit_message_caption(chat_id=chat, message_id=message_id, caption=html,
                                        parse_mode="HTML")
    else:
        call = bot.edit_message_text(chat_id=chat, message_id=message_id, text=html,
                                     parse_mode="HTML")
    result = await attempt(call)
    if not isinstance(result, Failure):
        return True
    description = result.description.lower()
    if _NOT_MODIFIED in description:
        return False
    if any(g in description for g in _GONE):
        raise PermanentError(f"message {message_id} is no longer in the chat; nothing to edit")
    raise error_of(result)
