"""What an editor asks for when a published article turns out wrong: **retract** it (delete
or mark what each channel published) or **correct** it (edit in place, or follow it with a
correction). Typed outcomes (:class:`~distributor.plugin.ActionOutcome`) for every interface:
the command line, the dashboard and the editor bot.

Each request is recorded in the ledger once per (article, channel, action) and carried out by
the dispatcher like a post, exactly once through a crash; asking again changes nothing and
says so. A channel that cannot retract or correct answers ``not-supported`` and the others go
on. A digest channel (email) has nothing to delete: the article leaves the next digest if it
was not sent yet, else the next digest opens with a notice (:mod:`.digest_notices`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from distributor.articles import Article
from distributor.channels.outbox import OutboxAdapter
from distributor.config import DirectorySourceConfig
from distributor.engine.actions import recover_actions
from distributor.engine.dry_run import outbox_name
from distributor.ledger.actions import request_action
from distributor.ledger.ingest import from_row
from distributor.ledger.updates import update_stored
from distributor.plugin import (
    ActionContext,
    ActionKind,
    ActionOutcome,
    ChannelLog,
    MemoryState,
    capabilities,
)
from distributor.plugin.desk import DeskError, NotFound
from distributor.runtime import Runtime
from distributor.services.digest_notices import digest_action
from distributor.services.sending import Sender
from distributor.store.models import ArticleRow, Delivery, DeliveryAction

log = logging.getLogger("distributor.services")

#: how often a wait looks at the ledger
POLL = 0.3


@dataclass(frozen=True)
class Request:
    action: str  # retract | correct
    reason: str | None = None
    note: str | None = None
    by: str = "cli"


def target_channels(rt: Runtime, article_id: int, names: Sequence[str] | None) -> list[str]:
    """The channels named, else every enabled channel the article was published on (or is
    waiting for), and every digest channel."""
    known = {c.name: c for c in rt.channels()}
    if names:
        for name in names:
            if name not in known:
                raise DeskError(f"no enabled channel named {name!r} (channels: "
                                f"{', '.join(known) or 'none'})")
        return list(dict.fromkeys(names))
    with rt.store.session() as session:
        used = set(session.scalars(select(Delivery.channel).where(
            Delivery.article_id == article_id)))
    return [name for name, c in known.items() if name in used or c.publish == "digest"]


def refresh_article(rt: Runtime, article_id: int) -> Article:
    """The article as it is now: an article file is read again (and the stored article
    updated, except in a dry run); a feed's article is as last stored. Raises NotFound."""
    with rt.store.session() as session:
        row = session.get(ArticleRow, article_id)
        if row is None:
            raise NotFound("article", article_id)
        source = next((s for s in rt.config.sources if s.name == row.source), None)
        if isinstance(source, DirectorySourceConfig) and row.key.startswith("file:"):
            from distributor.sources import SourceError
            from distributor.sources.directory import load_article_file

            path = source.path / row.key[len("file:"):]
            try:
                fresh = load_article_file(path.resolve(), source=source.name,
                                          url_template=source.url_template,
                                          language=source.language,
                                          default_language=rt.config.site.language,
                                          root=source.path.resolve())
            except (SourceError, OSError) as exc:
                log.warning("article %s: cannot read %s again (%s); using the stored text",
                            article_id, path, exc)
            else:
                update_stored(row, fresh)
        article = from_row(row)
        if rt.dry_run:
            session.rollback()
        return article


async def retract(rt: Runtime, article_id: int, channels: Sequence[str] | None = None, *,
                  reason: str, by: str = "cli", sender: Sender | None = None,
                  wait: float = 60.0) -> list[ActionOutcome]:
    """Retract an article on each channel (default: wherever it went)."""
    if not reason.strip():
        raise DeskError("say why the article is retracted (--reason); readers see it")
    return await _act(rt, article_id, channels, Request("retract", reason=reason.strip(),
                                                        by=by), sender, wait)


async def correct(rt: Runtime, article_id: int, channels: Sequence[str] | None = None, *,
                  note: str | None = None, by: str = "cli", sender: Sender | None = None,
                  wait: float = 60.0) -> list[ActionOutcome]:
    """Correct an article on each channel with the article as it is now."""
    return await _act(rt, article_id, channels,
                      Request("correct", note=(note or "").strip() or None, by=by), sender, wait)


async def _act(rt: Runtime, article_id: int, channels: Sequence[str] | None, request: Request,
               sender: Sender | None, wait: float) -> list[ActionOutcome]:
    if not rt.dry_run:
        recover_actions(rt)  # one a dead process left half done is resumed, not "in flight"
    article = refresh_article(rt, article_id) if request.action == "correct" else None
    if article is None:
        with rt.store.session() as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise NotFound("article", article_id)
            article = from_row(row)
    outcomes: list[ActionOutcome] = []
    queued: list[int] = []
    for name in target_channels(rt, article_id, channels):
        outcome = _ask(rt, article, name, request)
        outcomes.append(outcome)
        if outcome.kind is ActionKind.QUEUED and outcome.delivery_id is not None \
                and outcome.action_id is not None:
            queued.append(outcome.action_id)
    if not queued:
        return outcomes
    await send_actions(rt, queued, sender=sender, wait=wait)
    finals = action_outcomes(rt, queued)
    return [finals.get(o.action_id, o) if o.action_id in queued else o for o in outcomes]


#: what a dry run says a digest channel would do (what digest_action does for real)
_IN_A_DIGEST = {
    "retract": "the next digest leaves it out, or opens with a notice if a digest carried it",
    "correct": "the next digest carries it as it is now, or opens with a notice if a digest "
               "carried it"}


def _ask(rt: Runtime, article: Article, name: str, request: Request) -> ActionOutcome:
    config = rt.config.channel(name)
    adapter = rt.adapter(name)
    real = adapter.wraps if isinstance(adapter, OutboxAdapter) and adapter.wraps else adapter
    if config.publish == "digest" and rt.dry_run:
        return ActionOutcome(name, request.action, ActionKind.WOULD, detail=_IN_A_DIGEST[
            request.action])
    if config.publish == "digest":
        return digest_action(rt, article, name, request.action, reason=request.reason,
                             note=request.note, by=request.by)
    if request.action not in capabilities(real):
        return ActionOutcome(name, request.action, ActionKind.NOT_SUPPORTED,
                             detail=f"channel type {config.type} cannot {request.action} posts")
    messages = adapter.render(article, rt.context(config)) if request.action == "correct" \
        else None
    if rt.dry_run:
        return _dry_run(rt, adapter, article, name, request, messages)
    assert article.id is not None
    with rt.store.session() as session:
        row, kind, detail = request_action(session, article.id, name, request.action,
                                           reason=request.reason, note=request.note,
                                           messages=messages, requested_by=request.by)
        session.flush()
        if row is None:
            return ActionOutcome(name, request.action, kind, detail=detail)
        return _outcome(row, kind, detail)


def _dry_run(rt: Runtime, adapter: object, article: Article, name: str, request: Request,
             messages: list[dict[str, object]] | None) -> ActionOutcome:
    """--dry-run: the action's file in the outbox, nothing sent, nothing recorded."""
    assert isinstance(adapter, OutboxAdapter)
    ctx = ActionContext(channel=name, idempotency_key="dry-run", log=ChannelLog(name),
                        state=MemoryState(), action=request.action, reason=request.reason,
                        note=request.note, article=article)
    stand_in = str(adapter.folder / f"{outbox_name(article.id, article.title)}.json")
    kind = "retracted" if request.action == "retract" else "corrected"
    written = adapter.write_beside([stand_in], ctx, kind, messages)
    return ActionOutcome(name, request.action, ActionKind.WOULD, detail=written[0])


def _outcome(row: DeliveryAction, kind: ActionKind, detail: str | None = None) -> ActionOutcome:
    return ActionOutcome(row.channel, row.action, kind, state=row.state, action_id=row.id,
                         delivery_id=row.delivery_id, done=dict(row.done or {}),
                         detail=detail or row.last_error, at=row.sent_at)


def action_outcomes(rt: Runtime, ids: Sequence[int]) -> dict[int, ActionOutcome]:
    """The actions as they stand: DONE when settled, QUEUED while a worker has them."""
    with rt.store.session() as session:
        rows = session.scalars(select(DeliveryAction).where(DeliveryAction.id.in_(list(ids))))
        return {r.id: _outcome(r, ActionKind.QUEUED if r.state in ("pending", "sending")
                               else ActionKind.DONE) for r in rows}


async def send_actions(rt: Runtime, ids: list[int], *, sender: Sender | None = None,
                       wait: float = 60.0) -> None:
    """Carry the actions out now (embedded: this process's dispatcher; distributed: a drain
    job per channel for the workers), then wait up to ``wait`` seconds for them."""
    sender = sender or Sender(rt)
    if not sender.distributed:
        async with sender._lock:
            await sender.dispatcher.run_once(only=[], actions=ids)
        if not sender.shared:
            return
    else:
        with rt.store.session() as session:
            deliveries = [d for d in session.scalars(select(DeliveryAction.delivery_id).where(
                DeliveryAction.id.in_(ids))) if d is not None]
        await sender.send(deliveries)  # a drain per channel: actions go before posts
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        if all(o.kind is not ActionKind.QUEUED for o in action_outcomes(rt, ids).values()):
            return
        await asyncio.sleep(POLL)
