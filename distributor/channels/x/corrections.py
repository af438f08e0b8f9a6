"""Retracting and correcting an X thread (the plugin API's ``retract`` and ``correct``), mixed
into :class:`~distributor.channels.x.adapter.XAdapter`.

Retract: ``DELETE /2/tweets/:id`` for every part of the thread, the last part first (so no
part is left replying to a deleted one while the rest goes). A part X no longer has counts as
done: a resumed retraction never fails on what an earlier attempt deleted.

Correct: X posts cannot be edited through the API, so the thread gets a reply on its last part:
"Ralat: <note>" and the link (template ``x/correction.txt``). A reply cannot be repeated
harmlessly, so after an attempt that got no answer (a crash, a timeout) the account's latest
posts are searched for it first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import tweepy

from distributor.channels.x.errors import DuplicateContentError
from distributor.channels.x.transport import post_times
from distributor.plugin import (
    ActionContext,
    AmbiguousError,
    ChannelError,
    Message,
    PermanentError,
    SendContext,
    templates_for,
)

CORRECTION_TEMPLATE = "x/correction.txt"


def correction_text(ctx: ActionContext) -> str:
    article = ctx.article
    language = (article.language if article is not None else None) or \
        (ctx.render.site.language if ctx.render is not None else "id")
    return templates_for(ctx.render).render(
        CORRECTION_TEMPLATE, note=ctx.note or "", title=article.title if article else "",
        url=article.url if article else "", language=language).strip()


class XCorrections:
    """``retract`` and ``correct`` of the X channel."""

    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        adapter: Any = self  # the XAdapter this is mixed into
        done = ctx.done if isinstance(ctx, ActionContext) else {}
        client = adapter._client_ready()
        for remote_id in reversed(remote_ids):
            if remote_id in done:
                continue
            ctx.request_sent()
            try:
                response = await adapter._run(client.delete_tweet, sent=False, id=remote_id,
                                              user_auth=True)
            except PermanentError as exc:
                if not _not_found(exc):
                    raise
                _record(ctx, remote_id, "gone")
                continue
            data = getattr(response, "data", None)
            deleted = data.get("deleted") if isinstance(data, dict) else None
            _record(ctx, remote_id, "deleted" if deleted is not False else "gone")

    async def correct(self, remote_ids: list[str], messages: list[Message],
                      ctx: SendContext) -> list[str]:
        adapter: Any = self  # the XAdapter this is mixed into
        if not isinstance(ctx, ActionContext):
            raise PermanentError("an X correction needs the action's context")
        replied = [rid for rid, what in ctx.done.items() if what == "replied"]
        if replied:
            return [*remote_ids, *replied]
        if not remote_ids:
            raise PermanentError("the post has no remote id to reply to")
        last = remote_ids[-1]
        text = correction_text(ctx)
        if ctx.interrupted or ctx.attempt > 1:
            found = await adapter._find_post(text, last)
            if found is not None:
                ctx.log.info("the correction was posted by an earlier attempt as %s", found)
                ctx.record(found, "replied")
                return [*remote_ids, found]
        adapter._check_allowance()
        client = adapter._client_ready()
        with post_times() as left:  # the core paces the channel's next post from the reply
            try:
                response = await adapter._run(client.create_tweet, sent=True, posting=True,
                                              text=text, in_reply_to_tweet_id=last,
                                              user_auth=True)
            except DuplicateContentError as duplicate:
                found = await adapter._find_post(text, last)
                if found is None:
                    raise duplicate from None
                ctx.record(found, "replied")
                return [*remote_ids, found]
        ctx.request_sent(datetime.fromtimestamp(left[0], UTC) if left else None)
        data: Any = getattr(response, "data", None)
        reply_id = data.get("id") if isinstance(data, dict) else None
        if not reply_id:
            raise AmbiguousError(f"X accepted the correction but returned no id ({response!r})")
        ctx.record(str(reply_id), "replied")
        return [*remote_ids, str(reply_id)]


def _record(ctx: SendContext, remote_id: str, what: str) -> None:
    if isinstance(ctx, ActionContext):
        ctx.record(remote_id, what)


def _not_found(exc: ChannelError) -> bool:
    """X's answer that the post does not exist (any more)."""
    cause = exc.__cause__
    if isinstance(cause, tweepy.NotFound):
        return True
    return "404" in exc.message and "could not find" in exc.message.lower()
