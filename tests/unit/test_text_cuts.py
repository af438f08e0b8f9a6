"""The one cutting rule (distributor.text.cuts): where X posts, Telegram posts and captions,
digest summaries and subjects, and derived headlines may end."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples

from distributor.channels.x.render import split_text
from distributor.text.cuts import (
    CLAUSE,
    GLUE,
    QUOTED_CLAUSE,
    QUOTED_SENTENCE,
    QUOTED_WORD,
    SENTENCE,
    WORD,
    cut,
    lede_excerpt,
    sentences,
    tokenize,
)


def within(limit: int):  # type: ignore[no-untyped-def]
    return lambda text: len(text) <= limit


def gaps(text: str) -> dict[str, int]:
    tokens, breaks = tokenize(text)
    return dict(zip(tokens, breaks, strict=False))


# --------------------------------------------------------------------------- rating gaps


def test_gaps_inside_a_quotation_rate_below_any_gap_outside() -> None:
    rated = gaps("“Kami siap. Semua aman,” kata Kapolda. Warga tenang.")
    assert rated["siap."] == QUOTED_SENTENCE
    assert rated["Semua"] == QUOTED_WORD
    assert rated["aman,”"] == CLAUSE  # the quotation is closed: outside again
    assert rated["Kapolda."] == SENTENCE
    assert max(QUOTED_SENTENCE, QUOTED_CLAUSE, QUOTED_WORD) < WORD


def test_straight_quotes_and_one_word_quotations() -> None:
    rated = gaps('Dia menyebut "kerja sama, bukan dominasi." Lalu "strategis" saja, katanya.')
    assert rated['"kerja'] == QUOTED_WORD
    assert rated["sama,"] == QUOTED_CLAUSE
    assert rated['dominasi."'] == SENTENCE
    assert rated['"strategis"'] == WORD  # a one-word quotation has no gap inside


def test_a_stray_quotation_mark_does_not_make_the_rest_a_quotation() -> None:
    rated = gaps("Ukuran layar 6\" dan harga Rp 1.000. Warga antre, kata dia.")
    assert rated["1.000."] == SENTENCE and rated["antre,"] == CLAUSE


def test_numbers_abbreviations_and_currencies_are_glued() -> None:
    rated = gaps("Inflasi 3,5 persen kata Dr. Budi senilai Rp 1.000 di Jl. Sudirman No. 5 kini.")
    for token in ("3,5", "Dr.", "Rp", "1.000", "Jl.", "No.", "5"):
        assert rated[token] == GLUE, token


def test_sentence_ends_come_from_the_text_package() -> None:
    # "Sept." and initials are abbreviations there: no sentence ends after them
    assert sentences("Rapat digelar 3 Sept. 2026 oleh B.J. Habibie. Semua hadir.") == [
        "Rapat digelar 3 Sept. 2026 oleh B.J. Habibie.", "Semua hadir."]


def test_sentences_are_never_split_inside_a_quotation() -> None:
    assert sentences("“Kami siap. Semua aman,” kata dia. Warga tenang.") == [
        "“Kami siap. Semua aman,” kata dia.", "Warga tenang."]


# --------------------------------------------------------------------------- cutting


def test_a_cut_prefers_a_sentence_then_a_clause_then_a_word() -> None:
    text = "Banjir merendam kota. Warga mengungsi ke masjid, sekolah dan balai desa terdekat."
    assert cut(text, within(40)) == "Banjir merendam kota. …"
    assert cut(text, within(70)) == "Banjir merendam kota. Warga mengungsi ke masjid…"
    assert cut("Warga mengungsi ke masjid sekolah dan balai desa", within(30)) == \
        "Warga mengungsi ke masjid…"
    assert cut(text, within(len(text))) == text


def test_a_cut_never_falls_inside_a_quotation_when_it_can_fall_outside() -> None:
    text = ("Kapolda menegaskan, “Kami siap mengamankan seluruh rangkaian acara. Semua aman "
            "terkendali sampai akhir pekan,” di Mapolda.")
    shortened = cut(text, within(100))
    assert shortened == "Kapolda menegaskan…"


def test_a_quotation_longer_than_the_room_is_cut_and_closed_again() -> None:
    text = "“Kami siap mengamankan seluruh rangkaian acara. Semua aman terkendali sampai " \
           "akhir pekan nanti,” kata Kapolda."
    assert cut(text, within(60)) == "“Kami siap mengamankan seluruh rangkaian acara. …”"
    assert cut("“" + "kata " * 30 + "akhir”", within(30)) == "“kata kata kata kata kata…”"


@pytest.mark.parametrize("glued", ["3,5 persen", "Rp 1.000", "Dr. Budi", "12.500 warga"])
def test_a_cut_never_separates_a_number_or_abbreviation_from_its_word(glued: str) -> None:
    for filler in range(1, 30):
        text = "x" * filler + " " + glued + " " + "lagi " * 10
        shortened = cut(text, within(filler + len(glued) - 1))
        assert glued.split()[0] not in shortened or glued in shortened, shortened


def test_a_cut_never_leaves_a_word_hanging_that_introduces_the_next() -> None:
    text = "Moskow dan Beijing semakin mempertegas posisi mereka sebagai penyeimbang utama"
    assert cut(text, within(62)) == "Moskow dan Beijing semakin mempertegas posisi mereka…"
    assert cut("The rise of the yen", within(15)) == "The rise…"


def test_a_word_longer_than_everything_is_cut_by_characters() -> None:
    assert cut("a" * 50, within(10)) == "a" * 9 + "…"
    assert cut("a" * 50, within(0)) == ""


# --------------------------------------------------------------------------- the lede of a post


def test_the_lede_excerpt_is_one_or_two_whole_sentences() -> None:
    one, two, three = "Kalimat pertama.", "Kalimat kedua yang lebih panjang.", "Ketiga."
    text = f"{one} {two} {three}"
    assert lede_excerpt(text, 600) == f"{one} {two}"
    assert lede_excerpt(text, 40) == one
    long_first = "Kalimat pertama yang sangat panjang, dengan anak kalimat, " + "kata " * 200
    excerpt = lede_excerpt(long_first, 600)
    assert len(excerpt) <= 600 and excerpt.endswith("…")
    assert lede_excerpt("", 600) == ""


# --------------------------------------------------------------------------- X threads


def test_a_single_post_has_no_numbering_even_when_numbering_is_on() -> None:
    # 270 of 280: it fits alone, though not with a "1/2" reserved
    text = " ".join(["abcdefghi"] * 27)
    assert split_text(text, numbering=True) == [text]


def test_posts_of_a_thread_end_outside_quotations() -> None:
    quote = "“" + " ".join(["kata"] * 20) + ",” ujar dia."
    text = " ".join(["Kalimat pembuka yang cukup panjang untuk mengisi."] * 4) + " " + quote
    for post in split_text(text * 2, numbering=False, max_posts=10):
        opened = post.count("“") - post.count("”")
        assert opened == 0, post


# --------------------------------------------------------------------------- rating a beginning

_WORDS = ["kata", "Barat.", "Dia", "“kutipan", "panjang,”", '"kata', 'dia."', "3,5", "Dr.",
          "persen", "—", "aman,", "“", "”"]


@settings(max_examples=examples(200), deadline=None, database=None)
@given(words=st.lists(st.sampled_from(_WORDS), max_size=400),
       most=st.integers(min_value=1, max_value=300))
def test_rating_a_beginning_rates_it_as_the_whole_text_does(words: list[str], most: int) -> None:
    text = " ".join(words)
    tokens, breaks = tokenize(text)
    head_tokens, head_breaks = tokenize(text, most)
    assert head_tokens == tokens[:len(head_tokens)]
    assert head_breaks[:len(head_tokens) - 1] == breaks[:len(head_tokens) - 1]
    assert len(head_tokens) >= min(most, len(tokens))
