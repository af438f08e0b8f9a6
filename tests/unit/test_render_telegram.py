"""Telegram posts: HTML Telegram accepts, lengths as Telegram counts them, photo or message."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from distributor.articles import Article
from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.telegram.render import (
    CAPTION_LIMIT,
    LEDE_LIMIT,
    TEXT_LIMIT,
    check_telegram_html,
    render_telegram,
    telegram_length,
    visible_text,
)
from distributor.config import SiteConfig, WebConfig
from distributor.render import Templates
from distributor.render.context import RenderContext

HERE = Path(__file__).resolve()
SEED_PLACES = [HERE.parents[3] / "shared/seed/000_9e063caa9953ea57.txt",
               HERE.parents[2] / "examples/articles/000_9e063caa9953ea57.txt"]
SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id",
                  timezone="Asia/Jakarta")
URL = "https://rinews.example/berita/putin-xi?utm=a&b=c"
IMAGE = "https://rinews.example/img/putin-xi.jpg"


def seed_text() -> str:
    for place in SEED_PLACES:
        if place.exists():
            return " ".join(place.read_text(encoding="utf-8").split())
    pytest.skip("the seed article is not available (shared/seed or examples/articles)")


def context(templates: Templates | None = None, **overrides: Any) -> RenderContext:
    channel = TelegramConfig(name="telegram", chat_id="@rinewsportal",
                             token=SecretStr("123:dummy"), **overrides)
    return RenderContext(site=SITE, channel=channel, web=WebConfig(),
                         templates=templates or Templates())


def article(lede: str = "Putin dan Xi bertemu.", **fields: Any) -> Article:
    values: dict[str, Any] = {"source": "test", "key": "k", "url": URL,
                              "title": "Putin dan Xi perkuat poros", "lede": lede}
    values.update(fields)
    return Article(**values)


def only(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(messages) == 1
    return messages[0]


def body_of(message: dict[str, Any]) -> str:
    return str(message["caption"] if message["method"] == "sendPhoto" else message["text"])


# --------------------------------------------------------------------------- counting


def test_telegram_length_counts_visible_utf16_units() -> None:
    assert telegram_length("<b>a&amp;b</b>") == 3
    assert telegram_length('<a href="https://x.example/?a=1&amp;b=2">Baca</a>') == 4
    assert telegram_length("😀") == 2  # one code point, two UTF-16 units
    assert telegram_length("&#34;&lt;&gt;") == 3


def test_the_checker_refuses_what_telegram_refuses() -> None:
    assert check_telegram_html('<b>x</b> <a href="https://x.example">y</a>') == []
    assert check_telegram_html("a & b")
    assert check_telegram_html("3 < 4")
    assert check_telegram_html("<div>x</div>")
    assert check_telegram_html("<b>x")
    assert check_telegram_html("<b><i>x</b></i>")
    assert check_telegram_html("&nbsp;")


# --------------------------------------------------------------------------- content


def test_headline_is_bold_then_lede_then_read_more_link_in_the_site_language() -> None:
    message = only(render_telegram(article(), context()))
    assert message == {
        "method": "sendMessage",
        "text": "<b>Putin dan Xi perkuat poros</b>\n\nPutin dan Xi bertemu.\n\n"
                f'<a href="{html.escape(URL)}">Baca selengkapnya</a>',
        "parse_mode": "HTML",
        "link_preview_options": {"url": URL},
    }


def test_read_more_follows_the_article_language() -> None:
    text = only(render_telegram(article(language="en"), context()))["text"]
    assert ">Read more</a>" in text


def test_less_than_greater_than_and_ampersand_are_escaped_in_title_lede_and_link() -> None:
    story = article(title="Tom & Jerry <b>lari</b>", lede='Harga 3 < 4 & 5 > 2, "kata" dia.',
                    url='https://rinews.example/a?x=1&y="2"')
    text = only(render_telegram(story, context()))["text"]
    assert check_telegram_html(text) == []
    assert "Tom &amp; Jerry &lt;b&gt;lari&lt;/b&gt;" in text
    assert "3 &lt; 4 &amp; 5 &gt; 2" in text
    assert 'href="https://rinews.example/a?x=1&amp;y=&#34;2&#34;"' in text
    shown = visible_text(text)
    assert "Tom & Jerry <b>lari</b>" in shown
    assert 'Harga 3 < 4 & 5 > 2, "kata" dia.' in shown


def test_hashtags_only_when_configured() -> None:
    story = article(tags=["Rusia", "Xi Jinping"])
    assert "#" not in only(render_telegram(story, context()))["text"]
    text = only(render_telegram(story, context(hashtags=True)))["text"]
    assert text.endswith("\n\n#Rusia #XiJinping")


# --------------------------------------------------------------------------- photo or message


def _lede_of_length(units: int) -> str:
    """A lede of ``units`` UTF-16 units in at most 600 characters (a post carries no more):
    450 emoji (2 units each), then letters."""
    lede = "😀" * 450 + "a" * (units - 900)
    assert len(lede) <= 600
    return lede


def _caption_units_without_lede() -> int:
    with_a = body_of(only(render_telegram(article("a", image=IMAGE), context())))
    return telegram_length(with_a) - 1


def test_a_caption_of_exactly_1024_utf16_units_goes_with_the_photo() -> None:
    lede = _lede_of_length(CAPTION_LIMIT - _caption_units_without_lede())
    message = only(render_telegram(article(lede, image=IMAGE), context()))
    assert message["method"] == "sendPhoto"
    assert message["photo"] == IMAGE
    assert telegram_length(message["caption"]) == CAPTION_LIMIT
    assert message["parse_mode"] == "HTML"


def test_one_utf16_unit_more_sends_a_message_with_a_preview_instead() -> None:
    lede = _lede_of_length(CAPTION_LIMIT - _caption_units_without_lede())
    lede = "😀" + lede[:-1]  # same number of code points, one UTF-16 unit more
    message = only(render_telegram(article(lede, image=IMAGE), context()))
    assert message["method"] == "sendMessage"
    assert telegram_length(message["text"]) == CAPTION_LIMIT + 1
    assert lede in message["text"]  # not shortened: a message holds 4096
    assert message["link_preview_options"] == {"url": URL, "prefer_large_media": True}


def test_without_an_image_it_is_always_a_message() -> None:
    assert only(render_telegram(article(), context()))["method"] == "sendMessage"


# --------------------------------------------------------------------------- shortening


def test_a_story_without_paragraph_breaks_posts_headline_two_sentences_and_the_link() -> None:
    # issue 13: the whole story used to be the post (2,275 to 2,652 characters)
    lede = " ".join([seed_text().replace("Barat", "Barat & <Sekutu>")] * 3)
    message = only(render_telegram(article(lede, image=IMAGE), context()))
    assert message["method"] == "sendPhoto"  # a short post fits a caption
    caption = message["caption"]
    assert check_telegram_html(caption, CAPTION_LIMIT) == []
    headline, shown_lede, link = visible_text(caption).split("\n\n")
    assert headline == "Putin dan Xi perkuat poros"
    assert link == "Baca selengkapnya"
    assert len(shown_lede) <= LEDE_LIMIT
    assert shown_lede == (
        "RI News Portal. Moscow — Moskow dan Beijing semakin mempertegas posisi mereka sebagai "
        "penyeimbang utama tatanan internasional yang didominasi Barat & <Sekutu>.")
    assert "Barat &amp; &lt;Sekutu&gt;." in caption


def test_a_user_template_that_repeats_the_lede_is_shortened_to_4096_between_words(
        tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram/post.html").write_text(
        '{% for _ in range(12) %}{{ lede }} {% endfor %}<a href="{{ url }}">x</a>',
        encoding="utf-8")
    lede = " ".join(["Barat & <Sekutu> kata"] * 40)  # 880 characters, no sentence end
    text = only(render_telegram(article(lede), context(Templates(tmp_path))))["text"]
    assert TEXT_LIMIT - 300 < telegram_length(text) <= TEXT_LIMIT
    assert check_telegram_html(text) == []
    shown = visible_text(text).split(" Barat & <Sekutu> kata Barat")[0]
    assert shown.startswith("Barat & <Sekutu> kata")
    assert "…" in visible_text(text)
    first = visible_text(text).split("…")[0]
    assert lede.startswith(first) and lede[len(first)] == " "  # cut between words


def test_a_long_lede_of_entities_and_emoji_still_fits() -> None:
    lede = " ".join(["&<>😀"] * 2000)
    text = only(render_telegram(article(lede), context()))["text"]
    assert telegram_length(text) <= TEXT_LIMIT
    assert check_telegram_html(text) == []


def test_a_long_title_is_shortened_when_nothing_else_helps() -> None:
    text = only(render_telegram(article("", title="Kata " * 1000), context()))["text"]
    assert telegram_length(text) <= TEXT_LIMIT
    assert check_telegram_html(text) == []
    assert "Baca selengkapnya</a>" in text


# --------------------------------------------------------------------------- templates


def test_a_user_template_overrides_the_built_in_post(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram/post.html").write_text(
        '<i>{{ title }}</i> <a href="{{ url }}">{{ words.read_more }}</a>', encoding="utf-8")
    text = only(render_telegram(article(title="A & B"), context(Templates(tmp_path))))["text"]
    assert text == f'<i>A &amp; B</i> <a href="{html.escape(URL)}">Baca selengkapnya</a>'


def test_a_user_template_with_html_telegram_refuses_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram/post.html").write_text("<div>{{ title }}</div>", encoding="utf-8")
    with pytest.raises(ValueError, match="div"):
        render_telegram(article(), context(Templates(tmp_path)))


def test_the_adapter_renders_through_render_telegram() -> None:
    adapter = TelegramAdapter(context().channel)
    assert adapter.render(article(), context()) == render_telegram(article(), context())


# --------------------------------------------------------------------------- no repeated words


def test_a_derived_headline_is_not_printed_twice_the_lede_opens_in_bold() -> None:
    story = article("Gempa magnitudo 5,1 mengguncang Cianjur pada Rabu. Tidak ada korban jiwa.",
                    title="Gempa magnitudo 5,1 mengguncang Cianjur pada Rabu",
                    title_derived=True)
    text = only(render_telegram(story, context()))["text"]
    assert text == ("<b>Gempa magnitudo 5,1 mengguncang Cianjur pada Rabu.</b> Tidak ada korban "
                    f'jiwa.\n\n<a href="{html.escape(URL)}">Baca selengkapnya</a>')


def test_a_real_title_that_the_lede_repeats_is_not_printed_twice_either() -> None:
    story = article("Putin dan Xi perkuat poros kerja sama di tengah tekanan Barat, kata Kremlin.",
                    title="Putin dan Xi perkuat poros kerja sama")
    text = only(render_telegram(story, context()))["text"]
    assert text.count("Putin dan Xi perkuat poros") == 1
    assert text.startswith("<b>Putin dan Xi perkuat poros kerja sama di tengah tekanan Barat, "
                           "kata Kremlin.</b>")


def test_a_bold_opening_sentence_stands_alone_when_the_next_one_is_too_long() -> None:
    lede = "Kalimat pembuka yang penting. Lalu " + " ".join(["kata"] * 2000) + "."
    story = article(lede, title="Kalimat pembuka yang penting", title_derived=True)
    text = only(render_telegram(story, context()))["text"]
    assert text == ("<b>Kalimat pembuka yang penting.</b>\n\n"
                    f'<a href="{html.escape(URL)}">Baca selengkapnya</a>')


def test_a_title_longer_than_anyone_reads_is_shortened_and_the_lede_kept() -> None:
    text = only(render_telegram(article("Singkat.", title="Judul " * 1000), context()))["text"]
    headline = visible_text(text).split("\n\n")[0]
    assert headline.endswith("…") and len(headline) <= 256
    assert "\n\nSingkat.\n\n" in visible_text(text)


# --------------------------------------------------------------------------- a channel's template


def test_a_channel_names_its_own_template(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram/breaking.html").write_text(
        '🔴 <b>{{ title | upper }}</b>\n<a href="{{ url }}">{{ words.read_more }}</a>',
        encoding="utf-8")
    ctx = context(Templates(tmp_path), template="telegram/breaking.html")
    text = only(render_telegram(article(), ctx))["text"]
    assert text == (f'🔴 <b>PUTIN DAN XI PERKUAT POROS</b>\n<a href="{html.escape(URL)}">'
                    "Baca selengkapnya</a>")
    # other channels keep the default post
    assert only(render_telegram(article(), context(Templates(tmp_path))))["text"].startswith(
        "<b>Putin dan Xi perkuat poros</b>\n\n")


def test_a_channel_template_that_does_not_exist_is_a_clear_error() -> None:
    with pytest.raises(Exception, match=r"telegram/nope\.html"):
        render_telegram(article(), context(template="telegram/nope.html"))


# --------------------------------------------------------------------------- the validator


@pytest.mark.parametrize(("markup", "problem"), [
    ("<b>a <i>b</i> <u>c</u> <s>d</s> <tg-spoiler>e</tg-spoiler></b>", None),
    ('<b><a href="https://x.example">link in bold</a></b>', None),
    ('<a href="https://x.example"><b>bold in a link</b></a>', None),
    ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', None),
    ('<span class="tg-spoiler">s</span> <blockquote expandable>q</blockquote>', None),
    ("&#34;&#x1F600;&quot;", None),
    ("<code><b>x</b></code>", "plain text only"),
    ("<pre><i>x</i></pre>", "plain text only"),
    ('<a href="https://a.example"><a href="https://b.example">x</a></a>', "inside <a>"),
    ('<a href="https://a.example"><code>x</code></a>', "inside <a>"),
    ("<blockquote><blockquote>x</blockquote></blockquote>", "inside <blockquote>"),
    ("<span>x</span>", "tg-spoiler"),
    ('<code class="language-x">x</code>', "only directly inside <pre>"),
    ('<a href="javascript:alert(1)">x</a>', "not an absolute"),
    ('<a href="/berita/1">x</a>', "not an absolute"),
    ('<b class="x">x</b>', "attribute"),
    ("<br>", "not a tag"),
    ("<b>x</b><br/>", "self-closing"),
    ("&#0;", "not a character"),
    ("&hellip;", "not an entity"),
    ("<!-- c -->x", "comments"),
    ("x <b", "<"),  # an unterminated tag, or a bare "<"
    ("", "no visible text"),
    ("<b> </b>", "no visible text"),
])
def test_the_validator_knows_telegrams_html_rules(markup: str, problem: str | None) -> None:
    problems = check_telegram_html(markup)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_the_validator_counts_length_as_telegram_does() -> None:
    text = "<b>" + "😀" * 512 + "</b>"  # 512 code points, 1024 UTF-16 units
    assert check_telegram_html(text, CAPTION_LIMIT) == []
    [problem] = check_telegram_html(text + "a", CAPTION_LIMIT)
    assert "1025 UTF-16 code units" in problem
