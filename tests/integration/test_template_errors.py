"""A user's template that cannot be used is the user's mistake, said in one line, never a
traceback: a channel's `template:` that names no template, a template of the `templates:`
folder that Jinja cannot compile, a `templates:` folder that is not there. `check` finds each
at the line of its key (exit 2); `preview` (a file changed after `check`) says it in one line
with the file and line to fix (exit 1); a real `run --once` pauses the channel with that line
and keeps the delivery for when it is fixed (not `failed` as "a bug")."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Run = Callable[..., CompletedProcess[str]]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "articles" / \
    "2026-11-25-harga-cabai.json"
TOKEN = {"TELEGRAM_BOT_TOKEN": "123456789:AAHtokenOfTheEditorBot0123456789"}
FIX = "; fix it and run distributor check"
UNCLOSED = "unexpected end of template, expected 'end of print statement'."


def telegram(*, templates: str | None = None, template: str | None = None) -> str:
    return (f"templates: {templates}\n" if templates else "") + """\
channels:
  - name: telegram
    type: telegram
    chat_id: "@rinewsbreaking"
    token: ${TELEGRAM_BOT_TOKEN}
""" + (f"    template: {template}\n" if template else "")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def errors(result: CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def check(run_cli: Run, path: Path) -> CompletedProcess[str]:
    result = run_cli("--config", path, "check", "--dry-run")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "OK" not in result.stdout
    return result


def preview(run_cli: Run, path: Path) -> CompletedProcess[str]:
    result = run_cli("--config", path, "preview", EXAMPLE, "--channel", "telegram")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result


@pytest.fixture
def no_such_template(write_config: Callable[..., Path]) -> Path:
    return write_config(telegram(template="nosuch"))


@pytest.fixture
def broken_override(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    """The user's folder overrides the built-in Telegram post with a template Jinja cannot
    compile (an unclosed ``{{``)."""
    (tmp_path / "tpl" / "telegram").mkdir(parents=True)
    (tmp_path / "tpl" / "telegram" / "post.html").write_text(
        "<b>{{ article.title \n", encoding="utf-8")
    return write_config(telegram(templates="tpl/"))


@pytest.fixture
def missing_folder(write_config: Callable[..., Path]) -> Path:
    return write_config(telegram(templates="notthere/"))


# --------------------------------------------------------------------------- check


def test_check_says_a_template_that_names_no_template_at_the_line_of_template(
        no_such_template: Path, run_cli: Run) -> None:
    path = no_such_template
    assert errors(check(run_cli, path)) == [
        f"error: {path}:{line_of(path, 'template: nosuch')}: channels[0].template: channel "
        "telegram: no template nosuch in the built-in templates"]


def test_check_says_a_template_that_does_not_compile_with_its_file_and_line(
        broken_override: Path, run_cli: Run, tmp_path: Path) -> None:
    path = broken_override
    assert errors(check(run_cli, path)) == [
        f"error: {path}:{line_of(path, 'templates:')}: templates: "
        f"{tmp_path / 'tpl' / 'telegram' / 'post.html'}:1: Jinja cannot compile it: {UNCLOSED}"]


def test_check_says_a_templates_folder_that_is_not_there_at_the_line_of_templates(
        missing_folder: Path, run_cli: Run, tmp_path: Path) -> None:
    path = missing_folder
    assert errors(check(run_cli, path)) == [
        f"error: {path}:{line_of(path, 'templates:')}: templates: the folder "
        f"{tmp_path / 'notthere'} does not exist; create it or fix `templates:`"]


# --------------------------------------------------------------------------- preview


def test_preview_says_a_template_that_names_no_template_in_one_line(
        no_such_template: Path, run_cli: Run) -> None:
    path = no_such_template
    result = preview(run_cli, path)
    assert result.stderr.splitlines() == [
        "error: channel telegram: template nosuch: not found in the built-in templates "
        f"({path}:{line_of(path, 'template: nosuch')}){FIX}"]


def test_preview_says_a_template_that_does_not_compile_in_one_line(
        broken_override: Path, run_cli: Run, tmp_path: Path) -> None:
    result = preview(run_cli, broken_override)
    assert result.stderr.splitlines() == [
        f"error: channel telegram: template telegram/post.html: Jinja cannot compile it: "
        f"{UNCLOSED} ({tmp_path / 'tpl' / 'telegram' / 'post.html'}:1){FIX}"]


def test_preview_says_a_templates_folder_that_is_not_there_in_one_line(
        missing_folder: Path, run_cli: Run, tmp_path: Path) -> None:
    path = missing_folder
    result = preview(run_cli, path)
    assert result.stderr.splitlines() == [
        f"error: channel telegram: templates: the folder {tmp_path / 'notthere'} does not "
        f"exist ({path}:{line_of(path, 'templates:')}){FIX}"]


# --------------------------------------------------------------------------- a real run


def test_a_real_run_pauses_the_channel_and_keeps_the_delivery_not_failed_as_a_bug(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "articles")
    path = write_config(telegram(template="nosuch") + f"""\
sources:
  - name: files
    type: directory
    path: {tmp_path / "articles"}
    max_age: 3650d
""")
    reason = (f"template nosuch: not found in the built-in templates "
              f"({path}:{line_of(path, 'template: nosuch')}){FIX}")

    result = run_cli("--config", path, "run", "--once", env=TOKEN)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "a bug" not in result.stderr
    assert f"the channel is paused ({reason})" in result.stderr

    listed = run_cli("--config", path, "deliveries", "list", "--json", env=TOKEN)
    [delivery] = json.loads(listed.stdout)
    assert (delivery["state"], delivery["error"]) == ("retry", reason)
    channels = run_cli("--config", path, "channels", "list", env=TOKEN)
    assert f"paused: {reason}" in channels.stdout
