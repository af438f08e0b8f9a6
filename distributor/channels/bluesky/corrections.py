"""Retracting and correcting a Bluesky post (the plugin API's ``retract`` and ``correct``),
mixed into :class:`~distributor.channels.bluesky.adapter.BlueskyChannel`, as the X channel
does.

Retract: ``com.atproto.repo.deleteRecord`` of every part, the last first (no part is left
replying to a deleted one while the rest goes). deleteRecord "deletes a record, or ensures it
doesn't exist": for a record it does not have, the PDS answers 200 without a commit. So a post
deleted already (by hand in the app, or by an earlier attempt whose answer was lost) is
recorded as ``gone``, one deleted now as ``deleted``; a resumed retraction never fails on it.

Correct: the app shows no edits of a post, so the post gets a reply under its last part:
"Ralat: <note>" (the headline when there is no note; template ``bluesky/correction.txt``)
and the link, shown short and made a link
by a facet as in every post, in 300 graphemes. A reply cannot be repeated harmlessly: its
record key is chosen before the first attempt and kept in the channel's state
(``rkey:action-<action id>``, a per-post key kept 90 days), so a retry (after a lost answer,
a killed process) finds the reply with ``getRecord`` and never posts it twice. Its
``reply.root`` and ``reply.parent`` are strong refs (URI and CID); a CID the state does not
hold any more (forgotten after 90 days) is read again with getRecord, so a correction of an
old post still lands in its thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distributor.channels.bluesky.records import (
    models,
    new_tid,
    record_facets,
    root_of,
    strong_ref,
)
from distributor.channels.bluesky.render import GRAPHEME_LIMIT, graphemes, link_facet, shown_link
from distributor.plugin import (
    ActionContext,
    Message,
    PermanentError,
    SendContext,
    cut,
    templates_for,
    utcnow,
)

if TYPE_CHECKING:
    from distributor.channels.bluesky.records import Repo

#: the state key of a correction's record key, per action (the ledger's row: the same
#: correction asked again is the same row)
CORRECTION_KEY = "rkey:action-{}"
CORRECTION_TEMPLATE = "bluesky/correction.txt"
REPLIED = "replied"


def correction_message(ctx: ActionContext, language: str | None = None) -> Message:
    """The correction reply: template ``bluesky/correction.txt`` ("Ralat: <note or headline>",
    "Correction:" in another language) and the link, shown short and linked by a facet, at
    most 300 graphemes (a long note is cut where a reader accepts it)."""
    article = ctx.article
    language = language or (article.language if article is not None else None) or \
        (ctx.render.site.language if ctx.render is not None else None) or "id"
    said = templates_for(ctx.render).render(
        CORRECTION_TEMPLATE, note=ctx.note or "", language=language,
        title=article.title if article is not None else "")
    said = " ".join(said.split())
    url = article.url if article is not None else ""
    link = shown_link(url) if url else ""
    room = GRAPHEME_LIMIT - (graphemes(link) + 1 if link else 0)
    if graphemes(said) > room:
        said = cut(said, lambda text: graphemes(text) <= room)
    text = " ".join(part for part in (said, link) if part)
    message: Message = {"text": text, "langs": [language]}
    if link:
        message["facets"] = [link_facet(text, len(text) - len(link), link, url)]
    return message


class BlueskyCorrections:
    """``retract`` and ``correct`` of the Bluesky channel."""

    _repo: Repo
    config: Any

    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        done = ctx.done if isinstance(ctx, ActionContext) else {}
        for remote_id in reversed(remote_ids):
            if remote_id in done:
                continue
            rkey = await self._repo.own(remote_id)
            ctx.request_sent()
            deleted = await self._repo.delete(rkey)
            _record(ctx, remote_id, "deleted" if deleted else "gone")

    async def correct(self, remote_ids: list[str], messages: list[Message],
                      ctx: SendContext) -> list[str]:
        if not isinstance(ctx, ActionContext):
            raise PermanentError("a Bluesky correction needs the action's context")
        replied = [rid for rid, what in ctx.done.items() if what == REPLIED]
        if replied:
            return [*remote_ids, *replied]
        if not remote_ids:
            raise PermanentError("the post has no remote id to reply to")
        message = correction_message(ctx, getattr(self.config, "language", None))
        key = CORRECTION_KEY.format(ctx.action_id if ctx.action_id is not None
                                    else ctx.idempotency_key)
        rkey = ctx.state.get(key)
        if rkey:  # an earlier attempt: did it reply?
            found = await self._repo.mine(str(rkey), ctx.state)
            if found is not None:
                uri = str(found.uri)
                ctx.log.info("the correction was posted by an earlier attempt as %s", uri)
                ctx.record(uri, REPLIED)
                return [*remote_ids, uri]
        else:
            rkey = new_tid()
            ctx.state.put(key, rkey)
        record = models().AppBskyFeedPost.Record(
            text=message["text"], created_at=utcnow().isoformat().replace("+00:00", "Z"),
            langs=message.get("langs"), facets=record_facets(message.get("facets")),
            reply=await self._thread_refs(remote_ids, ctx))
        ctx.request_sent()  # after the login and the lookups: the reply leaves now
        uri = await self._repo.create(str(rkey), record, ctx.state, what="the correction")
        ctx.record(uri, REPLIED)
        return [*remote_ids, uri]

    async def _thread_refs(self, remote_ids: list[str], ctx: SendContext) -> Any:
        """The reply refs of a correction: under the post's last part, in its thread (the
        root: what the last part replies under, else the first part)."""
        parent = remote_ids[-1]
        parent_cid = ctx.state.get(f"cid:{parent}")
        root = None
        if not parent_cid:  # forgotten (older than the state keeps): ask the PDS
            found = await self._repo.lookup(parent, ctx.state)
            if found is None or not found.cid:
                raise PermanentError(f"the post {parent} is not on Bluesky any more (deleted?); "
                                     "the correction has nothing to reply to")
            parent_cid, root = str(found.cid), root_of(found.value)
        if root is None:
            first = remote_ids[0]
            root_cid = parent_cid if first == parent else await self._repo.cid(first, ctx.state)
            if not root_cid:
                raise PermanentError(f"the thread's first post {first} is not on Bluesky any "
                                     "more (deleted?); the correction has no thread to go in")
            root = strong_ref(first, str(root_cid))
        return models().AppBskyFeedPost.ReplyRef(root=root,
                                                 parent=strong_ref(parent, str(parent_cid)))


def _record(ctx: SendContext, remote_id: str, what: str) -> None:
    if isinstance(ctx, ActionContext):
        ctx.record(remote_id, what)
