"""X threads: X's weighted length (official conformance cases) and splitting a lede into posts."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from distributor.articles import Article
from distributor.channels.x.adapter import XAdapter, XConfig
from distributor.channels.x.render import render_x, split_text, weighted_length
from distributor.config import SiteConfig, WebConfig
from distributor.render import Templates
from distributor.render.context import RenderContext
from distributor.text.cuts import GLUE, SENTENCE, tokenize

#: libyaml's loader where PyYAML has it (the same documents, read ten times faster)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

HERE = Path(__file__).resolve()
CONFORMANCE = HERE.parents[3] / "shared/data/twitter-text/conformance_validate.yml"
SEED_PLACES = [HERE.parents[3] / "shared/seed/000_9e063caa9953ea57.txt",
               HERE.parents[2] / "examples/articles/000_9e063caa9953ea57.txt"]
# X counts a link 23 when twitter-text recognises it (a real top-level domain)
LINK = "https://www.rinews.co.id/berita/2026/11/25/moskow-dan-beijing-semakin-mempertegas-posisi"
# .example is no real top-level domain: X does not link it and counts every character
RAW_LINK = "https://rinews.example/berita/moskow-dan-beijing-semakin-mempertegas-posisi"


def conformance_cases(section: str) -> list[Any]:
    if not CONFORMANCE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"twitter-text conformance data not found at {CONFORMANCE}"))]
    return [pytest.param(case, id=case["description"]) for case in _conformance()[section]]


@functools.cache
def _conformance() -> dict[str, Any]:
    """The conformance file, read once (three sections of it parametrize the tests)."""
    tests: dict[str, Any] = yaml.load(CONFORMANCE.read_text(encoding="utf-8"), LOADER)["tests"]
    return tests


def seed_paragraphs() -> list[str]:
    for place in SEED_PLACES:
        if place.exists():
            lines = place.read_text(encoding="utf-8").splitlines()
            return [line.strip() for line in lines if line.strip()]
    pytest.skip("the seed article is not available (shared/seed or examples/articles)")


def seed_lede() -> str:
    # the first paragraph without the publication prefix and dateline, as the parser gives it
    return seed_paragraphs()[0].split("— ", 1)[1]


SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id",
                  timezone="Asia/Jakarta")


def x_config(**overrides: Any) -> XConfig:
    secret = SecretStr("dummy")
    return XConfig(name="x", consumer_key=secret, consumer_secret=secret, access_token=secret,
                   access_token_secret=secret, **overrides)


def context(**overrides: Any) -> RenderContext:
    return RenderContext(site=SITE, channel=x_config(**overrides), web=WebConfig(),
                         templates=Templates())


def article(lede: str, **fields: Any) -> Article:
    values: dict[str, Any] = {"source": "test", "key": "k", "url": LINK,
                              "title": "Putin dan Xi perkuat poros", "lede": lede}
    values.update(fields)
    return Article(**values)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    assert all(set(m) == {"text"} for m in messages), messages
    return [m["text"] for m in messages]


def bodies(posts: list[str]) -> str:
    """The lede text carried by the posts: link, numbering and ellipsis removed."""
    parts = []
    for post in posts:
        post = post.replace(LINK, "")
        post = re.sub(r" ?\d+/\d+$", "", post.strip())
        parts.append(post.strip())
    return " ".join(p for p in parts if p)


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize("case", conformance_cases("WeightedTweetsWithDiscountedEmojiCounterTest"))
def test_weighted_length_matches_twitter_text_v3_conformance(case: dict[str, Any]) -> None:
    assert weighted_length(case["text"]) == case["expected"]["weightedLength"]


@pytest.mark.parametrize("case", conformance_cases("UnicodeDirectionalMarkerCounterTest"))
def test_weighted_length_matches_directional_marker_conformance(case: dict[str, Any]) -> None:
    assert weighted_length(case["text"]) == case["expected"]["weightedLength"]


@pytest.mark.parametrize("case", conformance_cases("WeightedTweetsCounterTest"))
def test_weighted_length_with_config_v2_matches_v2_conformance(case: dict[str, Any]) -> None:
    assert weighted_length(case["text"], version=2) == case["expected"]["weightedLength"]


def test_urls_count_23_and_emoji_and_cjk_count_two() -> None:
    assert weighted_length("https://rinews.co.id/berita/" + "a" * 200) == 23
    assert weighted_length("👨‍👩‍👧‍👦") == 2  # one emoji of seven code points
    assert weighted_length("日本語") == 6
    assert weighted_length("e\u0301") == 1  # NFC: é
    assert weighted_length("…") == 2  # outside the ranges that weigh 1


# --------------------------------------------------------------------------- breaks


def test_numbers_abbreviations_and_urls_are_not_break_points() -> None:
    tokens, breaks = tokenize(
        "Inflasi 3,5 persen kata Dr. Budi dari Jl. Sudirman No. 5 Kab. Bogor Prov. Jawa "
        "Barat a.n. Redaksi senilai Rp 1.000 lihat https://rinews.co.id/a.b?c=1,2 sekarang.")
    gap = {tokens[i]: level for i, level in enumerate(breaks)}
    for glued in ("3,5", "Dr.", "Jl.", "No.", "Kab.", "Prov.", "a.n.", "Rp", "1.000"):
        assert gap[glued] == GLUE, glued
    assert SENTENCE not in breaks


def test_a_sentence_end_is_a_break_point_even_after_a_number() -> None:
    tokens, breaks = tokenize("Harganya Rp 1.000. Warga mengeluh.")
    assert breaks[tokens.index("1.000.")] == SENTENCE


# --------------------------------------------------------------------------- splitting


def test_seed_lede_is_split_into_posts_within_280_with_the_link_once_in_the_last() -> None:
    lede = seed_lede()
    posts = texts(render_x(article(lede), context()))
    assert len(posts) > 1
    assert all(weighted_length(p) <= 280 for p in posts), [weighted_length(p) for p in posts]
    assert [p.count(LINK) for p in posts] == [0] * (len(posts) - 1) + [1]
    assert posts[-1].endswith(LINK)
    assert bodies(posts) == " ".join(lede.split())  # nothing lost, nothing added


def test_posts_end_at_sentence_ends_when_sentences_fit() -> None:
    lede = seed_lede()
    posts = texts(render_x(article(lede), context()))
    assert posts[0] == lede.split(". ")[0] + "."


@pytest.mark.parametrize("paragraphs", [3, 6, 12])
def test_longer_ledes_give_valid_posts_and_keep_every_word(paragraphs: int) -> None:
    lede = " ".join(seed_paragraphs()[:paragraphs])
    posts = texts(render_x(article(lede), context(max_posts=25, numbering=True)))
    assert all(weighted_length(p) <= 280 for p in posts)
    assert sum(p.count(LINK) for p in posts) == 1 and LINK in posts[-1]
    assert bodies(posts) == " ".join(lede.split())
    numbers = [re.findall(r"(\d+)/(\d+)", p.replace(LINK, "")) for p in posts]
    assert numbers == [[(str(i), str(len(posts)))] for i in range(1, len(posts) + 1)]


@pytest.mark.parametrize("protected", ["3,5 persen", "Dr. Budi", "Rp 1.000", "a.n. Redaksi"])
def test_no_post_splits_numbers_or_abbreviations_from_what_follows(protected: str) -> None:
    # one long sentence without punctuation: the split must fall between words, and for
    # some filler length it falls right inside the protected words unless they are kept
    for extra in range(40):
        words = ["kata"] * 50 + ["x" * (extra % 7 + 1)] * (extra // 7) + [protected] + \
            ["lagi"] * 60
        lede = " ".join(words)
        posts = split_text(lede, link=LINK)
        assert all(weighted_length(p) <= 280 for p in posts)
        assert any(protected in p for p in posts), (extra, posts)


def test_a_url_in_the_lede_is_never_cut() -> None:
    url = "https://rinews.co.id/berita/2026/11/25/" + "panjang-sekali-" * 20
    for extra in range(0, 60, 3):
        lede = " ".join(["kata"] * (40 + extra) + [url] + ["lagi"] * 80)
        posts = split_text(lede, link=LINK)
        assert all(weighted_length(p) <= 280 for p in posts)
        assert any(url in p for p in posts)


def test_max_posts_cuts_the_lede_where_a_reader_accepts_with_an_ellipsis_before_the_link(
        ) -> None:
    # every post ends at a sentence end, else a clause end: no post is cut mid-sentence at 280
    # to carry a few more words (issue 13)
    lede = " ".join(seed_paragraphs()[:3])
    posts = texts(render_x(article(lede), context(max_posts=2)))
    assert len(posts) == 2
    assert all(weighted_length(p) <= 280 for p in posts)
    assert posts[0].endswith("tatanan internasional yang didominasi Barat.")
    assert posts[-1].endswith(f"mulai dari energi hingga teknologi tinggi…\n\n{LINK}")
    assert bodies(posts).removesuffix("…") in " ".join(lede.split())


def test_a_thread_cut_short_at_a_sentence_end_keeps_the_ellipsis_apart() -> None:
    lede = " ".join(["Kalimat pendek yang lengkap."] * 60)
    posts = split_text(lede, link=LINK, max_posts=2)
    assert len(posts) == 2
    assert posts[-1].endswith(f"lengkap. …\n\n{LINK}")


def test_max_posts_one_with_a_first_sentence_too_long_cuts_at_a_word() -> None:
    lede = " ".join(["panjang"] * 120) + "."
    posts = split_text(lede, link=LINK, max_posts=1)
    assert len(posts) == 1 and weighted_length(posts[0]) <= 280
    assert posts[0].endswith(f"panjang…\n\n{LINK}")


@pytest.mark.parametrize("word_length", range(1, 13))
def test_numbering_and_link_fit_in_every_post(word_length: int) -> None:
    # no sentence or clause ends; word lengths vary where the 280 boundary falls
    lede = " ".join(["k" * word_length] * (1200 // (word_length + 1)))
    posts = split_text(lede, link=LINK, numbering=True, max_posts=10)
    assert len(posts) >= 4
    assert all(weighted_length(p) <= 280 for p in posts)
    assert all(p.replace(LINK, "").rstrip().endswith(f" {i}/{len(posts)}")
               for i, p in enumerate(posts, 1))
    # the posts are full: numbering was reserved once, not more
    assert weighted_length(posts[0]) >= 280 - word_length - 4


def test_link_position_first_puts_the_link_in_the_head_post() -> None:
    posts = texts(render_x(article(seed_lede()), context(link_position="first")))
    assert LINK in posts[0]
    assert all(LINK not in p for p in posts[1:])
    assert all(weighted_length(p) <= 280 for p in posts)


def test_a_link_x_does_not_recognise_is_counted_by_its_characters() -> None:
    assert weighted_length(RAW_LINK) == len(RAW_LINK)
    lede = " ".join(seed_paragraphs()[:3])
    for max_posts in (1, 2, 8):
        posts = split_text(lede, link=RAW_LINK, max_posts=max_posts, numbering=True)
        assert len(posts) <= max_posts
        assert all(weighted_length(p) <= 280 for p in posts)
        assert posts[-1].endswith(RAW_LINK)


def test_a_short_lede_is_one_post_without_numbering() -> None:
    posts = texts(render_x(article("Putin menerima undangan Xi."), context(numbering=True)))
    assert posts == [f"Putin menerima undangan Xi.\n\n{LINK}"]


def test_an_empty_lede_posts_the_title() -> None:
    posts = texts(render_x(article(""), context()))
    assert posts == [f"Putin dan Xi perkuat poros\n\n{LINK}"]


def test_hashtags_are_added_where_they_fit() -> None:
    short = article("Putin menerima undangan Xi.", tags=["Rusia", "Xi Jinping", "2026"])
    posts = texts(render_x(short, context(hashtags=True)))
    assert posts == [f"Putin menerima undangan Xi.\n\n{LINK} #Rusia #XiJinping"]
    # a last post with no room left: no hashtag, and still within 280
    full = article(" ".join(["abcdefghij"] * 22) + " abcdefgh.", tags=["Rusia"])
    posts = texts(render_x(full, context(hashtags=True)))
    assert len(posts) == 1 and weighted_length(posts[0]) == 276
    assert "#Rusia" not in posts[0]


def test_hashtags_are_off_unless_configured() -> None:
    posts = texts(render_x(article("Singkat.", tags=["Rusia"]), context()))
    assert "#Rusia" not in posts[0]


def test_cjk_and_emoji_ledes_are_split_by_weight_not_by_characters() -> None:
    lede = "日本語のテキスト" * 40 + " " + "🇮🇩 " * 150
    posts = split_text(lede, link=LINK)
    assert all(weighted_length(p) <= 280 for p in posts)
    assert "".join(bodies(posts).split()) == "".join(lede.split())
    assert len(posts) > len(lede) // 280  # counted by weight: more posts than len() suggests


def test_the_adapter_renders_through_render_x() -> None:
    adapter = XAdapter(x_config())
    assert adapter.render(article("Singkat."), context()) == [{"text": f"Singkat.\n\n{LINK}"}]
