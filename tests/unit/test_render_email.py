"""Email: digest and single-article mails, escaping, inlined CSS, placeholders and MIME."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from premailer import Premailer

from distributor.articles import Article, RelatedLink
from distributor.channels.email.adapter import EmailAdapter, EmailConfig
from distributor.channels.email.personal import build_mime, personalize
from distributor.channels.email.render import (
    HTML_BUDGET,
    RECIPIENT,
    SUBJECT_LIMIT,
    UNSUBSCRIBE_TOKEN,
    inline_css,
    render_article_email,
    render_digest_email,
)
from distributor.config import SiteConfig, WebConfig
from distributor.render import Templates
from distributor.render.context import RenderContext

SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id",
                  timezone="Asia/Jakarta")
# 23:30 UTC on the 24th is already Wednesday the 25th in Jakarta
NOW = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
UNSUBSCRIBE = "https://news.rinews.example/unsubscribe/%%UNSUBSCRIBE_TOKEN%%"


def channel(**overrides: Any) -> EmailConfig:
    values: dict[str, Any] = {"name": "daily", "from": "RI News Portal <redaksi@rinews.example>",
                              "smtp": {"host": "localhost", "password": "dummy"}}
    values.update(overrides)
    return EmailConfig.model_validate(values)


def context(templates: Templates | None = None, site: SiteConfig = SITE,
            **overrides: Any) -> RenderContext:
    return RenderContext(site=site, channel=channel(**overrides),
                         web=WebConfig(base_url="https://news.rinews.example/"),
                         templates=templates or Templates(), now=NOW)


def article(n: int = 1, **fields: Any) -> Article:
    values: dict[str, Any] = {
        "source": "test", "key": f"k{n}", "url": f"https://rinews.example/berita/{n}?a=1&b=2",
        "title": f"Judul berita nomor {n}",
        "lede": f"Lede berita nomor {n}: Moskow dan Beijing semakin mempertegas posisi mereka "
                "sebagai penyeimbang utama tatanan internasional yang didominasi Barat.",
    }
    values.update(fields)
    return Article(**values)


def one(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(messages) == 1
    assert set(messages[0]) == {"subject", "html", "text", "headers"}
    return messages[0]


# --------------------------------------------------------------------------- escaping


def test_a_title_with_a_script_tag_is_escaped_in_html_and_kept_as_is_in_text() -> None:
    story = article(title="Bahaya <script>alert('x')</script> & lainnya")
    mail = one(render_article_email(story, context()))
    assert "<script" not in mail["html"]
    assert "&lt;script&gt;alert(" in mail["html"]
    assert "&amp; lainnya" in mail["html"]
    assert "Bahaya <script>alert('x')</script> & lainnya" in mail["text"]
    assert mail["subject"] == "Bahaya <script>alert('x')</script> & lainnya"


def test_digest_ledes_and_urls_are_escaped_in_html() -> None:
    mail = one(render_digest_email([article(1, lede='5 > 3 & "kutipan" <i>')], context()))
    assert '5 &gt; 3 &amp; "kutipan" &lt;i&gt;</p>' in mail["html"]
    assert 'href="https://rinews.example/berita/1?a=1&amp;b=2"' in mail["html"]


# --------------------------------------------------------------------------- layout and CSS


def test_css_is_inlined_and_the_media_rules_stay_in_a_style_block() -> None:
    mail = one(render_digest_email([article(1), article(2)], context()))
    page = mail["html"]
    headline = re.search(r'<h2 class="headline"[^>]* style=([\'"])(.*?)\1', page)
    assert headline and "font-size:22px" in headline.group(2)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)
    assert any("@media (prefers-color-scheme: dark)" in s for s in styles)
    assert any("max-width: 620px" in s for s in styles)
    assert any("!important" in s for s in styles)
    # rules that were inlined are not repeated in the <style> block
    assert not any(re.search(r"^\s*\.lede\s*\{", s, re.M) for s in styles)


STYLED = """<!DOCTYPE html><html><head>
<style>
  .card {{ padding: 8px; color: {color} }}
  .card .title {{ font-size: 20px !important; color: #111 }}
  a:hover {{ text-decoration: underline }}
  @media (max-width: 620px) {{ .card {{ padding: 2px }} }}
</style>
<style>p {{ margin: 0 }} .title {{ font-weight: bold }}</style></head>
<body><div class="card"><p class="title" style="color: red">{title}</p><a href="#">x</a>
</div></body></html>"""


@pytest.mark.parametrize("color", ["#222", "#333"])
def test_inlining_gives_what_premailer_itself_gives_for_each_mail_of_a_template(
        color: str) -> None:
    """The reading of a template's ``<style>`` blocks is kept across mails: every mail still
    gets exactly what a fresh premailer makes of it, with its own title and its own CSS."""
    from distributor.channels.email.render import _PREMAILER_OPTIONS

    for title in ("Satu", "Dua &amp; tiga"):
        page = STYLED.format(color=color, title=title)
        expected = Premailer(page, **_PREMAILER_OPTIONS).transform()
        assert inline_css(page) == expected
        assert title in expected and f"color:{color}" in expected
        assert "a:hover" in expected and "@media" in expected  # left in a <style> block


def test_the_layout_is_a_600px_presentation_table_with_a_color_scheme() -> None:
    page = one(render_article_email(article(), context()))["html"]
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="id"' in page
    assert re.search(r'<table role="presentation" class="container" width="600"', page)
    assert '<meta name="color-scheme" content="light dark">' in page


# --------------------------------------------------------------------------- content


def test_the_digest_lists_each_article_in_order_in_html_and_text() -> None:
    stories = [article(n) for n in (1, 2, 3)]
    mail = one(render_digest_email(stories, context()))
    for part, url_form in (("html", "https://rinews.example/berita/{}?a=1&amp;b=2"),
                           ("text", "https://rinews.example/berita/{}?a=1&b=2")):
        positions = [mail[part].index(f"Judul berita nomor {n}") for n in (1, 2, 3)]
        assert positions == sorted(positions), part
        for n in (1, 2, 3):
            assert url_form.format(n) in mail[part]
    assert mail["html"].count(">Baca selengkapnya") == 3
    assert mail["text"].count("Baca selengkapnya: https://rinews.example/berita/") == 3


def test_digest_subject_and_date_are_in_the_site_language_and_time_zone() -> None:
    mail = one(render_digest_email([article()], context()))
    assert mail["subject"] == "RI News Portal, 25 November: Judul berita nomor 1"
    assert "Rabu, 25 November 2026" in mail["html"]
    assert "Rabu, 25 November 2026" in mail["text"]


def test_an_english_site_gets_english_words_and_dates() -> None:
    site = SiteConfig(name="Daily", url="https://daily.example", language="en", timezone="UTC")
    mail = one(render_digest_email([article()], context(site=site)))
    assert mail["subject"] == "Daily, November 24: Judul berita nomor 1"
    assert "Read more: https://rinews.example/berita/1" in mail["text"]
    assert ">Unsubscribe</a>" in mail["html"]


def test_the_digest_subject_carries_the_lead_headline_and_how_many_more() -> None:
    # issue 13: "RI News Portal, 3 Desember: <lead headline> dan 8 berita lainnya"
    december = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # 3 December, 03:00 in Jakarta
    ctx = RenderContext(site=SITE, channel=channel(), web=WebConfig(), templates=Templates(),
                        now=december)
    stories = [article(1, title="Banjir rob rendam Pelabuhan Tanjung Emas")] + \
        [article(n) for n in range(2, 10)]
    assert one(render_digest_email(stories, ctx))["subject"] == (
        "RI News Portal, 3 Desember: Banjir rob rendam Pelabuhan Tanjung Emas "
        "dan 8 berita lainnya")
    assert one(render_digest_email(stories[:2], ctx))["subject"] == (
        "RI News Portal, 3 Desember: Banjir rob rendam Pelabuhan Tanjung Emas "
        "dan 1 berita lainnya")
    assert one(render_digest_email(stories[:1], ctx))["subject"] == \
        "RI News Portal, 3 Desember: Banjir rob rendam Pelabuhan Tanjung Emas"


def test_an_english_site_writes_the_subject_in_english() -> None:
    site = SiteConfig(name="RI News Portal", url="https://rinews.example", language="en",
                      timezone="Asia/Jakarta")
    december = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    ctx = RenderContext(site=site, channel=channel(), web=WebConfig(), templates=Templates(),
                        now=december)
    stories = [article(1, title="Nickel smelter investment to reach $20 billion")] + \
        [article(n) for n in range(2, 10)]
    assert one(render_digest_email(stories, ctx))["subject"] == (
        "RI News Portal, December 3: Nickel smelter investment to reach $20 billion "
        "and 8 more stories")
    assert one(render_digest_email(stories[:1], ctx))["subject"] == \
        "RI News Portal, December 3: Nickel smelter investment to reach $20 billion"


def test_the_chrome_of_an_indonesian_digest_stays_indonesian_with_an_english_lead() -> None:
    english = article(1, title="Indonesia eyes $20 billion in nickel investment",
                      lede="Indonesia expects nickel smelter investment to grow.",
                      language="en", published=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    mail = one(render_digest_email([english, article(2)], context()))
    assert mail["subject"] == ("RI News Portal, 25 November: Indonesia eyes $20 billion in "
                               "nickel investment dan 1 berita lainnya")
    for part in (mail["html"], mail["text"]):
        assert "Rabu, 25 November 2026" in part
        assert "Baca selengkapnya" in part and "Read more" not in part
        assert "24 November 2026" in part  # the card's date, as Indonesian writes it
        assert "Berhenti berlangganan" in part


def test_a_long_lead_headline_is_cut_between_words_to_keep_the_subject_short() -> None:
    title = ("Pemerintah Provinsi Jawa Tengah menetapkan status tanggap darurat banjir rob di "
             "Semarang, Demak, Pekalongan, Kendal dan Batang hingga akhir Desember mendatang")
    stories = [article(1, title=title)] + [article(n) for n in range(2, 12)]
    subject = one(render_digest_email(stories, context()))["subject"]
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.startswith("RI News Portal, 25 November: Pemerintah Provinsi Jawa Tengah")
    assert subject.endswith("… dan 10 berita lainnya")
    shown = subject.removeprefix("RI News Portal, 25 November: ").removesuffix(
        "… dan 10 berita lainnya")
    assert title.startswith(shown) and title[len(shown)] in " ,"  # between words
    # a headline without spaces is cut by characters, still within the limit
    stories[0] = article(1, title="x" * 300)
    assert len(one(render_digest_email(stories, context()))["subject"]) <= SUBJECT_LIMIT


def test_a_configured_digest_subject_gets_its_fields() -> None:
    ctx = context(subject="{site} pagi ini: {count} berita ({date}) {unknown}")
    mail = one(render_digest_email([article(1), article(2)], ctx))
    assert mail["subject"] == \
        "RI News Portal pagi ini: 2 berita (Rabu, 25 November 2026) {unknown}"


def test_the_article_mail_has_its_title_as_subject_and_its_related_links() -> None:
    story = article(image="https://rinews.example/img/1.jpg", author="Anjar Bramantyo",
                    related=[RelatedLink(title="Akhir Era Pengendalian Nuklir",
                                         url="https://rinews.example/berita/nuklir"),
                             RelatedLink(title="Tanpa tautan")])
    mail = one(render_article_email(story, context()))
    assert mail["subject"] == "Judul berita nomor 1"
    image = re.search(r'<img [^>]*src="https://rinews.example/img/1.jpg"[^>]*>', mail["html"])
    assert image and 'width="536"' in image.group(0)  # Outlook sizes images by attribute
    assert 'height="auto"' not in image.group(0) and 'width="100%"' not in image.group(0)
    assert "Baca juga" in mail["html"] and "Baca juga:" in mail["text"]
    assert "https://rinews.example/berita/nuklir" in mail["text"]
    assert "Tanpa tautan" not in mail["html"]
    assert "Oleh Anjar Bramantyo" in mail["text"]


def test_text_lines_are_wrapped_at_72_except_unbreakable_urls() -> None:
    story = article(lede=" ".join(["kata"] * 200))
    text = one(render_digest_email([story], context()))["text"]
    for line in text.splitlines():
        assert len(line) <= 72 or line.startswith("https://"), line


# --------------------------------------------------------------------------- unsubscribing


def test_placeholders_are_in_html_text_and_headers() -> None:
    mail = one(render_digest_email([article()], context()))
    assert mail["headers"]["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{UNSUBSCRIBE}"' in mail["html"]
    assert ">Berhenti berlangganan</a>" in mail["html"]
    assert UNSUBSCRIBE in mail["text"]
    assert RECIPIENT in mail["html"] and RECIPIENT in mail["text"]


def test_personalize_replaces_the_placeholders_everywhere_and_escapes_html() -> None:
    mail = one(render_digest_email([article()], context()))
    mine = personalize(mail, recipient="a&b@example.org", unsubscribe_token="tok.en-1")
    serialized = json.dumps(mine)
    assert UNSUBSCRIBE_TOKEN not in serialized and RECIPIENT not in serialized
    assert mine["headers"]["List-Unsubscribe"] == \
        "<https://news.rinews.example/unsubscribe/tok.en-1>"
    assert "a&amp;b@example.org" in mine["html"] and "a&b@example.org" in mine["text"]
    assert UNSUBSCRIBE_TOKEN in mail["html"]  # the original is left alone


def test_reply_to_is_a_header_when_configured() -> None:
    mail = one(render_digest_email([article()], context(reply_to="redaksi@rinews.example")))
    assert mail["headers"]["Reply-To"] == "redaksi@rinews.example"


# --------------------------------------------------------------------------- MIME


def parsed(mail: EmailMessage) -> EmailMessage:
    message = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_build_mime_gives_a_parseable_alternative_with_both_parts_and_the_headers() -> None:
    mail = one(render_digest_email([article()], context()))
    message = parsed(build_mime(mail, sender="RI News Portal <redaksi@rinews.example>"))
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    assert message["Subject"] == "RI News Portal, 25 November: Judul berita nomor 1"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@rinews.example>")
    assert message["Date"]
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    assert html_part.get_content() == mail["html"].replace("\r\n", "\n")
    assert UNSUBSCRIBE in text_part.get_content()


def test_a_long_unsubscribe_url_stays_one_raw_line_whatever_the_smtp_policy() -> None:
    # Python would fold a long unstructured header into RFC 2047 encoded words: unusable URL
    mail = one(render_digest_email([article()], context()))
    token = "t" * 150
    raw = build_mime(mail, sender="redaksi@rinews.example", unsubscribe_token=token) \
        .as_bytes(policy=policy.SMTP)
    line = f"List-Unsubscribe: <https://news.rinews.example/unsubscribe/{token}>\r\n"
    assert line.encode() in raw


def test_build_mime_for_a_subscriber_replaces_the_placeholders() -> None:
    mail = one(render_article_email(article(), context()))
    message = parsed(build_mime(mail, sender="redaksi@rinews.example",
                                to="pembaca@example.org", unsubscribe_token="abc123"))
    raw = message.as_string()
    assert "%%" not in raw
    assert message["To"] == "pembaca@example.org"
    assert message["List-Unsubscribe"] == "<https://news.rinews.example/unsubscribe/abc123>"
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert "pembaca@example.org" in html_part.get_content()


def test_the_outbox_gets_an_eml_the_json_and_the_text_part() -> None:
    adapter = EmailAdapter(channel())
    messages = render_digest_email([article()], context())
    files = adapter.outbox_files(messages)
    assert set(files) == {".eml", ".json", ".txt"}
    assert json.loads(files[".json"]) == messages
    assert files[".txt"].decode("utf-8") == messages[0]["text"]
    eml = message_from_bytes(files[".eml"], policy=policy.default)
    assert isinstance(eml, EmailMessage)
    assert eml["From"] == "RI News Portal <redaksi@rinews.example>"
    assert eml["To"] == RECIPIENT
    html_part = eml.get_body(preferencelist=("html",))
    assert html_part is not None and UNSUBSCRIBE in html_part.get_content()


# --------------------------------------------------------------------------- templates


def test_a_users_template_overrides_a_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email/digest.txt").write_text(
        "{% for a in articles %}* {{ a.title }} <{{ a.url }}>\n{% endfor %}"
        "{{ unsubscribe_url }}\n", encoding="utf-8")
    mail = one(render_digest_email([article(1), article(2)], context(Templates(tmp_path))))
    assert mail["text"] == (
        "* Judul berita nomor 1 <https://rinews.example/berita/1?a=1&b=2>\n"
        "* Judul berita nomor 2 <https://rinews.example/berita/2?a=1&b=2>\n"
        f"{UNSUBSCRIBE}\n")
    assert "Baca selengkapnya" in mail["html"]  # the built-in html is still used


def test_an_overridden_base_changes_every_mail_and_can_extend_the_built_in(
        tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email/base.html").write_text(
        '{% extends "builtin/email/base.html" %}'
        "{% block footer %}KHUSUS {{ super() }}{% endblock %}",
        encoding="utf-8")
    ctx = context(Templates(tmp_path))
    for mail in (one(render_digest_email([article()], ctx)),
                 one(render_article_email(article(), ctx))):
        assert "KHUSUS" in mail["html"]
        assert "Baca selengkapnya" in mail["html"]


def test_a_missing_templates_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="templates folder"):
        Templates(tmp_path / "nope")


# --------------------------------------------------------------------------- cards and footer


def test_a_digest_card_has_headline_dateline_lede_image_with_width_and_alt_and_link() -> None:
    story = article(1, image="https://rinews.example/img/1.jpg", dateline="Moscow",
                    title='Putin & Xi "bertemu"',
                    published=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    page = one(render_digest_email([story], context()))["html"]
    image = re.search(r'<a href="https://rinews.example/berita/1\?a=1&amp;b=2"><img [^>]*>', page)
    assert image, "the image links to the article"
    assert 'src="https://rinews.example/img/1.jpg"' in image.group(0)
    assert 'width="536"' in image.group(0)
    assert re.search(r"alt=(['\"])Putin &amp; Xi (&#34;|&quot;|\")bertemu", image.group(0))
    assert re.search(r'<h2 class="headline"[^>]*><a href="https://rinews.example/berita/1\?a=1'
                     r'&amp;b=2"[^>]*>Putin &amp; Xi', page)
    assert re.search(r'<span class="dl"[^>]*>Moscow</span> · 24 November 2026, 10\.00', page)
    assert "Lede berita nomor 1: Moskow dan Beijing" in page


def test_the_footer_names_the_portal_and_shows_the_unsubscribe_link() -> None:
    for mail in (one(render_digest_email([article()], context())),
                 one(render_article_email(article(), context()))):
        footer = mail["html"][mail["html"].index('class="footer"'):]
        assert "<strong>RI News Portal</strong>" in footer
        assert re.search(r'<a href="https://rinews.example"[^>]*>rinews.example</a>', footer)
        assert re.search(rf'<a class="unsubscribe" href="{re.escape(UNSUBSCRIBE)}"[^>]*>'
                         r"Berhenti berlangganan</a>", footer)
        assert "RI News Portal · https://rinews.example" in mail["text"]


def test_the_preheader_is_hidden_and_says_what_the_subject_does_not() -> None:
    digest = one(render_digest_email([article(1), article(2)], context()))["html"]
    preheader = re.search(r'<div class="preheader"[^>]*>(.*?)</div>', digest, re.S)
    # the subject says the lead headline: the preheader goes on with the next ones
    assert preheader and preheader.group(1).startswith("Judul berita nomor 2")
    assert "display:none" in preheader.group(0).replace(" ", "")
    derived = article(title="Gempa mengguncang Cianjur", title_derived=True,
                      lede="Gempa mengguncang Cianjur. Warga berhamburan keluar rumah.")
    page = one(render_article_email(derived, context()))["html"]
    preheader = re.search(r'<div class="preheader"[^>]*>(.*?)</div>', page, re.S)
    assert preheader and preheader.group(1).startswith("Warga berhamburan keluar rumah.")


def test_a_card_does_not_repeat_a_headline_derived_from_its_lede() -> None:
    derived = article(title="Gempa mengguncang Cianjur", title_derived=True,
                      lede="Gempa mengguncang Cianjur. Warga berhamburan keluar rumah.")
    for mail in (one(render_digest_email([derived], context())),
                 one(render_article_email(derived, context()))):
        assert mail["text"].count("Gempa mengguncang Cianjur") == 1
        assert re.search(r'<p class="lede"[^>]*>Warga berhamburan keluar rumah.</p>',
                         mail["html"])


def test_a_one_sentence_lede_under_its_own_headline_is_not_repeated() -> None:
    alone = article(title="Gempa mengguncang Cianjur", title_derived=True,
                    lede="Gempa mengguncang Cianjur.")
    with_body = alone.model_copy(update={"body": ["Warga berhamburan keluar rumah."]})
    cut = article(title="Gempa bermagnitudo 5,1 mengguncang Cianjur", title_derived=True,
                  lede="Gempa bermagnitudo 5,1 mengguncang Cianjur setelah hujan deras "
                       "mengguyur wilayah itu sejak Senin malam tanpa henti sampai pagi.")
    assert one(render_digest_email([alone], context()))["text"].count("Gempa mengguncang") == 1
    assert "Warga berhamburan keluar rumah." in \
        one(render_digest_email([with_body], context()))["text"]
    assert "sejak Senin malam" in one(render_digest_email([cut], context()))["html"]


# --------------------------------------------------------------------------- size


def _heavy(n: int) -> Article:
    """A card as big as real ones get: long title, lede, image and tracking-laden links."""
    tracking = "&".join(f"utm_{k}=buletin-harian-rinews-{k}-{n}" for k in range(8))
    return article(n, title=f"Judul panjang nomor {n} " + "kata " * 30,
                   url=f"https://rinews.example/berita/2026/11/24/judul-panjang-{n}?{tracking}",
                   lede="Kalimat lede yang cukup panjang untuk kartu. " * 20,
                   image=f"https://cdn.rinews.example/foto/2026/11/24/{n}.jpg?{tracking}",
                   dateline="Jakarta",
                   published=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


def test_a_digest_shows_at_most_30_cards_and_links_to_the_site_for_the_rest() -> None:
    mail = one(render_digest_email([article(n) for n in range(1, 41)], context()))
    assert mail["html"].count('<h2 class="headline"') == 30
    assert "Judul berita nomor 30<" in mail["html"] and "Judul berita nomor 31<" not in \
        mail["html"]
    assert re.search(r'<a href="https://rinews.example"[^>]*>10 berita lainnya di '
                     r"rinews.example →</a>", mail["html"])
    assert "10 berita lainnya di rinews.example: https://rinews.example" in mail["text"]
    assert "Judul berita nomor 31" not in mail["text"]


def test_a_channel_sets_its_own_max_cards() -> None:
    ctx = context()
    ctx.channel = EmailConfig.model_validate(
        {**ctx.channel.model_dump(by_alias=True), "max_cards": 5})
    mail = one(render_digest_email([article(n) for n in range(1, 9)], ctx))
    assert mail["html"].count('<h2 class="headline"') == 5
    assert "3 berita lainnya di rinews.example" in mail["html"]


def test_the_more_line_is_in_the_site_language_and_singular_when_one() -> None:
    site = SiteConfig(name="Daily", url="https://daily.example", language="en", timezone="UTC")
    mail = one(render_digest_email([article(n) for n in range(1, 32)], context(site=site)))
    assert "1 more story at daily.example" in mail["html"]


def test_heavy_digests_stay_under_the_html_budget_gmail_does_not_clip() -> None:
    stories = [_heavy(n) for n in range(1, 41)]
    mail = one(render_digest_email(stories, context()))
    size = len(mail["html"].encode("utf-8"))
    assert size <= HTML_BUDGET < 102 * 1024
    shown = mail["html"].count('<h2 class="headline"')
    assert 10 <= shown < 30  # the size, not the count of 30, stopped it
    assert f"{40 - shown} berita lainnya di rinews.example" in mail["html"]
    # and the unsubscribe link, at the very end, is inside what Gmail shows
    assert UNSUBSCRIBE in mail["html"][-3000:]


def test_a_lede_of_50_000_characters_is_cut_in_the_card() -> None:
    story = article(lede="Kalimat panjang sekali. " * 2100)
    for mail in (one(render_digest_email([story], context())),
                 one(render_article_email(story, context()))):
        assert len(mail["html"].encode("utf-8")) < 40_000
        assert "…" in mail["html"] and "…" in mail["text"]


# --------------------------------------------------------------------------- headers


def test_list_unsubscribe_carries_a_mailto_when_the_channel_has_one() -> None:
    ctx = context()
    ctx.channel = EmailConfig.model_validate(
        {**ctx.channel.model_dump(by_alias=True), "unsubscribe_mailto": "keluar@rinews.example"})
    mail = one(render_digest_email([article()], ctx))
    assert mail["headers"]["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}>, <mailto:keluar@rinews.example?subject=unsubscribe%20"
        f"{UNSUBSCRIBE_TOKEN}>")
    message = parsed(build_mime(mail, sender="redaksi@rinews.example", to="a@example.org",
                                unsubscribe_token="abc"))
    assert message["List-Unsubscribe"] == (
        "<https://news.rinews.example/unsubscribe/abc>, "
        "<mailto:keluar@rinews.example?subject=unsubscribe%20abc>")


def test_the_preview_headers_name_the_sender() -> None:
    mail = one(render_article_email(article(), context()))
    assert mail["headers"]["From"] == "RI News Portal <redaksi@rinews.example>"
    message = parsed(build_mime(mail, sender="Lain <lain@rinews.example>"))
    assert message["From"] == "Lain <lain@rinews.example>"  # the sender given wins, once
    assert len(message.get_all("From") or []) == 1


# --------------------------------------------------------------------------- a channel's template


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_a_channel_names_its_template_and_the_text_sibling_follows(tmp_path: Path) -> None:
    _write(tmp_path, "email/pagi.html",
           '{% extends "email/base.html" %}{% block content %}<tr><td>PAGI {{ kind }} '
           "{% for a in articles %}[{{ a.title }}]{% endfor %}</td></tr>{% endblock %}")
    _write(tmp_path, "email/pagi.txt", "PAGI {{ kind }} {{ articles | length }}")
    ctx = context(Templates(tmp_path), template="email/pagi.html")
    digest = one(render_digest_email([article(1), article(2)], ctx))
    assert "PAGI digest [Judul berita nomor 1][Judul berita nomor 2]" in digest["html"]
    assert digest["text"] == "PAGI digest 2\n"
    single = one(render_article_email(article(3), ctx))
    assert "PAGI article [Judul berita nomor 3]" in single["html"]
    assert single["text"] == "PAGI article 1\n"


def test_kind_in_a_template_name_picks_one_template_per_kind(tmp_path: Path) -> None:
    _write(tmp_path, "email/x-digest.html", "DIGEST {{ articles | length }}")
    _write(tmp_path, "email/x-article.html", "ARTICLE {{ article.title }}")
    ctx = context(Templates(tmp_path), template="email/x-{kind}.html")
    assert "DIGEST 2" in one(render_digest_email([article(1), article(2)], ctx))["html"]
    single = one(render_article_email(article(1), ctx))
    assert "ARTICLE Judul berita nomor 1" in single["html"]
    # without a .txt sibling, the built-in text template
    assert single["text"].startswith("RI News Portal | Berita terkini\n")


def test_a_channel_template_that_does_not_exist_is_a_clear_error() -> None:
    with pytest.raises(Exception, match=r"email/tidak-ada\.html"):
        render_digest_email([article()], context(template="email/tidak-ada.html"))
