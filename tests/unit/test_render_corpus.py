"""Every real article of tests/corpus previews well on every channel (issue 13).

Through the parser, each article is rendered for X (default, numbered, link first), Telegram
(with and without hashtags) and in a digest of the whole corpus. What rendering answers for is
asserted on every article: valid posts and messages, no "1/1" on a single post, a Telegram post of
headline, one or two sentences of lede (600 characters at most) and link, cuts where a reader
accepts them. What also depends on the parser reading the article right (the thread's head post
is the lede, never a dateline, byline or furniture) is asserted where the parser reads the
article as its .yaml says; where it does not yet, tests/test_corpus.py fails for it and the check
here is reported as an expected failure naming the field misread.

At the end, the exact posts a follower sees for a few articles.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from support.corpus import corpus_check
from test_render_properties import (
    check_x_thread,
    email_context,
    ends_where_a_reader_accepts,
    telegram_blocks,
    telegram_context,
    x_context,
)

from distributor.articles import Article
from distributor.channels.email.render import SUBJECT_LIMIT, digest_card, render_digest_email
from distributor.channels.telegram.render import (
    CAPTION_LIMIT,
    LEDE_LIMIT,
    TEXT_LIMIT,
    check_telegram_html,
    render_telegram,
    visible_text,
)
from distributor.channels.x.render import render_x
from distributor.render import teaser, title_repeats_lede, words
from distributor.text.cuts import sentences

check: Any = corpus_check()

CASES = check.corpus_cases()
URL = "https://rinews.example/berita/corpus"


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _loaded(case: Any) -> tuple[Article, dict[str, Any]]:
    """The article as the parser reads it, and the fields it misreads ({} when none)."""
    result = check.check(case)
    if result.error is not None:
        pytest.xfail(f"the parser cannot read {case.name}: {result.error}")
    return case.load(), result.mismatches


def _parser_right(mismatches: dict[str, Any], *fields: str) -> None:
    wrong = [name for name in fields if name in mismatches]
    if wrong:
        pytest.xfail("the parser misreads " + ", ".join(wrong) + " (tests/test_corpus.py)")


# --------------------------------------------------------------------------- X


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_the_x_thread_is_valid_and_opens_with_the_lede(case: Any) -> None:
    article, mismatches = _loaded(case)
    heads = []
    for options in ({}, {"numbering": True}, {"link_position": "first", "max_posts": 2}):
        posts = [m["text"] for m in render_x(article, x_context(**options))]
        check_x_thread(article, posts, numbering=bool(options.get("numbering")))
        heads.append(posts[0])
    if not _squash(article.lede):
        return
    opening = " ".join(_squash(article.lede).split()[:4])
    assert all(head.startswith(opening) for head in heads), (opening, heads)
    # what the parser must get right for the head post to be the news
    _parser_right(mismatches, "lede", "dateline", "author")
    expected = _squash(case.expected.get("lede"))
    if expected:
        assert heads[0].startswith(" ".join(expected.split()[:6])), heads[0]
    first = sentences(heads[0].split("\n\n")[0])[0]
    assert len(first.split()) >= 3, first
    assert not check.NOT_IN_A_HEADLINE.search(first), first


# --------------------------------------------------------------------------- Telegram


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_the_telegram_post_is_headline_a_short_lede_and_the_link(case: Any) -> None:
    article, mismatches = _loaded(case)
    for hashtags in (False, True):
        tagged = article.model_copy(update={"tags": [*article.tags, "Berita Utama"]})
        [message] = render_telegram(tagged, telegram_context(hashtags=hashtags))
        if message["method"] == "sendPhoto":
            body, limit = message["caption"], CAPTION_LIMIT
        else:
            body, limit = message["text"], TEXT_LIMIT
        assert check_telegram_html(body, limit) == []
        blocks = telegram_blocks(message)
        read_more = words(article.language or "id").read_more
        assert read_more in blocks
        before = blocks[:blocks.index(read_more)]
        lede = _squash(article.lede)
        title = _squash(article.title)
        show_title = bool(title) and not (lede and title_repeats_lede(article))
        assert len(before) == int(show_title) + int(bool(lede)), before
        if show_title:
            assert before[0] == title or before[0].endswith("…")
        if lede:
            shown = before[-1]
            assert len(shown) <= LEDE_LIMIT + 1
            whole = [" ".join(sentences(lede)[:n]) for n in (1, 2)]
            if shown not in whole:
                ends_where_a_reader_accepts(lede, shown)
            assert len(visible_text(body)) <= len(title) + LEDE_LIMIT + 200
    if not _squash(article.lede):
        return
    _parser_right(mismatches, "lede", "dateline", "author", "editor", "headline")
    for block in before:
        assert not check.NOT_IN_A_HEADLINE.search(block), block
    for credit in (article.author, article.editor):
        if credit and len(credit) > 6:
            assert not re.search(r"(?:pewarta|penulis|editor|reporter)\W*"
                                 + re.escape(credit), visible_text(body), re.I)


# --------------------------------------------------------------------------- the digest


def test_the_digest_of_the_corpus_reads_like_a_newsrooms() -> None:
    stories = []
    for case in CASES:
        if check.check(case).error is None:
            stories.append(case.load())
    assert len(stories) > 20
    [mail] = render_digest_email(stories, email_context())
    subject = mail["subject"]
    lead = digest_card(stories[0]).title
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.startswith("RI News Portal, 3 Desember: ")
    assert subject.endswith(f" dan {len(stories) - 1} berita lainnya")
    shown = subject.removeprefix("RI News Portal, 3 Desember: ").removesuffix(
        f" dan {len(stories) - 1} berita lainnya")
    ends_where_a_reader_accepts(lead, shown)
    # the chrome is the site's (Indonesian) even on English articles' cards
    assert "Read more" not in mail["text"] and "Baca selengkapnya" in mail["text"]
    for story in stories:
        card = digest_card(story)
        if card.teaser:
            ends_where_a_reader_accepts(teaser(story), card.teaser)


# --------------------------------------------------------------------------- exact posts


def _case(name: str) -> Any:
    found = [c for c in CASES if c.name.endswith(name)]
    if not found:
        pytest.skip(f"{name} is not in the corpus")
    return found[0]


def _as_expected(name: str) -> Article:
    """The article as its .yaml says the parser must read it (headline, lede, language), with
    a fixed link: the posts then depend on rendering only."""
    case = _case(name)
    expected = case.expected
    derived = bool(expected.get("headline_derived"))
    lede = _squash(expected["lede"])
    title = _squash(expected.get("headline")) or " ".join(lede.split()[:10])
    return Article(source="corpus", key=name, url=URL, title=title, title_derived=derived,
                   lede=lede, language=expected.get("language"))


def test_a_story_without_paragraph_breaks_posts_its_first_sentences_on_telegram() -> None:
    # Reuters, one line of 5,900 characters and no title. Before issue 13 the post carried
    # the whole story as its lede (the parser read it as one paragraph); now the parser reads
    # the first sentence as the lede, and whatever it gives, a post never carries more than
    # two sentences.
    article, _ = _loaded(_case("reuters/audi-mexico-plant-one-paragraph.txt"))
    [message] = render_telegram(article.model_copy(update={"url": URL}), telegram_context())
    shown = visible_text(message["text"]).split("\n\n")
    assert len(shown) == 2 and shown[1] == "Read more"
    assert shown[0].startswith(
        "The automotive industry's growing love affair with Mexico was celebrated here on "
        "Saturday as Audi executives laid the foundation stone for its first assembly plant "
        "in the Americas.")
    assert len(shown[0]) <= LEDE_LIMIT
    assert len(sentences(shown[0])) <= 2

    expected = _as_expected("reuters/audi-mexico-plant-one-paragraph.txt")
    [message] = render_telegram(expected, telegram_context())
    assert message == {
        "method": "sendMessage",
        "text": "<b>The automotive industry's growing love affair with Mexico was celebrated "
                "here on Saturday as Audi executives laid the foundation stone for its first "
                "assembly plant in the Americas.</b>\n\n"
                f'<a href="{html.escape(URL)}">Read more</a>',
        "parse_mode": "HTML",
        "link_preview_options": {"url": URL},
    }


def test_a_single_post_thread_has_no_numbering() -> None:
    article = _as_expected("reuters/audi-mexico-plant-one-paragraph.txt")
    posts = [m["text"] for m in render_x(article, x_context(numbering=True))]
    assert posts == [
        "The automotive industry's growing love affair with Mexico was celebrated here on "
        "Saturday as Audi executives laid the foundation stone for its first assembly plant in "
        f"the Americas.\n\n{URL}"]


def test_an_indonesian_story_posts_headline_lede_and_link() -> None:
    article = _as_expected("antara-id/otomotif-2006-perum-antara-satu-paragraf.txt")
    [message] = render_telegram(article, telegram_context())
    assert visible_text(message["text"]) == (
        "Presiden Susilo Bambang Yudhoyono mengatakan akan menanandatangani status badan hukum "
        "LKBN ANTARA untuk menjadi Perusahaan Umum (Perum) pada Januari 2007.\n\n"
        "Baca selengkapnya")
    posts = [m["text"] for m in render_x(article, x_context(numbering=True))]
    assert posts == [
        "Presiden Susilo Bambang Yudhoyono mengatakan akan menanandatangani status badan hukum "
        "LKBN ANTARA untuk menjadi Perusahaan Umum (Perum) pada Januari 2007.\n\n"
        f"{URL}"]
