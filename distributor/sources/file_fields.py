"""What an article file says about itself, before its text is understood: the kind of file
(``.txt`` portal text, ``.md`` with YAML front matter, ``.json``), its keys checked (a typo gets
a suggestion), its dates and tags read. A problem is a :class:`FileProblem`: what is wrong and how
to fix it, without the file name (the caller adds it).
"""

from __future__ import annotations

import difflib
import email.utils
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from distributor.sources.encoding import decode_text
from distributor.text import html_to_text, looks_like_html, markdown_to_text

__all__ = ["FileFields", "FileProblem", "merge_tags", "parse_published", "read_fields"]

_FIELDS = ("title", "url", "image", "published", "author", "editor", "tags", "language")
_JSON_FIELDS = (*_FIELDS, "body")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)")


class FileProblem(Exception):
    """What is wrong with a file and how to fix it (without the file name)."""


@dataclass
class FileFields:
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



def read_fields(path: Path, *, max_bytes: int | None = None) -> tuple[FileFields, float]:
    """What the file says; a file over ``max_bytes`` is refused unread."""
    try:
        stat = path.stat()
        if max_bytes is not None and stat.st_size > max_bytes:
            raise FileProblem(f"the file is {_size(stat.st_size)}, more than the "
                              f"{_size(max_bytes)} an article may be (max_article_bytes of the "
                              "source); split it, or raise max_article_bytes")
        with path.open("rb") as file:
            raw = file.read() if max_bytes is None else file.read(max_bytes + 1)
        mtime = stat.st_mtime
    except FileNotFoundError:
        raise FileProblem("no such file; check the path") from None
    except OSError as exc:
        raise FileProblem(f"cannot read it ({exc.strerror or exc}); "
                          "check its permissions") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise FileProblem(f"the file grew past the {_size(max_bytes)} an article may be "
                          "(max_article_bytes of the source); split it, or raise "
                          "max_article_bytes")
    if not raw.strip():
        raise FileProblem("the file is empty; write the article in it or delete it")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_fields(_decode(raw)), mtime
    if suffix in (".md", ".markdown"):
        return _markdown_fields(_decode(raw)), mtime
    if suffix == ".txt":
        return FileFields(text=_decode(raw)), mtime
    raise FileProblem(f"unknown kind of file {suffix!r}; use .txt, .md or .json")


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def _decode(raw: bytes) -> str:
    text = decode_text(raw)
    if text is None:
        raise FileProblem("the file is not text in any encoding distributor recognises (is it "
                          "a picture or a document?); save the article as plain text, UTF-8")
    return text


def _json_fields(text: str) -> FileFields:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                          "fix the syntax (a JSON validator shows where)") from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise FileProblem(f'the JSON is {kind}, not one object; write it as {{"title": ..., '
                          '"url": ..., "body": ...}')
    _check_keys(data, _JSON_FIELDS, "key")
    body = data.get("body")
    if isinstance(body, list) and all(isinstance(p, str) for p in body):
        body = "\n".join(body)
    if not isinstance(body, str) or not body.strip():
        raise FileProblem('"body" is missing or empty; put the article text in "body"')
    text = html_to_text(body, links=True) if looks_like_html(body) else body
    return _fields_from_mapping(data, text)


def _markdown_fields(text: str) -> FileFields:
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
        raise FileProblem("the front matter opened with '---' on line 1 is never closed; "
                          "add a line with '---' after the last key")
    try:
        meta = yaml.safe_load("\n".join(lines[1:index]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FileProblem(f"bad front matter{where} ({problem}); write one 'key: value' per line "
                          "and quote values that contain ': '") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise FileProblem("the front matter must be 'key: value' lines (title:, url:, ...)")
    return meta, "\n".join(lines[index + 1:])


def _check_keys(data: Mapping[Any, Any], known: tuple[str, ...], what: str) -> None:
    for key in data:
        if str(key) not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            raise FileProblem(f"unknown {what} {str(key)!r}; {suggestion}known keys: "
                              f"{', '.join(known)}")


def _fields_from_mapping(data: Mapping[str, Any], text: str) -> FileFields:
    published = data.get("published")
    try:
        when = parse_published(published) if published not in (None, "") else None
    except ValueError as exc:
        raise FileProblem(str(exc)) from None
    return FileFields(
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
        raise FileProblem(f"{key!r} must be text; write it like {key}: \"...\"")
    return " ".join(str(value).split()) or None


def _url_value(data: Mapping[str, Any], key: str) -> str | None:
    value = _text_value(data, key)
    if value is not None and not value.startswith(("http://", "https://")):
        raise FileProblem(f"{key!r} is {value!r}; write the full address, starting with https://")
    return value


def _tags_value(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str | int | float) for t in value):
        raise FileProblem("'tags' must be a list like [ekonomi, politik] or \"ekonomi, politik\"")
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
