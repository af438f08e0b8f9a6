"""Properties of rendering for any article (hypothesis), issue 13 §5.

Whatever the article's text (arbitrary unicode, huge, an empty lede, characters that look like
markup, URLs, emoji, right-to-left scripts, stray quotation marks), rendering for X, Telegram and
email raises nothing; every X post is valid by twitter-text v3; every Telegram message is HTML
Telegram accepts within its limits; a Telegram post's lede, a digest card's summary and the
lead headline of a digest subject end where the cutting rule allows (a sentence end, else a
clause end, else between words; inside a quotation or a number only when nothing else fits).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from support.examples import examples

from distributor.articles import Article
from distributor.channels.email.adapter import EmailConfig
from distributor.channels.email.render import (
    SUBJECT_LIMIT,
    digest_card,
    digest_subject,
    render_article_email,
    render_digest_email,
)
from distributor.channels.telegram.adapter import TelegramConfig
from distributor.channels.telegram.render import (
    CAPTION_LIMIT,
    LEDE_LIMIT,
    TEXT_LIMIT,
    check_telegram_html,
    render_telegram,
    visible_text,
)
from distributor.channels.x.adapter import XConfig
from distributor.channels.x.render import render_x, weighted_length
from distributor.config import SiteConfig, WebConfig
from distributor.render import Templates, teaser, words
from distributor.render.context import RenderContext
from distributor.text.cuts import (
    ELLIPSIS,
    GLUE,
    QUOTED_CLAUSE,
    QUOTED_SENTENCE,
    QUOTED_WORD,
    SENTENCE,
    WORD,
    sentences,
    tokenize,
)

SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id",
                  timezone="Asia/Jakarta")
NOW = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
SECRET = SecretStr("dummy")
TEMPLATES = Templates()
#: characters twitter-text refuses in a post (its invalid_chars_group)
TWITTER_INVALID = re.compile("[\ufffe\ufeff\uffff]")
_QUOTED = (QUOTED_SENTENCE, QUOTED_CLAUSE, QUOTED_WORD)
_CLOSING_MARKS = "”»\"“"

# --------------------------------------------------------------------------- articles

_VOCABULARY = [
    "kata", "dan", "yang", "pemerintah", "Jakarta", "Presiden", "x", "di", "bidang,",
    "tinggi;", "Barat.", "lalu.", "Serikat!", "mengapa?", "—", "-", "3,5", "persen", "Rp",
    "1.000", "1.000.", "Dr.", "Budi", "Jl.", "No.", "5", "a.n.", "U.S.", "Sept.", "B.J.",
    "“kutipan", "panjang,”", "“satu”", '"kata', 'dia."', '"', "“", "”", "«", "»", "(ANTARA)",
    "<b>", "</b>", "<BBM>", "&amp;", "&", "<", ">", "&#39;", "<script>alert(1)</script>",
    '<a href="x">', "😀", "👨‍👩‍👧‍👦", "🇮🇩", "日本語の", "テキスト。", "مرحبا.", "שלום",
    "\u202e", "\u200f", "e\u0301", "\ufeff", "\u00ad", "…", "...",
    "https://rinews.co.id/berita/2026/11/25/moskow-dan-beijing?utm=x&a=1",
    "www.rinews.co.id/a", "https://rinews.example/tanpa-tld.", "#Rusia", "@redaksi",
    "Pneumonoultramicroscopicsilicovolcanoconiosis", "y" * 700,
]
_URLS = [
    "https://rinews.example/berita/putin-xi?utm=a&b=c",
    "https://www.rinews.co.id/berita/2026/11/25/moskow-dan-beijing-semakin-mempertegas-posisi",
    'https://rinews.example/a?x=1&y="2"&z=<3>',
    "https://t.co/abc",
    "http://xn--bcher-kva.example/ü?q=😀",
]
_SEPARATORS = [" ", " ", " ", " ", "\n", "\n\n", "  ", "\t", "\u00a0"]


@st.composite
def _texts(draw: st.DrawFn, most: int = 80) -> str:
    words_ = draw(st.lists(st.one_of(
        st.sampled_from(_VOCABULARY),
        st.text(min_size=1, max_size=12),  # any unicode at all
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz.,;:!?\"“”", min_size=1, max_size=10),
    ), max_size=most))
    parts: list[str] = []
    for word in words_:
        parts.extend([word, draw(st.sampled_from(_SEPARATORS))])
    text = "".join(parts)
    return text * draw(st.sampled_from([1, 1, 1, 2, 40]))  # sometimes huge


@st.composite
def articles(draw: st.DrawFn) -> Article:
    lede = draw(st.one_of(st.just(""), _texts()))
    title = draw(st.one_of(st.just(""), st.text(max_size=30), _texts(most=25)))
    if draw(st.booleans()) and lede:
        title = " ".join(lede.split()[:8])  # a headline derived from the lede
    return Article(
        source="test", key="k", url=draw(st.sampled_from(_URLS)), title=title,
        title_derived=draw(st.booleans()), lede=lede,
        body=draw(st.lists(_texts(most=20), max_size=3)),
        image=draw(st.sampled_from([None, "https://rinews.example/img/1.jpg"])),
        language=draw(st.sampled_from([None, "id", "en", "ar"])),
        tags=draw(st.lists(st.text(max_size=15), max_size=4)),
        published=draw(st.sampled_from([None, NOW])),
    )


def x_context(**options: Any) -> RenderContext:
    channel = XConfig(name="x", consumer_key=SECRET, consumer_secret=SECRET,
                      access_token=SECRET, access_token_secret=SECRET, **options)
    return RenderContext(site=SITE, channel=channel, web=WebConfig(), templates=TEMPLATES)


def telegram_context(**options: Any) -> RenderContext:
    channel = TelegramConfig(name="telegram", chat_id="@rinewsportal",
                             token=SecretStr("123:dummy"), **options)
    return RenderContext(site=SITE, channel=channel, web=WebConfig(), templates=TEMPLATES)


def email_context() -> RenderContext:
    channel = EmailConfig.model_validate({
        "name": "daily", "from": "RI News Portal <redaksi@rinews.example>",
        "smtp": {"host": "localhost", "password": "dummy"}})
    return RenderContext(site=SITE, channel=channel,
                         web=WebConfig(base_url="https://news.rinews.example"),
                         templates=TEMPLATES, now=NOW)


# --------------------------------------------------------------------------- the cutting rule


def ends_where_a_reader_accepts(source: str, shown: str) -> None:
    """``shown`` is ``source`` whole, or its beginning cut by the cutting rule: after whole
    tokens at a gap rated SENTENCE, CLAUSE or WORD; inside a quotation only when no such gap
    came before; between glued tokens only when every gap before was glued; inside the first
    token only when it alone is too long."""
    source = " ".join(source.split())
    if shown == source:
        return
    tokens, breaks = tokenize(source)
    body = shown
    quoted_close = False
    if body[-1:] in _CLOSING_MARKS and body[:-1].endswith(ELLIPSIS):
        body, quoted_close = body[:-1], True
    marked = body.endswith(ELLIPSIS)
    body = body.removesuffix(ELLIPSIS).rstrip()
    kept = body.split()
    assert kept or marked, (source, shown)
    if not kept:
        return  # nothing fits but "…"
    k = len(kept)
    assert kept[:-1] == tokens[:k - 1], (source[:200], shown[:200])
    if k == 1 and kept[0] != tokens[0] and tokens[0].startswith(kept[0]) and \
            tokens[0].rstrip(",;:—–-") != kept[0]:
        return  # a first word longer than everything, cut by characters
    assert kept[-1] in (tokens[k - 1], tokens[k - 1].rstrip(",;:—–-")), (tokens[k - 1], shown)
    assert k < len(tokens), (source[:200], shown[:200])
    rating = breaks[k - 1]
    if not marked:
        # a cut without "…" is at a sentence end (a lede of whole sentences, a headline)
        assert rating == SENTENCE, (rating, shown[-80:])
        return
    before = breaks[:k - 1]
    if rating in _QUOTED:
        assert quoted_close, shown[-40:]
        assert not any(r >= WORD for r in before), shown[-80:]
    elif rating == GLUE:
        assert all(r == GLUE for r in before), shown[-80:]
    else:
        assert rating >= WORD


def _x_bodies(posts: list[str], link: str) -> list[str]:
    bodies = []
    for post in posts:
        body = post
        if link:
            body = body.replace(f"\n\n{link}", "").replace(link, "")
        if len(posts) > 1:
            body = re.sub(r"(?:^| )\d+/\d+$", "", body.strip())
        bodies.append(body.strip())
    return bodies


def check_x_thread(article: Article, posts: list[str], *, numbering: bool,
                   cuts: bool = True) -> None:
    assert posts
    for post in posts:
        assert 0 < weighted_length(post) <= 280, (weighted_length(post), post)
        assert post.strip()
        assert not TWITTER_INVALID.search(post)
    if len(posts) == 1:
        assert not re.search(r"(?:^| )1/1(?:\n|$)", posts[0])
    elif numbering:
        for index, post in enumerate(posts, 1):
            assert f"{index}/{len(posts)}" in post
    if not cuts:
        return
    bodies = [b for b in _x_bodies(posts, article.url) if b]
    source = " ".join(TWITTER_INVALID.sub("", article.lede or article.title).split())
    if not source or any(len(token) > 200 or weighted_length(token) > 200
                         for token in source.split()):
        return  # a word longer than a post is cut by characters: nothing more to say
    carried = " ".join(bodies)
    if carried.endswith(ELLIPSIS) and carried != source:
        ends_where_a_reader_accepts(source, carried)


def telegram_blocks(message: dict[str, Any]) -> list[str]:
    body = message["caption"] if message["method"] == "sendPhoto" else message["text"]
    return visible_text(body).split("\n\n")


# --------------------------------------------------------------------------- properties

_SETTINGS = settings(max_examples=examples(150), deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.large_base_example])


@_SETTINGS
@given(article=articles(), numbering=st.booleans(),
       link_position=st.sampled_from(["last", "first"]),
       max_posts=st.integers(min_value=1, max_value=6), hashtags=st.booleans())
def test_every_x_post_is_valid_and_cut_where_a_reader_accepts(
        article: Article, numbering: bool, link_position: str, max_posts: int,
        hashtags: bool) -> None:
    ctx = x_context(numbering=numbering, link_position=link_position, max_posts=max_posts,
                    hashtags=hashtags)
    messages = render_x(article, ctx)
    posts = [m["text"] for m in messages]
    assert len(posts) <= max_posts + (1 if link_position == "last" else 0)
    # hashtags join the text of the last post: its cut is checked without them
    check_x_thread(article, posts, numbering=numbering, cuts=not hashtags)


@_SETTINGS
@given(article=articles(), hashtags=st.booleans())
def test_every_telegram_message_is_valid_html_within_its_limits(
        article: Article, hashtags: bool) -> None:
    [message] = render_telegram(article, telegram_context(hashtags=hashtags))
    assert message["parse_mode"] == "HTML"
    if message["method"] == "sendPhoto":
        assert check_telegram_html(message["caption"], CAPTION_LIMIT) == []
    else:
        assert message["method"] == "sendMessage"
        assert check_telegram_html(message["text"], TEXT_LIMIT) == []
    blocks = telegram_blocks(message)
    read_more = words(article.language or SITE.language).read_more
    link_at = blocks.index(read_more)
    lede = " ".join(article.lede.split())
    if lede and link_at >= 1:
        shown = blocks[link_at - 1]
        # the lede: one or two whole sentences, or a first sentence cut by the rule
        assert len(shown) <= LEDE_LIMIT + 1
        whole = [" ".join(sentences(lede)[:n]) for n in (1, 2)]
        if shown not in whole:
            ends_where_a_reader_accepts(lede, shown)


@_SETTINGS
@given(stories=st.lists(articles(), min_size=1, max_size=4))
def test_digest_summaries_and_subjects_end_where_a_reader_accepts(
        stories: list[Article]) -> None:
    """What the cutting rule decides in a mail, on many articles: the subject's lead headline
    and every card's summary (the same functions the mail is rendered from)."""
    ctx = email_context()
    more = len(stories) - 1
    cards = [digest_card(story) for story in stories]
    lead = next((card.title for card in cards if card.title.strip()), "")
    subject = digest_subject(ctx, len(stories), lead=lead)
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.startswith("RI News Portal, 3 Desember")
    if lead:
        # the lead headline, cut by the rule to keep the subject short, and how many more
        assert subject.endswith(words("id").and_more(more) or subject[-1:])
        shown = subject.removeprefix("RI News Portal, 3 Desember: ").removesuffix(
            words("id").and_more(more))
        ends_where_a_reader_accepts(lead, shown)
    else:
        assert subject == "RI News Portal, 3 Desember"
    for story, card in zip(stories, cards, strict=True):
        if card.teaser:
            ends_where_a_reader_accepts(teaser(story), card.teaser)


#: rendering a whole mail inlines its CSS (premailer: 25 ms a mail); the cuts inside it are
#: checked on many more articles just above
@settings(_SETTINGS, max_examples=examples(40))
@given(stories=st.lists(articles(), min_size=1, max_size=4))
def test_every_mail_renders_with_the_subject_and_summaries_cut_by_the_rule(
        stories: list[Article]) -> None:
    ctx = email_context()
    [digest] = render_digest_email(stories, ctx)
    assert digest["html"].startswith("<!DOCTYPE html>") and digest["text"].endswith("\n")
    cards = [digest_card(story) for story in stories]
    lead = next((card.title for card in cards if card.title.strip()), "")
    assert digest["subject"] == digest_subject(ctx, len(stories), lead=lead)
    for card in cards[:1]:
        if card.teaser:  # the lead card's summary is in both bodies, escaped in the HTML
            assert " ".join(card.teaser.split())[:40] in " ".join(digest["text"].split())
    for story in stories:
        [single] = render_article_email(story, ctx)
        assert single["subject"].strip()
