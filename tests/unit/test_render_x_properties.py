"""Property-based tests (hypothesis) of the X thread splitter.

Whatever the lede (words, numbers, abbreviations, emoji, CJK, right-to-left text, URLs, words
longer than a post), the link and the options: every post is valid (<= 280 as X weighs it), the
posts are at most max_posts, the link is in the post asked for and only there, numbering is
right, the text is kept whole and in order (apart from numbering, the link and a final "…"),
and no URL is split between two posts.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.examples import examples

from distributor.channels.x.render import ELLIPSIS, split_text, weighted_length

# X counts a link 23 when twitter-text recognises it (a real top-level domain)
LINK = "https://www.rinews.co.id/berita/2026/11/25/moskow-dan-beijing-semakin-mempertegas-posisi"
# .example is no real top-level domain: X does not link it and counts every character
RAW_LINK = "https://rinews.example/berita/moskow-dan-beijing-semakin-mempertegas-posisi"

_VOCABULARY = [
    "kata", "dan", "yang", "pemerintah", "mengatakan", "Jakarta", "Presiden", "x", "di",
    "memperdalam", "kerja", "sama", "strategis", "berbagai", "bidang,", "tinggi;", "Barat.",
    "lalu.", "Serikat!", "mengapa?", "—", "3,5", "persen", "Rp", "1.000", "Dr.", "Budi",
    "Jl.", "Sudirman", "No.", "5", "a.n.", "Redaksi", "Kab.", "Prov.", "U.S.", "“kutipan”",
    "(ANTARA)", "😀", "👨‍👩‍👧‍👦", "🇮🇩", "日本語の", "テキスト。", "مرحبا", "שלום", "e\u0301",
    "https://rinews.co.id/berita/2026/11/25/moskow-dan-beijing?utm=x",
    "www.rinews.co.id/a", "https://rinews.example/tanpa-tld", "#Rusia", "@redaksi",
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
]
_LINKS = ["", LINK, RAW_LINK, "https://t.co/abc"]


@st.composite
def _ledes(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.one_of(
        st.sampled_from([*_VOCABULARY, "y" * 300]),  # "yyy...": longer than a whole post
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
        st.builds("https://rinews.co.id/{}".format,
                  st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/?=&", max_size=90)),
    ), max_size=draw(st.sampled_from([12, 60, 160]))))
    return " ".join(words)


def _strip_post(post: str, link: str, numbering: bool) -> str:
    if link:
        post = post.replace(link, " ")
    post = " ".join(post.split())
    if numbering:
        post = re.sub(r"(?:^| )\d+/\d+$", "", post)
    return post.strip()


@settings(max_examples=examples(120), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lede=_ledes(), link=st.sampled_from(_LINKS),
       link_position=st.sampled_from(["last", "first"]), numbering=st.booleans(),
       max_posts=st.integers(min_value=1, max_value=6))
def test_every_thread_is_valid_and_keeps_the_text_in_order(
        lede: str, link: str, link_position: str, numbering: bool, max_posts: int) -> None:
    posts = split_text(lede, link=link, link_position=link_position, numbering=numbering,
                       max_posts=max_posts)
    text = " ".join(lede.split())
    if not text and not link:
        assert posts == []
        return
    # every post is valid
    assert 1 <= len(posts) <= max_posts
    assert all(weighted_length(p) <= 280 for p in posts), [weighted_length(p) for p in posts]
    assert all(p.strip() for p in posts)
    # the link once, where it was asked for
    if link:
        holder = 0 if link_position == "first" else len(posts) - 1
        assert [p.count(link) for p in posts] == [int(i == holder) for i in range(len(posts))]
    # numbering "i/n" on every post of a thread of several
    if numbering and len(posts) > 1:
        for index, post in enumerate(posts, 1):
            assert " ".join(post.replace(link, " ").split()).endswith(f"{index}/{len(posts)}") \
                if link else post.endswith(f"{index}/{len(posts)}")
    # the text, in order: whole, or a beginning of it followed by "…"
    carried = " ".join(p for p in (_strip_post(p, link, numbering) for p in posts) if p)
    kept = carried
    if carried.endswith(ELLIPSIS) and not text.endswith(ELLIPSIS):
        kept = carried.removesuffix(ELLIPSIS).rstrip()
        assert len(kept) < len(text)
    if any(weighted_length(w) > 200 for w in text.split()):
        # a word longer than a post is cut by characters: compare without the spaces
        assert "".join(text.split()).startswith("".join(kept.split()))
    else:
        assert text.startswith(kept)
    if kept == carried:
        assert "".join(carried.split()) == "".join(text.split())
    # a URL of the text that the thread carries is whole in one post
    kept_length = len("".join(kept.split()))
    for match in re.finditer(r"\S+", text):
        token = match.group()
        if token.startswith(("http", "www.")) and \
                len("".join(text[: match.end()].split())) <= kept_length:
            assert any(token in p for p in posts), token
