"""An article that changes at its source after it was published (an edited file, an updated
feed item): its stored text follows the source, and every channel whose ``on_update`` is
``edit`` or ``note`` gets a correction in the ledger (sent by the dispatcher like one an
editor asked for, exactly once per version of the article). ``ignore`` (the default) keeps
today's behaviour: the posts stay as they were."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.articles import Article
from distributor.ledger.actions import request_action, request_notice, was_in_sent_digest
from distributor.plugin import ActionKind, capabilities
from distributor.runtime import Runtime
from distributor.store.models import ArticleRow, Delivery

log = logging.getLogger("distributor.ingest")

#: the note a correction carries under ``on_update: note``, by the article's language
UPDATED_NOTE = {"id": "artikel diperbarui", "en": "the article was updated"}

_FIELDS = ("title", "title_derived", "dateline", "lede", "body", "author", "editor", "image",
           "tags", "content_hash")


def update_stored(row: ArticleRow, fresh: Article) -> bool:
    """Put an article's new text into its stored row (identity, link and first sighting
    stay); True when something changed."""
    changed = False
    for name in _FIELDS:
        value = getattr(fresh, name)
        if getattr(row, name) != value:
            setattr(row, name, list(value) if isinstance(value, list) else value)
            changed = True
    related = [r.model_dump() for r in fresh.related]
    if (row.related or []) != related:
        row.related, changed = related, True
    return changed


def source_updated(rt: Runtime, session: Session, row: ArticleRow, fresh: Article, *,
                   now: datetime | None = None) -> list[int]:
    """``fresh`` is ``row`` as its source has it now: when its text changed, store it and ask
    for the corrections the channels' ``on_update`` wants. Returns the actions' ids."""
    if not fresh.content_hash or fresh.content_hash == row.content_hash:
        return []
    update_stored(row, fresh)
    article = fresh.model_copy(update={"id": row.id, "url": row.url})
    wanted = [c for c in rt.channels() if c.on_update != "ignore"]
    if not wanted:
        return []
    language = row.language or rt.config.site.language
    published = set(session.scalars(select(Delivery.channel).where(
        Delivery.article_id == row.id, Delivery.state == "sent")))
    ids = []
    for channel in wanted:
        if channel.publish == "digest":  # a digest that carried it: the next one says so
            if was_in_sent_digest(session, channel.name, row.id):
                notice = request_notice(
                    session, row.id, channel.name, "correct", revision=row.content_hash[-32:],
                    note=UPDATED_NOTE.get(language, UPDATED_NOTE["en"]),
                    requested_by=f"source:{row.source}", now=now)
                ids.append(notice.id)
            continue
        adapter = rt.adapters.get(channel.name)
        if channel.name not in published or adapter is None \
                or "correct" not in capabilities(adapter):
            continue
        note = None
        if channel.on_update == "note":
            note = UPDATED_NOTE.get(language, UPDATED_NOTE["en"])
        messages = adapter.render(article, rt.context(channel))
        action, kind, _ = request_action(session, row.id, channel.name, "correct", note=note,
                                         messages=messages, requested_by=f"source:{row.source}",
                                         now=now)
        if action is not None and kind is ActionKind.QUEUED:
            ids.append(action.id)
            log.info("article %s changed at %s: %s will be corrected (on_update: %s)",
                     row.id, row.source, channel.name, channel.on_update)
    return ids
