"""Fuzzing (issue 15): arbitrary input for text understanding, article files, feeds and the
configuration. Nothing raises but the one documented error of each entry point (SourceError,
ConfigErrors), each problem is one line, and every output stays valid: one-line titles,
a lede, an http(s) link, slugs of lowercase ASCII, no control characters once cleaned."""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.examples import examples

from distributor.articles import Article
from distributor.config import ConfigErrors, FeedSourceConfig
from distributor.configfile import load_config
from distributor.ledger.ingest import clean_article
from distributor.sources import SourceError, SourceState
from distributor.sources.directory import load_article_file
from distributor.sources.feed import fetch_feed
from distributor.text import (
    detect_language,
    html_to_text,
    markdown_to_text,
    parse_article_text,
    slugify,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
FUZZ = settings(max_examples=examples(60), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: text as newsrooms and attackers write it: words, newsroom furniture, markup, any unicode
_PIECES = st.sampled_from([
    "JAKARTA —", "JAKARTA -", "Jakarta (ANTARA) -", "RI News Portal.", "Baca juga:",
    "Pewarta: Siti", "Editor: Rahmat", "\n", "\n\n", "\r\n", ".", "!", "?", "“", "”", "\"",
    "<p>", "</p>", "<b>", "<a href=\"https://x.example/a\">", "</a>", "&amp;", "&#0;",
    "[tautan](https://x.example/b)", "---", "# ", "* ", "\x00", "\x07", "\u200b", "\u202e",
    "\ufeff", "Harga beras naik", "Rp1.000", "Dr.", "No. 5", "https://x.example/c",
])
texts = st.lists(st.one_of(_PIECES, st.text(max_size=40)), max_size=40).map("".join)


def one_line(value: str | None) -> bool:
    return value is None or "\n" not in value


# --------------------------------------------------------------------------- text


@FUZZ
@given(text=texts, language=st.sampled_from(["id", "en", "ar"]),
       title=st.one_of(st.none(), st.text(max_size=200)))
def test_any_text_is_understood_without_raising_and_gives_one_line_fields(
        text: str, language: str, title: str | None) -> None:
    parsed = parse_article_text(text, language=language, title=title)
    for field in (parsed.title, parsed.headline, parsed.dateline, parsed.author, parsed.editor):
        assert one_line(field), parsed
    assert isinstance(parsed.lede, str) and all(isinstance(p, str) for p in parsed.body)
    if any(c.isalnum() for c in parsed.lede):  # a lede of symbols alone ("﷽﷽") has none
        assert parsed.headline, parsed


@FUZZ
@given(text=texts)
def test_any_markup_turns_into_text_and_any_title_into_a_valid_slug(text: str) -> None:
    assert isinstance(html_to_text(text, links=True), str)
    assert isinstance(markdown_to_text(text), str)
    assert isinstance(detect_language(text, "id"), str)
    slug = slugify(text)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", slug), slug
    assert len(slug) <= 80


# --------------------------------------------------------------------------- article files


def assert_valid_article(article: Article, *, story: bool = True) -> None:
    """``story``: a file must hold a story; a feed entry may be a headline and its link."""
    assert article.url.startswith(("http://", "https://")), article.url
    assert article.title.strip() and one_line(article.title), article.title
    assert article.lede.strip() or not story, article
    cleaned = clean_article(article)
    for value in (cleaned.title, cleaned.lede, *cleaned.body, cleaned.author or ""):
        assert not CONTROL.search(value.replace("\n", "")), value


@FUZZ
@given(data=st.one_of(texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=600),
                      texts.map(lambda t: t.encode("utf-16")),
                      texts.map(lambda t: t.encode("cp1252", "replace"))),
       suffix=st.sampled_from([".txt", ".md", ".json"]))
def test_any_bytes_in_an_article_file_are_an_article_or_one_problem_line(
        data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "artikel" + suffix)
        path.write_bytes(data)
        try:
            article = load_article_file(path, source="newsroom", now=NOW, root=Path(folder),
                                        url_template="https://rinews.example/berita/{slug}",
                                        default_language="id", max_bytes=100_000)
        except SourceError as exc:
            assert one_line(str(exc)) and str(path) in str(exc), str(exc)
            return
    assert_valid_article(article)


@FUZZ
@given(front=st.dictionaries(st.sampled_from(["title", "url", "image", "published", "author",
                                              "tags", "language", "editor"]),
                             st.one_of(st.text(max_size=50), st.integers(), st.none(),
                                       st.lists(st.text(max_size=10), max_size=3),
                                       st.booleans(), st.floats(allow_nan=True))),
       body=texts)
def test_any_front_matter_is_an_article_or_one_problem_line(
        front: dict[str, object], body: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "artikel.md")
        path.write_text("---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body,
                        encoding="utf-8", errors="surrogatepass")
        try:
            article = load_article_file(path, source="newsroom", now=NOW, root=Path(folder),
                                        url_template="https://rinews.example/{slug}")
        except SourceError as exc:
            assert one_line(str(exc)), str(exc)
            return
    assert_valid_article(article)


# --------------------------------------------------------------------------- feeds


def read_feed(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "feed.xml")
        path.write_bytes(data)
        config = FeedSourceConfig.model_validate({"name": "portal", "type": "feed",
                                                  "url": str(path), "max_age": "3650d"})
        try:
            result = asyncio.run(fetch_feed(config, SourceState(), site_language="id",
                                            now=NOW))
        except SourceError as exc:
            assert one_line(str(exc)), str(exc)
            return
    assert all(one_line(p) for p in result.problems), result.problems
    for article in result.articles:
        assert_valid_article(article, story=False)
        assert article.key.strip()


@FUZZ
@given(data=st.one_of(st.binary(max_size=800), texts.map(lambda t: t.encode("utf-8"))))
def test_any_bytes_as_a_feed_are_a_feed_or_one_error_line(data: bytes) -> None:
    read_feed(data)


_ITEM = st.fixed_dictionaries({
    "title": texts, "description": texts, "guid": st.one_of(st.none(), st.text(max_size=30)),
    "link": st.one_of(st.none(), st.sampled_from(["https://x.example/a", "/b", "javascript:x",
                                                  "ftp://x", ""]), st.text(max_size=30)),
    "pubDate": st.one_of(st.none(), st.text(max_size=30),
                         st.just("Wed, 25 Nov 2026 10:45:00 +0700")),
})


def _rss(items: list[dict[str, str | None]], encoding: str) -> bytes:
    parts = []
    for item in items:
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items() if v is not None)
        parts.append(f"<item>{fields}</item>")
    xml = (f"<?xml version=\"1.0\" encoding={quoteattr(encoding)}?>\n<rss version=\"2.0\">"
           f"<channel><title>t</title><link>https://x.example/</link>{''.join(parts)}"
           "</channel></rss>")
    return xml.encode(encoding, "replace")


@FUZZ
@given(items=st.lists(_ITEM, max_size=5), encoding=st.sampled_from(["utf-8", "windows-1252",
                                                                   "koi8-r", "utf-16"]))
def test_any_rss_items_are_articles_or_problem_lines(
        items: list[dict[str, str | None]], encoding: str) -> None:
    read_feed(_rss(items, encoding))


# --------------------------------------------------------------------------- configuration


def load(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "channels.yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path, env={})
        except ConfigErrors as exc:
            assert exc.errors and all(one_line(str(e)) for e in exc.errors), str(exc)


@settings(FUZZ, max_examples=examples(40))
@given(text=st.one_of(st.text(max_size=300), texts))
def test_any_text_as_channels_yaml_is_a_configuration_or_errors_with_lines(text: str) -> None:
    load(text)


_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
              st.sampled_from(["${X}", "${X:-y}", "5m", "-1s", "https://x.example/rss",
                               "ftp://x", "feed", "directory", "telegram", "x", "email",
                               "outbox", "instant", "digest", "Asia/Jakarta", "0 6 * * *"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=12)
_KEYS = st.sampled_from(["site", "database", "execution", "web", "sources", "channels",
                         "templates", "outbox", "name", "type", "url", "path", "every",
                         "publish", "token", "chat_id", "schedule", "smtp", "url_template",
                         "max_article_bytes", "settle", "timezone", "language"])
_DOCS = st.recursive(_VALUES, lambda inner: st.dictionaries(_KEYS, inner, max_size=6),
                     max_leaves=25)


@settings(FUZZ, max_examples=examples(40))
@given(document=_DOCS, site=st.booleans())
def test_any_yaml_structure_is_a_configuration_or_errors_with_lines(
        document: object, site: bool) -> None:
    if site and isinstance(document, dict):
        document.setdefault("site", {"name": "RI", "url": "https://rinews.example"})
    try:
        text = yaml.safe_dump(document, allow_unicode=True)
    except yaml.YAMLError:
        assume(False)
    load(text)


@settings(deadline=None, max_examples=examples(100))
@given(text=st.sampled_from(["!0", "a: !!python/object:os.system x", "d: 2001-02-30",
                             "site: !!binary 'x'", "site: !custom x"]))
def test_a_yaml_tag_or_date_that_cannot_be_read_is_one_line_with_its_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "channels.yaml")
        path.write_text("# RI News Portal\n" + text + "\n", encoding="utf-8")
        try:
            load_config(path, env={})
        except ConfigErrors as exc:
            assert all(one_line(str(e)) for e in exc.errors), str(exc)
            assert any(e.line == 2 and "cannot be read" in e.message for e in exc.errors), \
                str(exc)
        else:
            raise AssertionError("accepted")
