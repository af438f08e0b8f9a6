"""X (Twitter) threads: the lede split into posts that X accepts, the link in one of them.

Lengths are X's own (:mod:`distributor.channels.x.weight`). Posts end where the cutting rule of
every renderer (:func:`distributor.plugin.cut` and its parts) allows: sentence ends, then clause
ends (``, ; :`` and dashes), then spaces. Never inside a URL or a word, and, unless nothing else
fits, never inside a quotation, nor between a number or an abbreviation and what follows it
("3,5 persen", "Rp 1.000", "Dr. Budi", "Jl. Sudirman").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distributor.channels.x.weight import MAX_WEIGHTED_LENGTH, weighted_length
from distributor.plugin import (
    ELLIPSIS,
    Article,
    Gap,
    Message,
    RenderContext,
    choose_end,
    cut_tokens,
    tokenize,
)
from distributor.plugin import hashtags as make_hashtags

__all__ = [
    "ELLIPSIS",
    "MAX_WEIGHTED_LENGTH",
    "render_x",
    "split_text",
    "weighted_length",
]


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

    The cutting rule (:func:`distributor.plugin.choose_end`): a sentence end, else a clause end,
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
        ends.append((n, Gap.END if not layout.link or layout.link_first else Gap.CLAUSE))

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
    Posts end where the cutting rule allows (a sentence end, else a clause end,
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
