"""The outbox: writes what would be sent into ``<path>/<channel>/`` instead of sending it.

Used as a channel of its own (``type: outbox``) and, under ``--dry-run``, in place of every
channel's adapter (then it keeps the real adapter's rendering and file format).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from distributor.plugin import (
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
