"""Templates: lookup order, autoescaping by file type, Babel date filters, fixed words, hashtags."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest
from pydantic import SecretStr

import distributor
from distributor.articles import Article, RelatedLink
from distributor.channels.email.adapter import EmailConfig
from distributor.channels.email.render import render_article_email, render_digest_email
from distributor.channels.telegram.adapter import TelegramConfig
from distributor.channels.telegram.render import render_telegram
from distributor.channels.x.adapter import XConfig
from distributor.channels.x.render import render_x
from distributor.config import SiteConfig, WebConfig
from distributor.render import Templates, builtin_templates_dir, hashtag, hashtags, words
from distributor.render.context import RenderContext

SITE = SiteConfig(name="RI News Portal", url="https://www.rinews.example/", language="id",
                  timezone="Asia/Jakarta")
LATE_EVENING_UTC = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # Wednesday in Jakarta


def test_the_built_in_templates_are_found_in_a_source_checkout() -> None:
    folder = builtin_templates_dir()
    assert (folder / "email/digest.html").is_file()
    assert (folder / "telegram/post.html").is_file()
    packaged = Path(distributor.__file__).resolve().parent / "templates"
    assert folder == (packaged if packaged.is_dir() else packaged.parent.parent / "templates")


def test_html_is_autoescaped_and_text_is_not(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("{{ v }}", encoding="utf-8")
    (tmp_path / "a.txt").write_text("{{ v }}", encoding="utf-8")
    templates = Templates(tmp_path)
    assert templates.render("a.html", v="<b>&") == "&lt;b&gt;&amp;"
    assert templates.render("a.txt", v="<b>&") == "<b>&"


def test_the_user_folder_comes_first_and_the_built_in_stays_reachable(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email/article.txt").write_text("mine", encoding="utf-8")
    templates = Templates(tmp_path)
    assert templates.get("email/article.txt").filename == str(tmp_path / "email/article.txt")
    assert templates.get("builtin/email/article.txt").filename == \
        str(builtin_templates_dir() / "email/article.txt")
    assert templates.exists("email/digest.html")  # not overridden: the built-in one
    with pytest.raises(jinja2.TemplateNotFound, match="not found in"):
        templates.get("email/nope.html")


def test_date_filters_use_the_site_language_and_time_zone(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text(
        "{{ when | date }}|{{ when | date('long', language='en') }}|{{ when | time }}|"
        "{{ site.url | hostname }}", encoding="utf-8")
    out = Templates(tmp_path).render("d.txt", when=LATE_EVENING_UTC, site=SITE)
    assert out == "Rabu, 25 November 2026|November 25, 2026|06.30|rinews.example"


def test_fixed_words_follow_the_language_and_fall_back_to_english() -> None:
    assert words("id").read_more == "Baca selengkapnya"
    assert words("id-ID").read_also == "Baca juga"
    assert words("en").read_more == "Read more"
    assert words("xx").read_more == "Read more"


def test_tags_become_hashtags_both_platforms_link() -> None:
    assert hashtag("Xi Jinping") == "#XiJinping"
    assert hashtag("#Rusia") == "#Rusia"
    assert hashtag("Asia-Pasifik 2026") == "#AsiaPasifik2026"
    assert hashtag("2026") is None
    assert hashtag(" - ") is None
    assert hashtags(["Rusia", "rusia", "China"]) == ["#Rusia", "#China"]


# --------------------------------------------------------------------------- the catalogue


def test_the_catalogue_has_every_word_in_indonesian_and_english() -> None:
    for language in ("id", "en"):
        catalogue = dataclasses.asdict(words(language))
        assert all(isinstance(v, str) and v.strip() for v in catalogue.values()), language
    assert words("id").more(3, "rinews.example") == "3 berita lainnya di rinews.example"
    assert words("en").more(3, "rinews.example") == "3 more stories at rinews.example"
    assert words("en").more(1, "rinews.example") == "1 more story at rinews.example"


def _fixed(language: str, other: str) -> set[str]:
    """Words of ``language`` that ``other`` writes differently (placeholders removed)."""
    mine, theirs = dataclasses.asdict(words(language)), dataclasses.asdict(words(other))
    return {re.sub(r"\{\w+\}", "", v).split(".")[0].strip()
            for k, v in mine.items() if v != theirs[k]} - {""}


@pytest.mark.parametrize(("language", "other"), [("en", "id"), ("id", "en")])
def test_every_fixed_word_of_every_channel_comes_from_the_catalogue(
        language: str, other: str) -> None:
    """Render everything in one language: no fixed word of the other may appear."""
    site = SiteConfig(name="Portal", url="https://portal.example", language=language,
                      timezone="UTC")
    secret = SecretStr("x")
    story = Article(source="t", key="k", url="https://portal.example/a", title="Title",
                    lede="Lede one. Lede two.", author="Ann Lee", language=language,
                    image="https://portal.example/a.jpg", dateline="Jakarta",
                    published=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), tags=["Tag"],
                    related=[RelatedLink(title="Other", url="https://portal.example/b")])
    web = WebConfig()
    channels = {
        "email": EmailConfig.model_validate({"name": "e", "from": "a@portal.example",
                                             "smtp": {"host": "h"}}),
        "telegram": TelegramConfig(name="t", chat_id="@c", token=secret, hashtags=True),
        "x": XConfig(name="x", consumer_key=secret, consumer_secret=secret,
                     access_token=secret, access_token_secret=secret, hashtags=True),
    }

    def ctx(name: str) -> RenderContext:
        return RenderContext(site=site, channel=channels[name], web=web,
                             templates=Templates(), now=LATE_EVENING_UTC)

    rendered = json.dumps([
        render_digest_email([story] * 31, ctx("email")),
        render_article_email(story, ctx("email")),
        render_telegram(story, ctx("telegram")),
        render_telegram(story.model_copy(update={"image": None}), ctx("telegram")),
        render_x(story, ctx("x")),
    ], ensure_ascii=False).replace("List-Unsubscribe", "")  # header names are not words
    foreign = [word for word in _fixed(other, language) if word in rendered]
    assert foreign == []
    assert all(word in rendered for word in (words(language).read_more,
                                             words(language).unsubscribe))
