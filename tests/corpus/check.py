"""The corpus runner: what the bot reads in every real article, against what an editor reads.

``make corpus`` (or ``python tests/corpus/check.py [PATH...]``) loads every article of
``tests/corpus/<publisher>/`` (``.txt``, ``.md``, ``.json`` through the directory source, ``.xml``
feeds through the feed source, from the local file) and of ``tests/articles/``, compares each
field with the ``.yaml`` beside it (``tests/articles/expected.yaml`` for the older set), prints
the accuracy per field and every mismatch as a diff, and exits 1 below 100%.
``tests/test_corpus.py`` runs the same comparisons, one test per article.

A derived headline (``headline: null``, ``headline_derived: true``) is not compared with a fixed
string but held to the rules of issue 13: a whole clause from the start of the lede's first
sentence, never cut inside a word, no byline, dateline or furniture, within the headline limit.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from a checkout: read this checkout's code
    sys.path.insert(0, str(ROOT))

from distributor.articles import Article  # noqa: E402
from distributor.config import FeedSourceConfig  # noqa: E402
from distributor.sources import SourceState  # noqa: E402
from distributor.sources.directory import load_article_file  # noqa: E402
from distributor.sources.feed import fetch_feed  # noqa: E402
from distributor.text import HEADLINE_MAX, first_sentence  # noqa: E402

#: libyaml's loader where PyYAML has it (the same documents, read ten times faster)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CORPUS = Path(__file__).resolve().parent
ARTICLES = CORPUS.parent / "articles"
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
URL_TEMPLATE = "https://rinews.example/berita/{slug}"
SUFFIXES = (".txt", ".md", ".json", ".xml")
FIELDS = ("headline", "headline_derived", "dateline", "lede", "author", "editor", "related",
          "language")

#: what a derived headline must never contain: bylines, publication prefixes, furniture
NOT_IN_A_HEADLINE = re.compile(
    r"laporan wartawan|pewarta|penulis\s*:|reporter\s*:|editor\s*:|^editor\b|kompas\.com"
    r"|tribunnews\.com|liputan6\.com|detik(?:com|news)?\b\s*[-–—]|\(antara\)|prnewswire"
    r"|baca juga|berita terkait|^home\b|\bago$|\blalu$|^headline$|advertisement|scroll to"
    r"|^foto\s*:|\bwib$|^\(?[a-z]{2,4}/[a-z]{2,4}\)?$", re.I)


@dataclass
class Case:
    """One article of the corpus and what an editor reads in it."""

    name: str  # path relative to tests/, plus the item's link for a feed
    expected: dict[str, Any]
    load: Callable[[], Article]
    prefix_lede: bool = False  # tests/articles: the expectation is the lede's beginning


@dataclass
class Result:
    case: Case
    mismatches: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    compared: list[str] = field(default_factory=list)
    error: str | None = None


# --------------------------------------------------------------------------- the cases


def _relative(path: Path) -> str:
    return path.relative_to(CORPUS.parent).as_posix()


def _load_file(path: Path) -> Callable[[], Article]:
    def load() -> Article:
        return load_article_file(path, source="corpus", url_template=URL_TEMPLATE,
                                 root=path.parent, now=NOW, default_language="id")
    return load


_FEEDS: dict[Path, list[Article]] = {}


def feed_articles(path: Path) -> list[Article]:
    if path not in _FEEDS:
        config = FeedSourceConfig(name="corpus", type="feed", url=str(path), max_age="36500d")
        result = asyncio.run(fetch_feed(config, SourceState(), site_language="id", now=NOW))
        if result.problems:
            raise AssertionError("; ".join(result.problems))
        _FEEDS[path] = result.articles
    return _FEEDS[path]


def _feed_item(path: Path, link: str) -> Callable[[], Article]:
    def load() -> Article:
        for article in feed_articles(path):
            if article.url == link or article.url.split("?")[0] == link.split("?")[0]:
                return article
        raise AssertionError(f"no item with the link {link} in {path.name}")
    return load


def corpus_cases(paths: list[Path] | None = None) -> list[Case]:
    """Every article of tests/corpus (and tests/articles), or those under ``paths``."""
    cases: list[Case] = []
    for expected_file in sorted(CORPUS.glob("*/*.yaml")):
        article_file = next((f for suffix in SUFFIXES
                             if (f := expected_file.with_suffix(suffix)).exists()), None)
        if article_file is None:
            continue
        meta = yaml.load(expected_file.read_text(encoding="utf-8"), LOADER) or {}
        if article_file.suffix == ".xml":
            for item in meta.get("items") or []:
                cases.append(Case(f"{_relative(article_file)} {item['link']}", item,
                                  _feed_item(article_file, item["link"])))
        else:
            cases.append(Case(_relative(article_file), meta, _load_file(article_file)))
    for entry in yaml.load((ARTICLES / "expected.yaml").read_text(encoding="utf-8"), LOADER):
        expected = {
            "headline": entry["title"],  # derived ones too: this set pins them
            "headline_derived": entry["title_derived"],
            "dateline": entry["dateline"], "lede": entry["lede_start"],
            "author": entry["author"], "editor": entry["editor"],
            "related": [link["title"] for link in entry["related"]],
            "language": entry["language"],
        }
        cases.append(Case(f"articles/{entry['file']}", expected,
                          _load_file(ARTICLES / entry["file"]), prefix_lede=True))
    if paths:
        wanted = [p.resolve() for p in paths]
        cases = [c for c in cases if any(
            (CORPUS.parent / c.name.split(" ")[0]).resolve().is_relative_to(w) for w in wanted)]
    return cases


# --------------------------------------------------------------------------- comparing


def _squash(text: Any) -> Any:
    return " ".join(text.split()) if isinstance(text, str) else text


def derived_headline_problems(headline: str, lede: str) -> list[str]:
    """What breaks issue 13's rules for a headline derived from ``lede``."""
    problems = []
    sentence = first_sentence(lede)
    words, source = headline.removesuffix("…").split(), sentence.split()
    if not words:
        return ["the headline is empty"]
    if not source or words[0] != source[0]:
        problems.append("it does not start with the lede's first word")
    # every word of the headline in order in the sentence (short asides may be left out)
    position = 0
    for word in words:
        bare = word.strip(",;:.\"”)")
        while position < len(source) and source[position].strip(",;:.\"”)") != bare:
            position += 1
        if position == len(source):
            problems.append(f"{word!r} is not a whole word of the lede's first sentence")
            break
        position += 1
    if len(headline) > HEADLINE_MAX:
        problems.append(f"it is {len(headline)} characters long (at most {HEADLINE_MAX})")
    if NOT_IN_A_HEADLINE.search(headline):
        problems.append("it carries a byline, a dateline or furniture")
    if headline.endswith((".", ",", ";", ":", "-", "—")):
        problems.append("it ends with punctuation")
    return problems


def actual_fields(article: Article) -> dict[str, Any]:
    return {
        "headline": article.title, "headline_derived": article.title_derived,
        "dateline": article.dateline, "lede": article.lede, "author": article.author,
        "editor": article.editor, "related": [link.title for link in article.related],
        "language": article.language,
    }


def compare(case: Case, article: Article) -> Result:
    result = Result(case)
    actual = actual_fields(article)
    expected = case.expected
    for name in FIELDS:
        if name not in expected and name != "headline_derived":
            continue
        result.compared.append(name)
        want = expected.get(name, False)
        got = actual[name]
        if name == "related":
            want = [_squash(r["title"] if isinstance(r, dict) else r) for r in want or []]
            got = [_squash(r) for r in got]
        elif name == "lede":  # no lede: null in the yaml, "" on the article
            want, got = _squash(want or ""), _squash(got or "")
        else:
            want, got = _squash(want), _squash(got)
        if name == "headline" and expected.get("headline_derived") and want is None:
            problems = derived_headline_problems(got or "", actual["lede"] or "")
            if not article.title_derived:
                problems.insert(0, "the article should have no title")
            if problems:
                result.mismatches[name] = ("a derived headline: " + "; ".join(problems), got)
            continue
        ok = (isinstance(got, str) and isinstance(want, str) and got.startswith(want)) \
            if name == "lede" and case.prefix_lede else got == want
        if not ok:
            result.mismatches[name] = (want, got)
    return result


def check(case: Case) -> Result:
    try:
        article = case.load()
    except Exception as exc:  # a file the sources cannot read is a mismatch of every field
        result = Result(case, error=f"{type(exc).__name__}: {exc}")
        result.compared = [n for n in FIELDS if n in case.expected]
        return result
    return compare(case, article)


# --------------------------------------------------------------------------- the report


def _diff(want: Any, got: Any) -> Iterator[str]:
    if isinstance(want, str) and isinstance(got, str) and max(len(want), len(got)) > 60:
        yield from (f"      {line}" for line in difflib.ndiff(
            _wrap(want), _wrap(got)) if not line.startswith("?"))
        return
    yield f"      - expected: {want!r}"
    yield f"      + got:      {got!r}"


def _wrap(text: str) -> list[str]:
    """Sentences on lines of their own, so a diff of two ledes shows where they part."""
    return re.split(r"(?<=[.!?\"”])\s+", text) or [text]


def report(results: list[Result]) -> tuple[str, bool]:
    lines: list[str] = []
    for result in results:
        if result.error:
            lines.append(f"✗ {result.case.name}: cannot be read: {result.error}")
            continue
        for name, (want, got) in result.mismatches.items():
            lines.append(f"✗ {result.case.name}: {name}")
            lines.extend(_diff(want, got))
    lines.append("")
    lines.append(f"corpus: {len(results)} articles")
    perfect = True
    for name in FIELDS:
        total = sum(name in r.compared for r in results)
        good = sum(name in r.compared and name not in r.mismatches and not r.error
                   for r in results)
        perfect &= good == total
        share = 100.0 * good / total if total else 100.0
        lines.append(f"  {name:<17} {good:>3}/{total:<3} {share:6.1f}%")
    whole = sum(not r.mismatches and not r.error for r in results)
    lines.append(f"  {'every field':<17} {whole:>3}/{len(results):<3} "
                 f"{100.0 * whole / max(1, len(results)):6.1f}%")
    return "\n".join(lines), perfect


def main(argv: list[str]) -> int:
    results = [check(case) for case in corpus_cases([Path(a) for a in argv] or None)]
    text, perfect = report(results)
    print(text)
    return 0 if perfect and results else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
