"""Templates: lookup order, autoescaping by file type, Babel date filters, fixed words, hashtags."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

import distributor
from distributor.config import SiteConfig
from distributor.render import Templates, builtin_templates_dir, hashtag, hashtags, words

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
