"""The directory source: a folder of article files (Contract 4 of DESIGN.md).

``.txt`` is portal text like ``shared/seed``; ``.md`` has YAML front matter (``title``, ``url``,
``image``, ``published``, ``author``, ``tags``) above the text; ``.json`` is an object with
``title``, ``url``, ``body`` and optionally ``image``, ``published``, ``author``, ``tags``.
Both also accept ``editor`` and ``language``.

An article's key is ``file:`` + its path relative to the folder, so editing a file that was
already published never makes a new article. A file that cannot be read becomes one line in
:attr:`FetchResult.problems` (``path: what is wrong; how to fix``); the other files are read.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from time import time as wall_clock

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.config import DirectorySourceConfig
from distributor.sources.base import FetchResult, SourceError, SourceState
from distributor.sources.file_fields import (
    FileFields,
    FileProblem,
    merge_tags,
    parse_published,
    read_fields,
)
from distributor.text import detect_language, parse_article_text, slugify

__all__ = [
    "ARTICLE_SUFFIXES",
    "article_files",
    "load_article_file",
    "merge_tags",
    "parse_published",
    "read_directory",
    "suffixed_url",
]

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".json"})


# --------------------------------------------------------------------------- the folder


def _skipped(name: str) -> bool:
    """Hidden files, editors' temporary and lock files, a README about the folder."""
    return (name.startswith((".", "~", "#")) or name.endswith(("~", "#"))
            or name.lower().startswith("readme."))


def article_files(root: Path) -> list[Path]:
    """Article files under ``root``, subfolders included, in a stable order.

    Hidden files and folders, temporary files (``~``, ``.swp``, ``.tmp``, lock files), README
    files and files with other extensions are left out.
    """
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            path = Path(folder, name)
            if not _skipped(name) and path.suffix.lower() in ARTICLE_SUFFIXES:
                found.append(path)
    return sorted(found)


def _settled(files: list[Path], settle: float) -> list[Path]:
    """The files not modified within the last ``settle`` seconds (others may be mid-write)."""
    if settle <= 0:
        return files
    horizon = wall_clock() - settle
    keep = []
    for path in files:
        try:
            if path.stat().st_mtime <= horizon:
                keep.append(path)
        except OSError:
            continue
    return keep


def _fingerprint(root: Path, files: Iterable[Path], settings: str) -> str:
    digest = hashlib.sha256(settings.encode())
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "dir:" + digest.hexdigest()[:32]


async def read_directory(
    config: DirectorySourceConfig,
    state: SourceState,
    *,
    site_language: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """Read every article file in the source's folder (in a worker thread).

    When no file was added, removed or changed since the poll that returned ``state``, the
    result is ``not_modified`` (the state's ``etag`` carries a fingerprint of the folder).
    Articles older than ``max_age`` at ``now`` are marked ``backlog``.
    """
    root = Path(config.path)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise SourceError(
            f"the folder {root} {what}; create it or fix the source's path: in the "
            "configuration")
    return await asyncio.to_thread(
        _read_folder, config, state, site_language, now or utcnow())


def _read_folder(
    config: DirectorySourceConfig, state: SourceState, site_language: str | None, now: datetime
) -> FetchResult:
    root = Path(config.path)
    files = article_files(root)
    settings = repr((config.name, config.url_template, config.language, config.tags,
                     site_language, config.max_age))
    fingerprint = _fingerprint(root, files, settings)
    if state.etag == fingerprint:
        return FetchResult(state=state, not_modified=True)
    result = FetchResult(state=SourceState(etag=fingerprint))
    settled = _settled(files, config.settle.total_seconds())
    if len(settled) < len(files):
        result.state = SourceState()  # read the folder again next time, whatever it looks like
        result.pending = len(files) - len(settled)
        result.pending_wait = config.settle.total_seconds()
    for path in settled:
        try:
            article = load_article_file(
                path, source=config.name, url_template=config.url_template,
                language=config.language, now=now, root=root, default_language=site_language,
                max_bytes=config.max_article_bytes)
        except SourceError as exc:
            result.problems.append(str(exc))
            continue
        article.tags = merge_tags(article.tags, config.tags)
        if article.published is not None and article.published < now - config.max_age:
            article.backlog = True
        result.articles.append(article)
    result.articles.sort(key=lambda a: (a.published or now, a.key))
    return result


# --------------------------------------------------------------------------- one file


def load_article_file(
    path: Path,
    *,
    source: str = "manual",
    url_template: str | None = None,
    language: str | None = None,
    now: datetime | None = None,
    root: Path | None = None,
    default_language: str | None = None,
    max_bytes: int | None = None,
) -> Article:
    """Read one article file. Raises :class:`SourceError` naming the file and what to fix.

    ``root``: the source folder; the key is ``file:`` + the path relative to it (without it,
    ``file:`` + the absolute path). ``language`` forces the language; otherwise the file's
    ``language`` key or detection decides, ``default_language`` (else ``"en"``) when the text
    is too short to tell. ``now`` becomes :attr:`Article.first_seen`. A file larger than
    ``max_bytes`` is refused without being read.
    """
    path = Path(path)
    try:
        fields, stat_mtime = read_fields(path, max_bytes=max_bytes)
        return _article(path, fields, stat_mtime, source=source, url_template=url_template,
                        language=language, now=now, root=root,
                        default_language=default_language or "en")
    except FileProblem as exc:
        raise SourceError(f"{path}: {exc}") from None



# --------------------------------------------------------------------------- the article


def _article(
    path: Path, fields: FileFields, mtime: float, *, source: str, url_template: str | None,
    language: str | None, now: datetime | None, root: Path | None, default_language: str,
) -> Article:
    language = language or fields.language or detect_language(fields.text, default_language)
    parsed = parse_article_text(fields.text, language=language, title=fields.title)
    if (not parsed.lede or not (parsed.title or parsed.headline)
            or _only_a_title(parsed.title, parsed.lede, parsed.body)):
        raise FileProblem("there is no article text, only a title, a dateline or credits; write "
                          "the story below the title")
    title = parsed.title or parsed.headline
    published = fields.published or datetime.fromtimestamp(mtime, UTC)
    url = fields.url or _url_from_template(url_template, title, path, published)
    return Article(
        source=source,
        key=_key(path, root),
        url=url,
        url_derived=fields.url is None,
        title=title,
        title_derived=parsed.title is None,
        dateline=parsed.dateline,
        lede=parsed.lede,
        body=parsed.body,
        author=fields.author or parsed.author,
        editor=fields.editor or parsed.editor,
        related=parsed.related,
        image=fields.image,
        published=published.astimezone(UTC),
        first_seen=now,
        language=parsed.language,
        tags=fields.tags,
    )


def _only_a_title(title: str | None, lede: str, body: list[str]) -> bool:
    """One short line without a full stop and nothing else ("Banjir Jakarta" above a bare
    "JAKARTA -"): a headline, not a story."""
    if title is not None or body:
        return False
    return len(lede.split()) <= 15 and not lede.rstrip("\"'”’)»").endswith((".", "!", "?", "…"))


def _key(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return "file:" + path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return "file:" + path.resolve().as_posix()


def _url_from_template(
    template: str | None, title: str, path: Path, published: datetime
) -> str:
    if not template:
        raise FileProblem("the file has no url and the source has no url_template; add "
                          "url_template: (e.g. https://example.com/berita/{slug}) to the source, "
                          "or a url to the file")
    slug = slugify(title) or slugify(path.stem) or "article"
    try:
        return template.format_map(
            {"slug": slug, "stem": path.stem, "date": published.strftime("%Y/%m/%d")})
    except (KeyError, ValueError, IndexError) as exc:
        raise FileProblem(f"url_template {template!r} cannot be filled ({exc}); use only "
                          "{slug}, {stem} and {date}") from None


def suffixed_url(article: Article, number: int) -> str:
    """The derived URL of ``article`` made unique: ``-2``, ``-3``... after its slug (or the
    file's stem, when the template has no slug), else at the end of the address's path."""
    stem = Path(article.key.removeprefix("file:")).stem
    suffix = f"-{number}"
    for part in (slugify(article.title) or slugify(stem) or "article", stem):
        if not part:
            continue
        found = list(re.finditer(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])",
                                 article.url))
        if found:
            end = found[-1].end()
            return article.url[:end] + suffix + article.url[end:]
    head, sep, tail = article.url.partition("?")
    return head.rstrip("/") + suffix + sep + tail
