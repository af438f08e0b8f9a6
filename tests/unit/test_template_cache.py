"""Compiled templates are shared by every Templates of the process, and an edited template is
compiled again."""

from __future__ import annotations

from pathlib import Path

from distributor.render import Templates


def test_an_edited_template_of_the_newsroom_is_compiled_again(tmp_path: Path) -> None:
    (tmp_path / "card.txt").write_text("Berita: {{ title }}\n", encoding="utf-8")
    assert Templates(tmp_path).render("card.txt", title="Banjir") == "Berita: Banjir"

    (tmp_path / "card.txt").write_text("Kabar: {{ title }}\n", encoding="utf-8")

    assert Templates(tmp_path).render("card.txt", title="Banjir") == "Kabar: Banjir"


def test_two_folders_with_a_template_of_the_same_name_each_render_their_own(
        tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "card.txt").write_text(f"{name}: {{{{ title }}}}\n", encoding="utf-8")

    rendered = [Templates(tmp_path / name).render("card.txt", title="x") for name in "ab"]

    assert rendered == ["a: x", "b: x"]
