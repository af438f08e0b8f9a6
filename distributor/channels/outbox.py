"""The outbox: writes what would be sent into ``<path>/<channel>/`` instead of sending it.

Used as a channel of its own (``type: outbox``) and, under ``--dry-run``, in place of every
channel's adapter (then it keeps the real adapter's rendering and file format).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from distributor.plugin import (
    ActionContext,
    Article,
    Channel,
    ChannelConfig,
    DigestChannelConfig,
    Message,
    PermanentError,
    RenderContext,
    SendContext,
    slugify,
    utcnow,
)


class OutboxConfig(DigestChannelConfig):
    type: Literal["outbox"] = "outbox"
    path: Path = Field(default=Path("outbox"))


class OutboxAdapter(Channel):
    type_name = "outbox"
    config_model = OutboxConfig
    config: OutboxConfig

    def __init__(self, config: ChannelConfig, *, wraps: Channel | None = None,
                 folder: Path | None = None):
        super().__init__(config)
        #: under --dry-run: the real channel's adapter, whose files we write
        self.wraps = wraps
        base = folder if folder is not None else getattr(config, "path", Path("outbox"))
        self.folder = Path(base) / config.name

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        if self.wraps is not None:
            return self.wraps.render(article, ctx)
        return [{
            "name": f"{article.id}-{slugify(article.title, max_len=50)}",
            "title": article.title,
            "url": article.url,
            "lede": article.lede,
            "text": f"{article.title}\n\n{article.lede}\n\n{article.url}",
        }]

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        if self.wraps is not None:
            return self.wraps.render_digest(articles, ctx)
        when = (ctx.now or utcnow()).astimezone(ctx.site.tz)
        return [{
            "name": f"digest-{when:%Y-%m-%d-%H%M}",
            "articles": [{"id": a.id, "title": a.title, "url": a.url} for a in articles],
            "text": "\n\n".join(f"{a.title}\n{a.url}" for a in articles),
        }]

    @property
    def supports_digest(self) -> bool:
        return self.wraps.supports_digest if self.wraps is not None else True

    def write(self, name: str, messages: list[Message]) -> list[Path]:
        """Write one delivery's messages as files named ``name`` + suffix; return their paths."""
        producer = self.wraps if self.wraps is not None else self
        files = Channel.outbox_files(producer, messages) if producer is self else \
            producer.outbox_files(messages)
        written = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for suffix, content in files.items():
                target = self.folder / f"{name}{suffix}"
                _atomic_write(target, content)
                written.append(target)
        except OSError as exc:
            raise PermanentError(f"cannot write to the outbox {self.folder}: {exc}") from exc
        return written

    async def send(self, message: Message, ctx: SendContext) -> str:
        """A standalone outbox channel: one message per delivery, named by render()."""
        paths = self.write(_safe(str(message.get("name") or "message")), [message])
        return str(paths[0])

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        if self.wraps is not None or not messages:
            return None
        target = self.folder / f"{_safe(str(messages[0].get('name') or 'message'))}.json"
        return str(target) if target.exists() else None


    async def retract(self, remote_ids: list[str], ctx: SendContext) -> None:
        """A retraction file beside each file the post was written to
        (``<name>.retracted.json`` and ``.txt``: the reason, when, the article)."""
        self.write_beside(remote_ids, ctx, "retracted", None)

    async def correct(self, remote_ids: list[str], messages: list[Message],
                      ctx: SendContext) -> list[str]:
        """The article as it is now, beside the original: ``<name>.corrected.json``."""
        return self.write_beside(remote_ids, ctx, "corrected", messages)

    def write_beside(self, remote_ids: list[str], ctx: SendContext, kind: str,
                messages: list[Message] | None) -> list[str]:
        action = ctx if isinstance(ctx, ActionContext) else None
        article = action.article if action is not None else None
        written = []
        for remote_id in remote_ids:
            original = Path(remote_id)
            stem = original.name[:-len(original.suffix)] if original.suffix else original.name
            target = original.with_name(f"{stem}.{kind}")
            record = {kind: True, "at": utcnow().isoformat(timespec="seconds"),
                      "original": original.name,
                      "reason": action.reason if action is not None else None,
                      "note": action.note if action is not None else None,
                      "article": {"id": article.id, "title": article.title,
                                  "url": article.url} if article is not None else None}
            if messages is not None:
                record["messages"] = messages
            text = (f"{kind.upper()}: {article.title if article else stem}\n"
                    + (f"{action.reason or action.note or ''}\n" if action else ""))
            try:
                original.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(target.with_suffix(f".{kind}.json"), json.dumps(
                    record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
                _atomic_write(target.with_suffix(f".{kind}.txt"), text.encode("utf-8"))
            except OSError as exc:
                raise PermanentError(f"cannot write to the outbox {original.parent}: {exc}"
                                     ) from exc
            written.append(str(target.with_suffix(f".{kind}.json")))
            if action is not None:
                action.record(remote_id, "marked" if messages is None else "edited")
        return written


def dry_run_outbox(channel: Channel) -> OutboxAdapter:
    """The outbox that stands in for a channel under ``--dry-run`` (the runtime wraps every
    channel in one)."""
    if not (isinstance(channel, OutboxAdapter) and channel.wraps is not None):
        raise TypeError(f"{channel!r} is not a dry run's outbox")
    return channel


def _safe(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return keep.strip("-.")[:120] or "message"


def _atomic_write(target: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
