"""distributor.text: what a reader of the digest, the Telegram post or the X thread sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples

from distributor.articles import RelatedLink
from distributor.text import (
    ABBREVIATIONS,
    HEADLINE_MAX,
    HEADLINE_TARGET,
    derive_headline,
    detect_language,
    first_image,
    first_sentence,
    html_to_text,
    markdown_to_text,
    normalize,
    parse_article_text,
    shorten,
    slugify,
    split_dateline,
    split_paragraphs,
    split_sentences,
)
from distributor.text.credits import byline, credit_line
from distributor.text.dateline import is_dateline_line
from distributor.text.furniture import is_furniture

SEED = Path(__file__).resolve().parents[2] / "examples" / "articles" / "000_9e063caa9953ea57.txt"


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the seed


def test_seed_has_no_title_because_its_first_line_is_a_long_paragraph(seed_text: str) -> None:
    parsed = parse_article_text(seed_text)
    assert parsed.title is None
    assert parsed.title_derived is True


def test_seed_dateline_is_the_city_and_the_lede_starts_after_the_prefix(seed_text: str) -> None:
    parsed = parse_article_text(seed_text)
    assert parsed.dateline == "Moscow"
    assert parsed.lede.startswith("Moskow dan Beijing semakin mempertegas")
    assert "RI News Portal" not in parsed.lede


def test_seed_baca_juga_line_is_a_related_link_not_a_paragraph(seed_text: str) -> None:
    parsed = parse_article_text(seed_text)
    assert parsed.related == [RelatedLink(
        title="Akhir Era Pengendalian Nuklir: Dunia Memasuki Babak Perlombaan Senjata Tanpa Batas",
        url=None)]
    assert not any("Baca juga" in p for p in [parsed.lede, *parsed.body])


def test_seed_byline_is_the_author_and_not_in_the_body(seed_text: str) -> None:
    parsed = parse_article_text(seed_text)
    assert parsed.author == "Anjar Bramantyo"
    assert parsed.editor is None
    assert not any("Pewarta" in p for p in parsed.body)


def test_seed_body_keeps_every_other_paragraph_in_order(seed_text: str) -> None:
    parsed = parse_article_text(seed_text)
    assert len(parsed.body) == 9  # 12 lines: lede + 9 + "Baca juga" + "Pewarta"
    assert parsed.body[0].startswith("Pertemuan virtual tersebut")
    assert parsed.body[-1].startswith("Dengan jadwal kunjungan timbal balik")


def test_seed_headline_is_its_first_clause_without_an_ellipsis(seed_text: str) -> None:
    # the first sentence (122 characters) ends "... internasional yang didominasi Barat.":
    # the headline stops before the relative clause, a natural end, and has no "…"
    parsed = parse_article_text(seed_text)
    assert parsed.headline == ("Moskow dan Beijing semakin mempertegas posisi mereka sebagai "
                               "penyeimbang utama tatanan internasional")
    assert "000_" not in parsed.headline and "Dalam panggilan" not in parsed.headline


def test_seed_is_detected_as_indonesian(seed_text: str) -> None:
    assert parse_article_text(seed_text).language == "id"


# --------------------------------------------------------------------------- titles


def test_a_short_first_line_without_full_stop_is_the_title() -> None:
    parsed = parse_article_text(
        "Harga Beras Naik Jelang Ramadan\n"
        "Jakarta - Harga beras medium naik Rp1.000 per kilogram di pasar tradisional.\n"
        "Pedagang menyebut pasokan dari Karawang berkurang.")
    assert parsed.title == "Harga Beras Naik Jelang Ramadan"
    assert parsed.title_derived is False
    assert parsed.headline == "Harga Beras Naik Jelang Ramadan"
    assert parsed.dateline == "Jakarta"
    assert parsed.lede.startswith("Harga beras medium naik")
    assert parsed.body == ["Pedagang menyebut pasokan dari Karawang berkurang."]


def test_a_short_first_line_ending_with_a_full_stop_is_the_lede() -> None:
    parsed = parse_article_text("Harga beras naik.\nPedagang menyebut pasokan berkurang.")
    assert parsed.title is None
    assert parsed.lede == "Harga beras naik."
    assert parsed.headline == "Harga beras naik"


def test_a_title_case_question_is_a_title_but_a_rhetorical_opening_is_not() -> None:
    question = parse_article_text("Kenapa Harga Cabai Terus Naik?\nHarga cabai naik lagi.")
    assert question.title == "Kenapa Harga Cabai Terus Naik?"
    rhetorical = parse_article_text("Siapa yang tidak kenal Bali?\nPulau itu ramai turis.")
    assert rhetorical.title is None


def test_a_single_line_story_has_no_title() -> None:
    parsed = parse_article_text("Gempa magnitudo 5,1 guncang Cianjur")
    assert parsed.title is None
    assert parsed.lede == "Gempa magnitudo 5,1 guncang Cianjur"


def test_a_known_title_wins_and_a_repeated_first_line_is_dropped() -> None:
    parsed = parse_article_text(
        "Gempa Guncang Cianjur\nGempa magnitudo 5,1 mengguncang Cianjur pagi ini.",
        title="Gempa guncang Cianjur")
    assert parsed.title == "Gempa guncang Cianjur"
    assert parsed.lede == "Gempa magnitudo 5,1 mengguncang Cianjur pagi ini."


def test_a_known_title_keeps_a_different_first_line_as_lede() -> None:
    parsed = parse_article_text("Sebuah subjudul pendek\nIsi berita.", title="Judul")
    assert parsed.lede == "Sebuah subjudul pendek"
    assert parsed.body == ["Isi berita."]


# --------------------------------------------------------------------------- datelines


@pytest.mark.parametrize(("paragraph", "dateline", "lede"), [
    ("RI News Portal. Moscow — Moskow dan Beijing bertemu.", "Moscow", "Moskow dan Beijing"),
    ("Jakarta (ANTARA) - Presiden meresmikan bendungan.", "Jakarta", "Presiden meresmikan"),
    ("KOMPAS.com - Presiden meresmikan bendungan.", None, "Presiden meresmikan"),
    ("JAKARTA, KOMPAS.com - Presiden meresmikan bendungan.", "Jakarta", "Presiden"),
    ("Jakarta, CNN Indonesia -- Presiden meresmikan bendungan.", "Jakarta", "Presiden"),
    ("TEMPO.CO, Jakarta - Presiden meresmikan bendungan.", "Jakarta", "Presiden"),
    ("Liputan6.com, Surabaya - Banjir melanda.", "Surabaya", "Banjir melanda"),
    ("WASHINGTON (Reuters) - The U.S. Senate voted.", "Washington", "The U.S. Senate"),
    ("Bandung – Wali kota membuka festival.", "Bandung", "Wali kota"),
    ("Warta Kita. Bogor — Wali kota membuka festival.", "Bogor", "Wali kota"),
])
def test_publication_prefix_and_dateline_are_split_from_the_lede(
    paragraph: str, dateline: str | None, lede: str
) -> None:
    found, rest = split_dateline(paragraph)
    assert found == dateline
    assert rest.startswith(lede)


@pytest.mark.parametrize("paragraph", [
    "Presiden Prabowo — yang baru dilantik — hadir di Bali.",
    "Harga cabai - yang naik tajam - membuat pedagang resah.",
    "Pada 2023–2024, harga beras naik dua kali.",
    "Menurut Budi, pasar ramai.",
])
def test_prose_with_dashes_is_not_a_dateline(paragraph: str) -> None:
    assert split_dateline(paragraph) == (None, paragraph)


# --------------------------------------------------------------------------- related, credits


@pytest.mark.parametrize(("line", "title", "url"), [
    ("Baca juga : Judul Berita Lain", "Judul Berita Lain", None),
    ("Baca Juga: Judul Berita Lain", "Judul Berita Lain", None),
    ("(BACA JUGA: Judul Berita Lain)", "Judul Berita Lain", None),
    ("Read also: Another Story", "Another Story", None),
    ("Baca juga: Harga BBM Naik (Lagi)", "Harga BBM Naik (Lagi)", None),
    ("Baca juga: Judul Lain https://rinews.example/berita/lain", "Judul Lain",
     "https://rinews.example/berita/lain"),
    ("Baca juga: [Judul Lain](https://rinews.example/b/1)", "Judul Lain",
     "https://rinews.example/b/1"),
])
def test_read_also_lines_become_related_links(line: str, title: str, url: str | None) -> None:
    parsed = parse_article_text(f"Lede berita yang cukup panjang.\n{line}\nParagraf berikutnya.")
    assert parsed.related == [RelatedLink(title=title, url=url)]
    assert parsed.body == ["Paragraf berikutnya."]


@pytest.mark.parametrize(("lines", "author", "editor"), [
    ("Pewarta : Anjar Bramantyo", "Anjar Bramantyo", None),
    ("Penulis: Rina Wati\nEditor: Budi Santoso", "Rina Wati", "Budi Santoso"),
    ("Reporter: Dimas | Redaktur: Sari", "Dimas", "Sari"),
    ("By John Smith", "John Smith", None),
    ("Reporting by John Smith; Editing by Jane Doe", "John Smith", "Jane Doe"),
])
def test_credit_lines_at_the_end_become_author_and_editor(
    lines: str, author: str, editor: str | None
) -> None:
    parsed = parse_article_text(f"Lede berita.\nParagraf kedua.\n{lines}")
    assert (parsed.author, parsed.editor) == (author, editor)
    assert parsed.body == ["Paragraf kedua."]


def test_a_byline_before_the_lede_is_not_mistaken_for_the_title() -> None:
    parsed = parse_article_text("By Jane Doe\nThe council voted on Tuesday.\nIt was close.")
    assert parsed.author == "Jane Doe"
    assert parsed.title is None
    assert parsed.lede == "The council voted on Tuesday."


def test_prose_starting_like_a_byline_stays_in_the_body() -> None:
    parsed = parse_article_text("Lede.\nOleh karena itu warga diminta waspada.\n"
                                "Written by hand, the letter was short.")
    assert parsed.author is None
    assert parsed.body == ["Oleh karena itu warga diminta waspada.",
                           "Written by hand, the letter was short."]


def test_republication_footers_are_removed() -> None:
    parsed = parse_article_text(
        "Lede berita.\nParagraf kedua.\n"
        'Artikel ini telah tayang di Kompas.com dengan judul "Judul Asli". '
        "Klik untuk baca: https://www.kompas.com/read/2024/01/01/judul\n"
        "Klik untuk baca: https://www.kompas.com/read/2024/01/01/judul\n"
        "Penulis : Rina\nEditor : Sari\n(ant/dwi)")
    assert parsed.body == ["Paragraf kedua."]
    assert (parsed.author, parsed.editor) == ("Rina", "Sari")


def test_markdown_links_in_ordinary_paragraphs_become_their_text() -> None:
    parsed = parse_article_text("Lede with [a link](https://x.example/a) inside.\nMore.")
    assert parsed.lede == "Lede with a link inside."


# --------------------------------------------------------------------------- headlines


def test_first_sentence_does_not_break_at_abbreviations_or_decimals() -> None:
    text = ("Dr. Budi dari Jl. Merdeka No. 5 menyebut inflasi 3,5 persen atau 3.5 poin naik. "
            "Kalimat kedua.")
    assert first_sentence(text) == ("Dr. Budi dari Jl. Merdeka No. 5 menyebut inflasi 3,5 persen"
                                    " atau 3.5 poin naik.")


def test_first_sentence_does_not_break_before_a_lowercase_word() -> None:
    assert first_sentence("Tiket 50 ribu/org. berlaku hari ini. Kedua.") == \
        "Tiket 50 ribu/org. berlaku hari ini."


def test_first_sentence_does_not_break_at_initials() -> None:
    assert first_sentence("J. K. Rowling wrote it in the U.S. in 1995. Then") == \
        "J. K. Rowling wrote it in the U.S. in 1995."


def test_derived_headline_drops_the_final_full_stop_and_keeps_a_question_mark() -> None:
    assert derive_headline("Banjir melanda Bekasi. Warga mengungsi.") == "Banjir melanda Bekasi"
    assert derive_headline("Siapa pemenangnya? Kita lihat.") == "Siapa pemenangnya?"


@pytest.mark.parametrize(("lede", "headline"), [
    # before the relative clause ("yang ...")
    ("Pemerintah provinsi mengumumkan rencana pembangunan jalan tol baru sepanjang dua ratus "
     "kilometer yang menghubungkan kota-kota di pesisir utara.",
     "Pemerintah provinsi mengumumkan rencana pembangunan jalan tol baru sepanjang dua ratus "
     "kilometer"),
    ("Tim SAR gabungan masih mencari tiga nelayan yang hilang setelah perahu mereka terbalik "
     "dihantam ombak setinggi empat meter di perairan selatan Pulau Jawa.",
     "Tim SAR gabungan masih mencari tiga nelayan yang hilang"),
    # at the first comma, before an aside
    ("The Bank of Indonesia raised its benchmark interest rate by 25 basis points on Wednesday, "
     "the first increase in a year, as the rupiah slid to its weakest level since 1998.",
     "The Bank of Indonesia raised its benchmark interest rate by 25 basis points on Wednesday"),
    # a place aside (", Jakarta Timur,") and a parenthesis go; then a cut before "dalam"
    ("Harga cabai rawit merah di Pasar Induk Kramat Jati, Jakarta Timur, turun dari Rp65.000 "
     "menjadi Rp50.000 per kilogram dalam sepekan terakhir seiring masuknya panen dari Jawa "
     "Tengah dan Jawa Timur.",
     "Harga cabai rawit merah di Pasar Induk Kramat Jati turun dari Rp65.000 menjadi Rp50.000 "
     "per kilogram"),
    ("Komisi Pemberantasan Korupsi (KPK) menahan Bupati Bogor, Kamis (26/11/2026).",
     "Komisi Pemberantasan Korupsi menahan Bupati Bogor"),
    # a list's commas are not clause ends
    ("Jakarta, Bogor, Depok, dan Tangerang terendam banjir setinggi satu meter pada Selasa pagi "
     "setelah hujan deras mengguyur wilayah itu sejak Senin malam tanpa henti.",
     "Jakarta, Bogor, Depok, dan Tangerang terendam banjir setinggi satu meter pada Selasa pagi"),
])
def test_long_first_sentences_give_headlines_cut_at_a_natural_point(
        lede: str, headline: str) -> None:
    assert derive_headline(lede) == headline
    assert len(headline) <= HEADLINE_MAX


def test_no_cut_inside_an_aside_opened_by_a_comma() -> None:
    headline = derive_headline(
        "President Joko Widodo, speaking in Jakarta on Monday, said the government would cut "
        "fuel subsidies gradually over the next three years to fund new schools in Papua.")
    assert headline != "President Joko Widodo, speaking in Jakarta on Monday"
    assert "said the government" in headline


def test_a_sentence_without_a_natural_cut_is_cut_at_a_word_with_an_ellipsis() -> None:
    sentence = " ".join(["panjang"] * 40) + "."
    headline = derive_headline(sentence)
    assert headline.endswith("panjang…")
    assert len(headline) <= HEADLINE_TARGET


def test_shorten_leaves_short_text_alone_and_hard_cuts_one_long_word() -> None:
    assert shorten("Pendek", 20) == "Pendek"
    assert shorten("x" * 30, 10) == "x" * 9 + "…"


# --------------------------------------------------------------------------- HTML


def test_html_entities_are_decoded() -> None:
    assert html_to_text("<p>Ekonomi &amp; bisnis&nbsp;&#8220;naik&#8221; &mdash; 5&nbsp;%</p>") \
        == "Ekonomi & bisnis “naik” — 5 %"


def test_html_paragraphs_breaks_and_lists_become_separate_paragraphs() -> None:
    html = ("<div><p>Satu <b>dua</b>\n tiga.</p><p>Empat.</p>Lima<br>Enam<br/>"
            "<ul><li>Tujuh</li><li>Delapan</li></ul></div>")
    assert html_to_text(html) == "Satu dua tiga.\n\nEmpat.\n\nLima\n\nEnam\n\nTujuh\n\nDelapan"


def test_html_scripts_styles_and_comments_are_dropped() -> None:
    html = ("<style>p{color:red}</style><p>Teks<!-- komentar --></p>"
            "<script>alert('x')</script><noscript>aktifkan JS</noscript>")
    assert html_to_text(html) == "Teks"


def test_html_links_are_kept_as_markdown_only_when_asked() -> None:
    html = '<p>Baca juga: <a href="/berita/lain">Berita Lain</a></p>'
    assert html_to_text(html) == "Baca juga: Berita Lain"
    assert html_to_text(html, base_url="https://rinews.example/rss", links=True) == \
        "Baca juga: [Berita Lain](https://rinews.example/berita/lain)"


def test_plain_text_given_to_html_to_text_keeps_its_lines() -> None:
    assert html_to_text("Satu &amp; dua\nTiga") == "Satu & dua\n\nTiga"


def test_first_image_skips_tracking_pixels_and_resolves_relative_addresses() -> None:
    html = ('<img src="https://t.example/p.gif" width="1" height="1">'
            '<p><img src="/foto/a.jpg"></p>')
    assert first_image(html, base_url="https://rinews.example/b/1") == \
        "https://rinews.example/foto/a.jpg"
    assert first_image("<p>tanpa gambar</p>") is None


def test_html_feed_item_parses_into_lede_related_and_credits() -> None:
    html = ("<p>Jakarta (ANTARA) - Presiden meresmikan bendungan baru.</p>"
            '<p>BACA JUGA: <a href="https://a.example/x">Bendungan Lain</a></p>'
            "<p>Bendungan itu mengairi 5.000 hektare sawah.</p>"
            "<p>Pewarta: Rina<br>Editor: Sari</p>")
    parsed = parse_article_text(html_to_text(html, links=True), title="Presiden Resmikan")
    assert parsed.dateline == "Jakarta"
    assert parsed.lede == "Presiden meresmikan bendungan baru."
    assert parsed.body == ["Bendungan itu mengairi 5.000 hektare sawah."]
    assert parsed.related == [RelatedLink(title="Bendungan Lain", url="https://a.example/x")]
    assert (parsed.author, parsed.editor) == ("Rina", "Sari")


# --------------------------------------------------------------------------- normalize, slugs


def test_normalize_fixes_line_ends_odd_spaces_and_stray_spaces_before_punctuation() -> None:
    text = "Satu\u00a0 dua  tiga , empat .\r\n  Lima\u2009( enam )\u200b\r\n\r\n\r\n\rTujuh ? "
    assert normalize(text) == "Satu dua tiga, empat.\nLima (enam)\n\nTujuh?"


def test_split_paragraphs_treats_every_non_empty_line_as_a_paragraph() -> None:
    assert split_paragraphs("Satu.\nDua.\n\n\nTiga.\n  \n") == ["Satu.", "Dua.", "Tiga."]


@pytest.mark.parametrize(("text", "slug"), [
    ("Harga Cabai Naik 20%!", "harga-cabai-naik-20"),
    ("Café Ünïcödé — Straße", "cafe-unicode-strasse"),
    ("Jum'at Berkah: «Bagi» Takjil", "jumat-berkah-bagi-takjil"),
    ("  --  ", ""),
])
def test_slugify_makes_lowercase_ascii_slugs(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slugify_cuts_at_a_word_boundary() -> None:
    slug = slugify("Akhir Era Pengendalian Nuklir: Dunia Memasuki Babak Perlombaan", max_len=30)
    assert slug == "akhir-era-pengendalian-nuklir"
    assert slugify("satu-dua", max_len=3) == "sat"
    assert slugify("satu dua", max_len=4) == "satu"


# --------------------------------------------------------------------------- language, markdown


def test_language_is_detected_from_common_words_and_defaults_when_unsure() -> None:
    assert detect_language("Warga yang tinggal di bantaran sungai dan di pesisir") == "id"
    assert detect_language("The mayor said that the river is rising in the city") == "en"
    assert detect_language("Jokowi Bali", default="id") == "id"
    assert parse_article_text("Jokowi ke Bali.").language == "en"
    assert parse_article_text("Hello there.", language="id").language == "id"


def test_markdown_joins_wrapped_lines_but_keeps_portal_style_lines() -> None:
    wrapped = "Ini paragraf yang\ndibungkus di tengah\nkalimat.\n\nParagraf dua."
    assert markdown_to_text(wrapped) == (
        "Ini paragraf yang dibungkus di tengah kalimat.\nParagraf dua.")
    portal = "Kalimat pertama selesai.\nKalimat kedua juga selesai."
    assert markdown_to_text(portal) == portal


def test_markdown_syntax_is_removed_but_links_survive_for_related_lines() -> None:
    markdown = ("# Judul Besar\n\n**Tebal** dan _miring_ dan snake_case_name. "
                "![foto](https://x.example/a.jpg)\n\n- satu\n- dua\n\n"
                "Baca juga: [Judul](https://x.example/z)")
    assert markdown_to_text(markdown) == ("Judul Besar\nTebal dan miring dan snake_case_name.\n"
                                          "satu\ndua\nBaca juga: [Judul](https://x.example/z)")


# --------------------------------------------------------------------------- real-world details


def test_a_photo_caption_is_not_taken_for_the_lede() -> None:
    text = html_to_text('<figure><img src="https://x.example/a.jpg"><figcaption>Foto: Dok. '
                        "Warner</figcaption></figure><p>Jakarta - Film itu tayang.</p>")
    assert text == "Jakarta - Film itu tayang."


def test_a_title_from_a_cms_loses_its_entities_and_tags() -> None:
    parsed = parse_article_text("Isi berita.", title="BBM Turun &#8212; <b>Pertamax</b> &amp; "
                                                     "Pertalite")
    assert parsed.title == "BBM Turun — Pertamax & Pertalite"
    assert parse_article_text("Isi.", title="AT&T & R&D").title == "AT&T & R&D"


@pytest.mark.parametrize("line", [
    "Related news: Indonesia to keep nickel ore export ban",
    "Related: Indonesia to keep nickel ore export ban",
    "Also read: Indonesia to keep nickel ore export ban",
    "Berita terkait: Indonesia to keep nickel ore export ban",
    "Baca pula: Indonesia to keep nickel ore export ban",
    "(BACA JUGA: Indonesia to keep nickel ore export ban)",
])
def test_related_story_lines_in_their_many_forms(line: str) -> None:
    parsed = parse_article_text(f"Jakarta - Lede pertama.\n{line}\nParagraf kedua.")
    assert parsed.related == [RelatedLink(title="Indonesia to keep nickel ore export ban")]
    assert parsed.body == ["Paragraf kedua."]


def test_a_shouting_wire_byline_is_written_as_a_name() -> None:
    parsed = parse_article_text("By NINIEK KARMINI\nJAKARTA, Indonesia (AP) — A volcano erupted "
                                "on Tuesday.\nNo casualties were reported.")
    assert parsed.author == "Niniek Karmini"
    assert parsed.dateline == "Jakarta, Indonesia"


def test_a_derived_headline_drops_emoji_but_keeps_degrees() -> None:
    assert derive_headline("Suhu 40°C 🔥🔥 melanda Jakarta. Warga diminta waspada.") == \
        "Suhu 40°C melanda Jakarta"


# --------------------------------------------------------------------------- issue 13 shapes


def test_a_dateline_on_its_own_line_joins_the_lede() -> None:
    parsed = parse_article_text("Pimpinan DPRD Usul TPU Baru\n\nJakarta\n\nSebagian besar "
                                "pemakaman di Jakarta penuh.\n\nParagraf kedua.")
    assert (parsed.title, parsed.dateline) == ("Pimpinan DPRD Usul TPU Baru", "Jakarta")
    assert parsed.lede == "Sebagian besar pemakaman di Jakarta penuh."
    glued = parse_article_text("Judul Berita Hari Ini\nMAKASSAR, KOMPAS.com\n– Sebanyak 35 jiwa "
                               "mengungsi.\nParagraf kedua.")
    assert (glued.dateline, glued.lede) == ("Makassar", "Sebanyak 35 jiwa mengungsi.")


@pytest.mark.parametrize(("paragraph", "dateline", "lede"), [
    ("TRIBUNNEWS.COM, JAKARTA - Polisi menangkap dua orang.", "Jakarta", "Polisi menangkap"),
    ("KOMPAS.com- Presiden meresmikan bendungan.", None, "Presiden meresmikan"),
    ("Liputan6.com, Jakarta - Harga cabai naik.", "Jakarta", "Harga cabai naik"),
    ("(Antara/PRNewswire) -- Turkish Airlines membuka rute baru.", None, "Turkish Airlines"),
    ("ISTANBUL, 23 Februari 2016 (Antara/PRNewswire) -- Pemerintah kota Cekmekoy meresmikan "
     "kontes.", "Istanbul", "Pemerintah kota"),
    ("TRIBUNSUMSEL.COM, SIDOARJO-Chacha Sherly mengalami kecelakaan di tol Semarang-Solo.",
     "Sidoarjo", "Chacha Sherly"),
    ("BRUSSELS (Reuters) -Aon is set to win approval.", "Brussels", "Aon is set"),
    ("JAKARTA (JP): The chaotic streets are calm.", "Jakarta", "The chaotic streets"),
])
def test_datelines_glued_to_a_publication(paragraph: str, dateline: str | None,
                                          lede: str) -> None:
    assert split_dateline(paragraph)[0] == dateline
    assert split_dateline(paragraph)[1].startswith(lede)


def test_a_byline_glued_to_the_dateline_is_the_editor_not_the_lede() -> None:
    parsed = parse_article_text("Editor Khairina KOMPAS.com- Presiden Joko Widodo meresmikan "
                                "bendungan baru.\nParagraf kedua.")
    assert parsed.editor == "Khairina"
    assert parsed.lede == "Presiden Joko Widodo meresmikan bendungan baru."
    assert "Khairina" not in parsed.headline


@pytest.mark.parametrize("furniture", [
    "8 months ago", "2 jam lalu", "Home > Berita > Nasional", "Headline", "Berita Terkait",
    "Populer", "Advertisement", "SCROLL TO CONTINUE WITH CONTENT", "Tim Redaksi",
    "Bagikan artikel", "(ANTARA FOTO/Raisan Al Farisi)", "Foto: Dok. Humas",
    "Kompas.com - 05/05/2022, 19:37 WIB",
])
def test_page_furniture_is_never_a_headline_or_a_lede(furniture: str) -> None:
    parsed = parse_article_text(f"{furniture}\nPolisi menangkap dua pencuri motor di Depok. "
                                "Keduanya diserahkan ke polsek.\nParagraf kedua.")
    assert parsed.lede.startswith("Polisi menangkap")
    assert furniture not in parsed.headline


@pytest.mark.parametrize(("line", "author", "editor"), [
    ("Laporan Wartawan Grid.ID, Rissa Indrasty", "Rissa Indrasty", None),
    ("Penulis: Endra Kurniawan | Editor: Sri Juliati", "Endra Kurniawan", "Sri Juliati"),
    ("Reporter: Dewi Lestari", "Dewi Lestari", None),
    ("Pewarta: Aris Wasita", "Aris Wasita", None),
    ("Penulis | : | Rissa Indrasty |", "Rissa Indrasty", None),
    ("(Reporting by Kane Wu in Hong Kong; Editing by Jacqueline Wong)", "Kane Wu",
     "Jacqueline Wong"),
])
def test_bylines_at_the_top_are_kept_as_credits_not_headline_or_slug(
        line: str, author: str, editor: str | None) -> None:
    parsed = parse_article_text(f"{line}\nGrid.ID - Komisi Penyiaran Indonesia menggelar "
                                "Anugrah KPI 2018.\nParagraf kedua.")
    assert (parsed.author, parsed.editor) == (author, editor)
    assert parsed.title is None
    assert parsed.headline.startswith("Komisi Penyiaran Indonesia")
    assert slugify(parsed.headline).startswith("komisi-penyiaran")


def test_initials_close_a_story_without_giving_a_name() -> None:
    parsed = parse_article_text("Lede berita ini.\nParagraf kedua selesai. (fyk/ash)")
    assert parsed.body == ["Paragraf kedua selesai."]
    assert parsed.author is None


def test_hard_wrapped_text_is_reflowed_before_it_is_read() -> None:
    parsed = parse_article_text(
        "PAKET DI JERMAN TERNYATA BUKAN ANTRAX\n\n"
        "Paket di Jerman yang dicurigai ternyata tidak berisi kuman antrax.\n"
        "Demikian hasil resmi penyidikan pemerintah seraya menambahkan bahwa\n"
        "yang ditemukan dalam paket tersebut adalah bakteri yang serupa dengan\n"
        "antrax dari jenis jinak.\n")
    assert parsed.title == "PAKET DI JERMAN TERNYATA BUKAN ANTRAX"
    assert parsed.lede.endswith("bakteri yang serupa dengan antrax dari jenis jinak.")


def test_sentences_broken_by_lost_links_are_joined() -> None:
    parsed = parse_article_text(
        "Judul Berita BPOM\nBadan POM menegaskan label itu sudah diverifikasi.\nKepala\nBPOM\n"
        "RI Taruna Ikrar menjelaskan, keterangan “\nair pegunungan\n” pada label\nAMDK\n"
        "bukan sekadar klaim.")
    assert parsed.body == ["Kepala BPOM RI Taruna Ikrar menjelaskan, keterangan “air "
                           "pegunungan” pada label AMDK bukan sekadar klaim."]


def test_a_story_on_one_line_is_cut_into_sentences_and_paragraphs() -> None:
    sentence = "Harga cabai rawit di pasar tradisional naik lagi pekan ini. "
    parsed = parse_article_text("JAKARTA - " + sentence * 12)
    assert parsed.lede == sentence.strip()
    assert parsed.body and all(len(p) < 400 for p in parsed.body)


def test_a_title_that_looks_like_markup_is_text() -> None:
    parsed = parse_article_text("<BBM> Naik & Turun Lagi\nHarga BBM naik.\nParagraf kedua.")
    assert parsed.title == "<BBM> Naik & Turun Lagi"
    assert parse_article_text("Isi.", title="<BBM> naik").title == "<BBM> naik"


def test_a_title_line_over_120_characters_is_still_the_title() -> None:
    title = ("Ratusan Warga Pesisir Utara Kota Semarang Mengungsi ke Balai Desa setelah Banjir "
             "Rob Setinggi 80 Sentimeter Merendam Permukiman")
    assert len(title) > 120
    parsed = parse_article_text(f"{title}\n\nSemarang - Ratusan warga mulai mengungsi.\n\nDua.")
    assert parsed.title == title


def test_split_sentences_is_the_one_place_for_sentence_ends() -> None:
    assert split_sentences("Dr. Budi dari Jl. Merdeka No. 5 datang. Ia pulang. "
                           "Harga naik 3,5 persen!") == [
        "Dr. Budi dari Jl. Merdeka No. 5 datang.", "Ia pulang.", "Harga naik 3,5 persen!"]
    assert "dr" in ABBREVIATIONS and "agt" in ABBREVIATIONS


# --------------------------------------------------------------------------- properties

_STORY = ["Polisi menangkap dua pencuri motor di Depok.", "Harga cabai naik 20 persen.",
          "The council voted on Tuesday.", "Dr. Budi dari Jl. Merdeka No. 5 datang.",
          "“Kami siap,” kata dia.", "Banjir merendam 300 rumah di Bekasi, Jawa Barat."]
_HEAD = ["8 months ago", "2 jam lalu", "Home > Berita > Nasional", "Headline", "Populer",
         "Advertisement", "Scroll to continue", "Tim Redaksi", "Berita Terkait",
         "Foto: Dok. Humas", "(ANTARA FOTO/Aprillio Akbar)", "Jakarta -", "KOMPAS.com -",
         "TRIBUNNEWS.COM, JAKARTA -", "Laporan Wartawan Grid.ID, Rissa Indrasty",
         "Penulis: A Budi | Editor: B Sari", "Pewarta: Aris Wasita", "(fyk/ash)",
         "Baca juga: Judul Lain", "Judul Berita Pilihan Hari Ini"]
_PREFIXES = ["", "JAKARTA, KOMPAS.com - ", "Liputan6.com, Jakarta - ", "(Antara/PRNewswire) -- ",
             "ISTANBUL, 23 Februari 2016 (Antara/PRNewswire) -- "]
_NOT_NEWS = [is_furniture, is_dateline_line, lambda t: credit_line(t) is not None,
             lambda t: byline(t) is not None]


@st.composite
def _news_texts(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A story with page furniture, datelines and bylines around it, lines or paragraphs."""
    head = draw(st.lists(st.sampled_from(_HEAD), max_size=5))
    sentences = draw(st.lists(st.sampled_from(_STORY), min_size=1, max_size=8))
    glue = draw(st.sampled_from(["\n", "\n\n", " "]))
    prefix = draw(st.sampled_from(_PREFIXES))
    tail = draw(st.lists(st.sampled_from(_HEAD), max_size=3))
    story = prefix + glue.join(sentences)
    return "\n".join([*head, story, *tail]), {s.split()[0] for s in _STORY}


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_article_text(text)
    assert isinstance(parsed.headline, str) and isinstance(parsed.lede, str)


@settings(max_examples=examples(300), deadline=None)
@given(_news_texts())
def test_the_lede_starts_at_a_sentence_and_is_never_furniture_or_credits(
        case: tuple[str, set[str]]) -> None:
    text, first_words = case
    parsed = parse_article_text(text)
    assert parsed.lede, text
    assert parsed.lede.split()[0] in first_words, (text, parsed.lede)
    for part in (parsed.lede, parsed.headline):
        assert not any(check(part) for check in _NOT_NEWS), (text, part)
    if parsed.title_derived:
        assert parsed.headline.split()[0] in first_words
