"""X (Twitter) threads: the lede split into posts that X accepts, the link in one of them.

Lengths are X's own: twitter-text's weighted length with the v3 configuration (NFC, URLs count
23, emoji count 2 however many code points they have, CJK and most non-Latin scripts count 2).
The counting is the ``twitter-text-parser`` package's ``parse_tweet``, which passes the official
conformance cases (see tests/test_render_x.py).

Posts end where :mod:`distributor.text.cuts` (the cutting rule of every renderer) allows:
sentence ends, then clause ends (``, ; :`` and dashes), then spaces. Never inside a URL or a
word, and, unless nothing else fits, never inside a quotation, nor between a number or an
abbreviation and what follows it ("3,5 persen", "Rp 1.000", "Dr. Budi", "Jl. Sudirman").
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
import sys
import threading
import types
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from distributor.articles import Article
from distributor.render import hashtags as make_hashtags
from distributor.render.context import Message, RenderContext
from distributor.text.cuts import CLAUSE, ELLIPSIS, END, choose_end, cut_tokens, tokenize

__all__ = [
    "ELLIPSIS",
    "MAX_WEIGHTED_LENGTH",
    "render_x",
    "split_text",
    "weighted_length",
]

MAX_WEIGHTED_LENGTH = 280

# --------------------------------------------------------------------------- twitter-text

_import_lock = threading.Lock()


def _load_twitter_text() -> dict[str, types.ModuleType]:
    """Import ``twitter_text``.

    twitter-text-parser 3.0 reads its emoji list with ``pkg_resources``, which setuptools
    removed (>= 81). When ``pkg_resources`` is not importable we lend the package a minimal
    stand-in for the duration of its import only, then take it away again.
    """
    with _import_lock:
        lent = False
        if "pkg_resources" not in sys.modules and \
                importlib.util.find_spec("pkg_resources") is None:
            shim = types.ModuleType("pkg_resources")

            def resource_string(package: str, name: str) -> bytes:
                module_file = getattr(sys.modules[package], "__file__", None)
                if not module_file:
                    raise FileNotFoundError(name)
                return (Path(module_file).parent / name).read_bytes()

            shim.resource_string = resource_string  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
            lent = True
        try:
            return {name: importlib.import_module(f"twitter_text.{name}")
                    for name in ("config", "extract_emojis", "extract_urls")}
        finally:
            if lent:
                sys.modules.pop("pkg_resources", None)


_tt = _load_twitter_text()
_extract_urls: Callable[[str], list[dict[str, Any]]] = \
    _tt["extract_urls"].extract_urls_with_indices
_extract_emojis: Callable[[str], list[dict[str, Any]]] = \
    _tt["extract_emojis"].extract_emojis_with_indices
_TT_CONFIG: dict[str, Any] = _tt["config"].config


@dataclass(frozen=True)
class _Counting:
    """One twitter-text configuration (config/v1.json, v2.json, v3.json of twitter-text)."""

    scale: int
    default_weight: int
    transformed_url_length: int
    emoji_parsing: bool
    ranges: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, version: str, emoji_parsing: bool) -> _Counting:
        config = _TT_CONFIG[version]
        return cls(
            scale=config["scale"], default_weight=config["default_weight"],
            transformed_url_length=config["transformed_url_length"],
            emoji_parsing=emoji_parsing,
            ranges=tuple((r["start"], r["end"], r["weight"]) for r in config["ranges"]))


#: counting by configuration version (v3 is what X counts with today)
_COUNTING = {
    1: _Counting.of("version1", emoji_parsing=False),
    2: _Counting.of("version2", emoji_parsing=False),
    3: _Counting.of("version3", emoji_parsing=True),
}
_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")
# Every emoji twitter-text knows has a code point >= U+2100 or is one of these (©, ®, ‼, ⁉,
# keycaps): text without any of them needs no emoji matching, which is the slow part.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c\u2049\u20e3\ufe0f\u2100-\U0010ffff]")


@lru_cache(maxsize=16384)
def _weighted(text: str, version: int) -> int:
    """twitter-text's ``parse_tweet(...).weightedLength``, same algorithm (see its
    parse_tweet.py), skipping the emoji search when the text cannot contain an emoji."""
    counting = _COUNTING[version]
    normalized = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))
    urls = {entity["indices"][0]: entity["url"] for entity in _extract_urls(normalized)}
    emojis: dict[int, str] = {}
    if counting.emoji_parsing and _MAYBE_EMOJI.search(normalized):
        emojis = {entity["indices"][0]: entity["emoji"] for entity in _extract_emojis(normalized)}
    weight = 0
    index = 0
    while index < len(normalized):
        if index in urls:
            weight += counting.transformed_url_length * counting.scale
            index += len(urls[index])
            continue
        if index in emojis:
            weight += counting.default_weight
            index += len(emojis[index])
            continue
        code = ord(normalized[index])
        for start, end, range_weight in counting.ranges:
            if start <= code <= end:
                weight += range_weight
                break
        else:
            weight += counting.default_weight
        index += 1
    return int(weight / counting.scale)


def weighted_length(text: str, *, version: int = 3) -> int:
    """The length X counts for ``text`` (twitter-text configuration ``version``, default v3)."""
    if version not in _COUNTING:
        raise ValueError(f"unknown twitter-text configuration version {version}; use 1, 2 or 3")
    return _weighted(text, version)


# --------------------------------------------------------------------------- packing


@dataclass(frozen=True)
class _Layout:
    link: str
    link_first: bool
    numbering: bool
    max_posts: int

    def post(self, body: str, index: int, total: int | None, *, last: bool) -> str:
        """One post's text. ``total`` None: measure with the widest numbering possible."""
        number = ""
        if self.numbering and (total is None or total > 1):
            if total is None:
                number = f"{self.max_posts}/{self.max_posts}"
            else:
                number = f"{index + 1}/{total}"
        head = " ".join(p for p in (body, number) if p)
        with_link = bool(self.link) and ((self.link_first and index == 0) or
                                         (not self.link_first and last))
        if with_link:
            return f"{head}\n\n{self.link}" if head else self.link
        return head


def _join(tokens: Sequence[str]) -> str:
    return " ".join(tokens)


_MIN_FILL = 0.4  # a better kind of break is taken when it keeps at least this much of a post


def _hard_split(token: str, fits: Callable[[str], bool]) -> tuple[str, str]:
    """The longest head of a single too-long token that fits, and the rest."""
    low, high = 1, len(token) - 1
    best = 1
    while low <= high:
        mid = (low + high) // 2
        if fits(token[:mid]):
            best, low = mid, mid + 1
        else:
            high = mid - 1
    # do not separate a base character from its combining marks
    while best > 1 and unicodedata.combining(token[best]):
        best -= 1
    return token[:best], token[best:]


def _fits(layout: _Layout, body: str, index: int, *, last: bool) -> bool:
    return weighted_length(layout.post(body, index, None, last=last)) <= MAX_WEIGHTED_LENGTH


#: how far the sum of the tokens' weights may be from the weight of the joined text before we
#: stop measuring exactly (it is exact in practice: URLs and emoji never span a space)
_SLACK = 8


def _prefix_weights(tokens: list[str]) -> list[int]:
    """``sums[b] - sums[a] - 1`` estimates the weight of ``" ".join(tokens[a:b])``."""
    sums = [0]
    for token in tokens:
        sums.append(sums[-1] + weighted_length(token) + 1)
    return sums


def _choose_end(tokens: list[str], breaks: list[int], start: int, index: int,
                layout: _Layout, sums: list[int]) -> int | None:
    """Where the post starting at ``tokens[start]`` ends (exclusive), None if no token fits.

    The cutting rule of :mod:`distributor.text.cuts`: a sentence end, else a clause end,
    else a space, as long as it keeps at least 40 % of what the last space that fits keeps;
    inside a quotation, or between a number and its word, only when nothing else fits.
    """
    n = len(tokens)
    # only ends that can possibly fit are measured exactly
    reach = start + 1
    while reach < n and sums[reach + 1] - sums[start] - 1 <= MAX_WEIGHTED_LENGTH + _SLACK:
        reach += 1
    ends = [(e, breaks[e - 1]) for e in range(start + 1, min(reach, n - 1) + 1)]
    if reach >= n:
        # When the link goes last and did not fit with what is left, taking everything left
        # leaves the link a post of its own: better than a clause or a word cut, not as good
        # as ending this post at a sentence and the next one with the link.
        ends.append((n, END if not layout.link or layout.link_first else CLAUSE))

    def fits_until(e: int) -> bool:
        return _fits(layout, _join(tokens[start:e]), index, last=False)

    return choose_end(ends, fits_until, lambda e: sums[e] - sums[start],
                      min_fill=_MIN_FILL)


def _pack(tokens: list[str], breaks: list[int], layout: _Layout,
          most: int | None = None) -> list[str]:
    """Greedy: each post takes the longest run of tokens that fits, ending at the best break
    (:func:`_choose_end`); a single token longer than a post is cut by characters as the very
    last resort. Stops after ``most`` + 1 posts: more than ``most`` is too many anyway."""
    tokens = list(tokens)
    sums = _prefix_weights(tokens)
    bodies: list[str] = []
    start = 0
    while start < len(tokens):
        if most is not None and len(bodies) > most:
            break
        index = len(bodies)
        if sums[-1] - sums[start] - 1 <= MAX_WEIGHTED_LENGTH + _SLACK:
            rest = _join(tokens[start:])
            if _fits(layout, rest, index, last=True):
                bodies.append(rest)
                break
        chosen = _choose_end(tokens, breaks, start, index, layout, sums)
        if chosen is None:
            # a single token longer than a post: cut it by characters
            head, tail = _hard_split(tokens[start], functools.partial(
                _fits, layout, index=index, last=False))
            bodies.append(head)
            tokens[start] = tail
            sums = _prefix_weights(tokens)
            continue
        bodies.append(_join(tokens[start:chosen]))
        start = chosen
        if start == len(tokens) and layout.link and not layout.link_first:
            bodies.append("")  # the link alone
    return bodies


def split_text(text: str, *, link: str = "", link_position: str = "last",
               numbering: bool = False, max_posts: int = 4) -> list[str]:
    """``text`` as the posts of a thread, each at most 280 by X's weighted length.

    The link goes in the last post (``link_position="last"``) or the head post (``"first"``).
    Posts end where :mod:`distributor.text.cuts` allows (a sentence end, else a clause end,
    else a space; never inside a quotation, a number or a URL unless nothing else fits).
    Text needing more than ``max_posts`` posts is cut by the same rule and ends with "…".
    Numbering ("1/3") only on a thread of several posts.
    """
    max_posts = max(1, max_posts)
    layout = _Layout(link=link.strip(), link_first=link_position == "first",
                     numbering=numbering, max_posts=max_posts)
    if layout.link and not _fits(layout, "", 0, last=True):
        raise ValueError(f"the link {link!r} alone is longer than an X post")
    text = " ".join(text.split())
    if not text:
        return [layout.post("", 0, 1, last=True)] if layout.link else []
    single = layout.post(text, 0, 1, last=True)  # one post: no numbering
    if weighted_length(single) <= MAX_WEIGHTED_LENGTH:
        return [single]
    # every word weighs at least 1 and is followed by a space: no thread of max_posts posts
    # carries more words than this, so the rest is not even rated
    tokens, breaks = tokenize(text, max_posts * (MAX_WEIGHTED_LENGTH + _SLACK))
    bodies = _pack(tokens, breaks, layout, max_posts)
    if len(bodies) > max_posts:
        bodies = _truncate(tokens, breaks, layout)
    total = len(bodies)
    return [layout.post(body, i, total, last=i == total - 1) for i, body in enumerate(bodies)]


def _truncate(tokens: list[str], breaks: list[int], layout: _Layout) -> list[str]:
    """The longest beginning of the text, cut by the cutting rule with "…", whose posts are
    at most ``max_posts``."""
    found: dict[str, list[str]] = {}

    def fits(candidate: str) -> bool:
        bodies = _pack(*tokenize(candidate), layout, layout.max_posts)
        if len(bodies) > layout.max_posts:
            return False
        found[candidate] = bodies
        return True

    # nothing past what max_posts full posts can carry can be kept
    sums = _prefix_weights(tokens)
    most = layout.max_posts * (MAX_WEIGHTED_LENGTH + _SLACK)
    reach = next((i for i, total in enumerate(sums) if total > most), len(tokens))
    kept = cut_tokens(tokens, breaks, fits, min_fill=_MIN_FILL, reach=reach)
    if kept in found:
        return found[kept]
    return _pack([ELLIPSIS], [], layout)  # pragma: no cover - "…" always fits a post


# --------------------------------------------------------------------------- rendering


def _add_hashtags(posts: list[str], tags: list[str], link: str, link_first: bool) -> list[str]:
    """Hashtags, as many as fit, after the link (else at the end of the last post)."""
    if not tags or not posts:
        return posts
    targets = [0 if link_first and link else len(posts) - 1]
    if targets[0] != len(posts) - 1:
        targets.append(len(posts) - 1)
    for index in targets:
        text = posts[index]
        added = [tag for tag in tags if tag.casefold() not in text.casefold()]
        placed: list[str] = []
        for tag in added:
            candidate = text + " " + " ".join([*placed, tag])
            if weighted_length(candidate) <= MAX_WEIGHTED_LENGTH:
                placed.append(tag)
        if placed:
            posts = list(posts)
            posts[index] = text + " " + " ".join(placed)
            return posts
    return posts


#: characters twitter-text calls invalid: a post holding one is refused (BOM, non-characters)
_INVALID = re.compile("[\ufffe\ufeff\uffff]")


def _postable(text: str) -> str:
    """``text`` without the characters X refuses, whitespace collapsed."""
    return " ".join(_INVALID.sub("", text).split())


def render_x(article: Article, ctx: RenderContext) -> list[Message]:
    """The article as an X thread: ``[{"text": ...}, ...]``, the head post first (with
    ``"image"``: the article's image URL, when the channel has ``image: true``)."""
    config = ctx.channel
    link_position = str(getattr(config, "link_position", "last") or "last")
    numbering = bool(getattr(config, "numbering", False))
    max_posts = int(getattr(config, "max_posts", 4) or 4)
    text = _postable(article.lede) or _postable(article.title)
    link = article.url.strip()
    posts = split_text(text, link=link, link_position=link_position, numbering=numbering,
                       max_posts=max_posts)
    if getattr(config, "hashtags", False):
        posts = _add_hashtags(posts, make_hashtags(article.tags), link,
                              link_position == "first")
    for post in posts:
        length = weighted_length(post)
        if length > MAX_WEIGHTED_LENGTH:  # pragma: no cover - split_text guarantees it
            raise AssertionError(f"rendered an X post of weighted length {length}: {post!r}")
    messages: list[Message] = [{"text": post} for post in posts]
    if getattr(config, "image", False) and article.image and messages:
        messages[0]["image"] = article.image  # uploaded and attached to the head post
    return messages
