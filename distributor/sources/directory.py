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
import difflib
import email.utils
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import time as wall_clock
from typing import Any

import yaml

from distributor.articles import Article
from distributor.config import DirectorySourceConfig
from distributor.sources.base import FetchResult, SourceError, SourceState
from distributor.text import (
    detect_language,
    html_to_text,
    looks_like_html,
    markdown_to_text,
    parse_article_text,
    slugify,
)

__all__ = [
    "ARTICLE_SUFFIXES",
    "article_files",
    "load_article_file",
    "merge_tags",
    "parse_published",
    "read_directory",
]

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".json"})
_FIELDS = ("title", "url", "image", "published", "author", "editor", "tags", "language")
_JSON_FIELDS = (*_FIELDS, "body")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)")


class _Problem(Exception):
    """What is wrong with a file and how to fix it (without the file name)."""


@dataclass
class _FileFields:
    """What a file says about itself, before its text is understood."""

    text: str
    title: str | None = None
    url: str | None = None
    image: str | None = None
    published: datetime | None = None
    author: str | None = None
    editor: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None


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
        _read_folder, config, state, site_language, now or datetime.now(UTC))


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
    for path in settled:
        try:
            article = load_article_file(
                path, source=config.name, url_template=config.url_template,
                language=config.language, now=now, root=root, default_language=site_language)
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
) -> Article:
    """Read one article file. Raises :class:`SourceError` naming the file and what to fix.

    ``root``: the source folder; the key is ``file:`` + the path relative to it (without it,
    ``file:`` + the absolute path). ``language`` forces the language; otherwise the file's
    ``language`` key or detection decides, ``default_language`` (else ``"en"``) when the text
    is too short to tell. ``now`` becomes :attr:`Article.first_seen`.
    """
    path = Path(path)
    try:
        fields, stat_mtime = _read_fields(path)
        return _article(path, fields, stat_mtime, source=source, url_template=url_template,
                        language=language, now=now, root=root,
                        default_language=default_language or "en")
    except _Problem as exc:
        raise SourceError(f"{path}: {exc}") from None


def _read_fields(path: Path) -> tuple[_FileFields, float]:
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise _Problem("no such file; check the path") from None
    except OSError as exc:
        raise _Problem(f"cannot read it ({exc.strerror or exc}); check its permissions") from None
    if not raw.strip():
        raise _Problem("the file is empty; write the article in it or delete it")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_fields(_decode(raw, fallback=False)), mtime
    if suffix in (".md", ".markdown"):
        return _markdown_fields(_decode(raw, fallback=False)), mtime
    if suffix == ".txt":
        return _FileFields(text=_decode(raw, fallback=True)), mtime
    raise _Problem(f"unknown kind of file {suffix!r}; use .txt, .md or .json")


def _decode(raw: bytes, *, fallback: bool) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if fallback:
            try:
                return raw.decode("cp1252")
            except UnicodeDecodeError:
                pass
    raise _Problem("the file is not UTF-8 text; save it with the UTF-8 encoding")


def _json_fields(text: str) -> _FileFields:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Problem(f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                       "fix the syntax (a JSON validator shows where)") from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise _Problem(f'the JSON is {kind}, not one object; write it as {{"title": ..., '
                       '"url": ..., "body": ...}')
    _check_keys(data, _JSON_FIELDS, "key")
    body = data.get("body")
    if isinstance(body, list) and all(isinstance(p, str) for p in body):
        body = "\n".join(body)
    if not isinstance(body, str) or not body.strip():
        raise _Problem('"body" is missing or empty; put the article text in "body"')
    text = html_to_text(body, links=True) if looks_like_html(body) else body
    return _fields_from_mapping(data, text)


def _markdown_fields(text: str) -> _FileFields:
    meta, body = _split_front_matter(text)
    _check_keys(meta, _FIELDS, "front matter key")
    fields = _fields_from_mapping(meta, markdown_to_text(body, join=False))
    if fields.image is None:
        image = _MD_IMAGE.search(body)
        fields.image = image.group(1) if image else None
    return fields


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            break
    else:
        raise _Problem("the front matter opened with '---' on line 1 is never closed; "
                       "add a line with '---' after the last key")
    try:
        meta = yaml.safe_load("\n".join(lines[1:index]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise _Problem(f"bad front matter{where} ({problem}); write one 'key: value' per line "
                       "and quote values that contain ': '") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise _Problem("the front matter must be 'key: value' lines (title:, url:, ...)")
    return meta, "\n".join(lines[index + 1:])


def _check_keys(data: Mapping[Any, Any], known: tuple[str, ...], what: str) -> None:
    for key in data:
        if str(key) not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            raise _Problem(f"unknown {what} {str(key)!r}; {suggestion}known keys: "
                           f"{', '.join(known)}")


def _fields_from_mapping(data: Mapping[str, Any], text: str) -> _FileFields:
    published = data.get("published")
    try:
        when = parse_published(published) if published not in (None, "") else None
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    return _FileFields(
        text=text,
        title=_text_value(data, "title"),
        url=_url_value(data, "url"),
        image=_url_value(data, "image"),
        published=when,
        author=_text_value(data, "author"),
        editor=_text_value(data, "editor"),
        tags=_tags_value(data.get("tags")),
        language=_text_value(data, "language"),
    )


def _text_value(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Problem(f"{key!r} must be text; write it like {key}: \"...\"")
    return " ".join(str(value).split()) or None


def _url_value(data: Mapping[str, Any], key: str) -> str | None:
    value = _text_value(data, key)
    if value is not None and not value.startswith(("http://", "https://")):
        raise _Problem(f"{key!r} is {value!r}; write the full address, starting with https://")
    return value


def _tags_value(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str | int | float) for t in value):
        raise _Problem("'tags' must be a list like [ekonomi, politik] or \"ekonomi, politik\"")
    return merge_tags([str(t) for t in value])


def parse_published(value: Any) -> datetime:
    """ISO 8601 or RFC 2822 text, a YAML date or datetime -> an aware datetime (naive: UTC).

    The offset the value was written with is kept (``{date}`` uses that local date).
    Raises :class:`ValueError` with a message that says how to write it.
    """
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip())
    if parsed is None:
        raise ValueError(f"'published' is {value!r}, which is not a date; write it like "
                         "2025-03-14T09:30:00+07:00 or 2025-03-14")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_date_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def merge_tags(*groups: Iterable[str]) -> list[str]:
    """Tags from several places, trimmed, without blanks or case-insensitive repeats."""
    seen: set[str] = set()
    merged: list[str] = []
    for group in groups:
        for tag in group:
            tag = " ".join(tag.split())
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                merged.append(tag)
    return merged


# --------------------------------------------------------------------------- the article


def _article(
    path: Path, fields: _FileFields, mtime: float, *, source: str, url_template: str | None,
    language: str | None, now: datetime | None, root: Path | None, default_language: str,
) -> Article:
    language = language or fields.language or detect_language(fields.text, default_language)
    parsed = parse_article_text(fields.text, language=language, title=fields.title)
    if not parsed.lede:
        raise _Problem("there is no article text, only a title or credits; write the story "
                       "below the title")
    title = parsed.title or parsed.headline
    published = fields.published or datetime.fromtimestamp(mtime, UTC)
    url = fields.url or _url_from_template(url_template, title, path, published)
    return Article(
        source=source,
        key=_key(path, root),
        url=url,
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
        raise _Problem("the file has no url and the source has no url_template; add "
                       "url_template: (e.g. https://example.com/berita/{slug}) to the source, "
                       "or a url to the file")
    slug = slugify(title) or slugify(path.stem) or "article"
    try:
        return template.format_map(
            {"slug": slug, "stem": path.stem, "date": published.strftime("%Y/%m/%d")})
    except (KeyError, ValueError, IndexError) as exc:
        raise _Problem(f"url_template {template!r} cannot be filled ({exc}); use only "
                       "{slug}, {stem} and {date}") from None
