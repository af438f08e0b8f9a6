"""The Article model: one news story as every other part of distributor sees it.

Sources build articles (``sources/``), the store keeps them (``store/``), renderers turn them
into messages (``render/``). Text understanding (titles, datelines, ledes, bylines) lives in
``distributor.text`` (a package).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field


class RelatedLink(BaseModel):
    """A "Baca juga" / "Read also" line: another story the text points to."""

    title: str
    url: str | None = None


class Article(BaseModel):
    """One article. ``id`` is set once the store has it; everything else comes from a source."""

    id: int | None = None
    source: str
    key: str = Field(description="stable key within the source: guid, canonical URL or hash")
    url: str
    url_derived: bool = Field(
        default=False, description="True when the URL was made from a source's url_template "
        "(a guess of the portal's address), False when the feed or the file gave it"
    )
    title: str
    title_derived: bool = Field(
        default=False, description="True when the title was derived from the lede"
    )
    dateline: str | None = None
    lede: str = ""
    body: list[str] = Field(default_factory=list, description="paragraphs after the lede")
    author: str | None = None
    editor: str | None = None
    related: list[RelatedLink] = Field(default_factory=list)
    image: str | None = None
    published: datetime | None = None
    first_seen: datetime | None = None
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    content_hash: str = ""
    backlog: bool = Field(
        default=False, description="older than the source's max_age when first seen: not posted"
    )

    def model_post_init(self, __context: object) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.title, self.lede, *self.body)

    @property
    def paragraphs(self) -> list[str]:
        """The story's paragraphs: the lede, then the body."""
        return [p for p in [self.lede, *self.body] if p]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def content_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(" ".join(part.split()).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
