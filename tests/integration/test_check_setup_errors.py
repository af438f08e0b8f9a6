"""The mistakes found once channels.yaml has parsed (settings that cannot work together though
every key is valid) are said like the parser's: `error: FILE:LINE: key: what to do`, at the
line of the key they are about; a key the file does not write at the line of its nearest
section the file writes, else at the file alone with the key to add. `check` (exit 2; with
--log-format json the same lines, each a JSON object), `worker` of an embedded configuration,
and the commands that stop for a missing web.secret_key (`subscribers add`/`import`,
`serve`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Run = Callable[..., CompletedProcess[str]]

DAILY = """\
channels:
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "RI News Portal <redaksi@rinews.example>"
    smtp:
      host: localhost
"""
WEBHOOK_BOT = """\
channels:
  - name: breaking
    type: telegram
    chat_id: "@rinewsbreaking"
    token: ${TELEGRAM_BOT_TOKEN}
    editors: [1001]
    editor_bot: webhook
"""
TOKEN = {"TELEGRAM_BOT_TOKEN": "123456789:AAHtokenOfTheEditorBot0123456789"}
SECRET_LINKS = ("sends to subscribers, whose confirmation and unsubscribe links are signed "
                "with it; ")
WORKER_HINT = ("where `distributor run` does all the work and no worker is needed; to spread "
               "the work over workers, set execution: distributed and a PostgreSQL database")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def errors(result: CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def without(path: Path, *lines: str) -> Path:
    """The file without these lines (the fixture's site block always writes them)."""
    text = "".join(line for line in path.read_text().splitlines(keepends=True)
                   if line.rstrip("\n") not in lines)
    path.write_text(text)
    return path


def test_a_missing_secret_key_is_said_at_the_line_of_web(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = without(write_config(DAILY), "  secret_key: test-secret-key")
    result = run_cli("--config", path, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'web:')}: web.secret_key: not set, but channel daily "
        f"{SECRET_LINKS}add `secret_key: ${{DISTRIBUTOR_SECRET_KEY}}` under web: and export "
        "DISTRIBUTOR_SECRET_KEY"]
    assert "OK" not in result.stdout


def test_a_missing_secret_key_without_a_web_section_names_the_file_and_the_section_to_add(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = without(write_config(DAILY), "web:", "  base_url: http://localhost:8000",
                   "  secret_key: test-secret-key")
    result = run_cli("--config", path, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert errors(result) == [
        f"error: {path}: web.secret_key: not set, but channel daily {SECRET_LINKS}add a "
        "`web:` section with `secret_key: ${DISTRIBUTOR_SECRET_KEY}` under it and export "
        "DISTRIBUTOR_SECRET_KEY"]


def test_an_empty_secret_key_is_said_at_its_own_line(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    """`${DISTRIBUTOR_SECRET_KEY:-}` with the variable unset: `check` said OK, and the first
    confirmation mail failed for want of the key."""
    path = write_config(DAILY)
    path.write_text(path.read_text().replace("secret_key: test-secret-key",
                                             "secret_key: ${DISTRIBUTOR_SECRET_KEY:-}"))
    result = run_cli("--config", path, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'secret_key:')}: web.secret_key: empty, but channel "
        f"daily {SECRET_LINKS}write `secret_key: ${{DISTRIBUTOR_SECRET_KEY}}` under web: and "
        "export DISTRIBUTOR_SECRET_KEY"]


def test_a_webhook_bot_without_https_is_said_at_its_editor_bot_line_naming_base_urls(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(WEBHOOK_BOT)
    result = run_cli("--config", path, "check", env=TOKEN)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'editor_bot:')}: channels[0].editor_bot: channel "
        "breaking: webhook needs an https:// web.base_url that Telegram can reach (it is "
        f"http://localhost:8000 at line {line_of(path, 'base_url:')})"]
    # a base_url the file does not write: its default, and no line of its own
    default = without(path, "  base_url: http://localhost:8000")
    result = run_cli("--config", default, "check", env=TOKEN)
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'editor_bot:')}: channels[0].editor_bot: channel "
        "breaking: webhook needs an https:// web.base_url that Telegram can reach (it is "
        "http://localhost:8000)"]
    https = write_config(WEBHOOK_BOT, name="https.yaml")
    https.write_text(https.read_text().replace("http://localhost:8000", "https://rinews.example"))
    assert run_cli("--config", https, "check", env=TOKEN).returncode == 0


def test_a_webhook_bot_without_a_secret_key_is_said_at_the_line_of_web(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    """`serve` takes the webhook and stops without the key: `check` says so first."""
    path = write_config(WEBHOOK_BOT)
    path.write_text(path.read_text().replace("http://localhost:8000", "https://rinews.example"))
    without(path, "  secret_key: test-secret-key")
    result = run_cli("--config", path, "check", env=TOKEN)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'web:')}: web.secret_key: not set, but channel "
        "breaking's editor bot takes Telegram's updates through `distributor serve`, which "
        "does not start without it; add `secret_key: ${DISTRIBUTOR_SECRET_KEY}` under web: "
        "and export DISTRIBUTOR_SECRET_KEY"]


def test_distributed_mode_on_sqlite_is_said_at_the_line_of_execution(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config("execution: distributed\n")
    result = run_cli("--config", path, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [error] = errors(result)
    assert error.startswith(
        f"error: {path}:{line_of(path, 'execution:')}: execution: distributed needs a "
        "PostgreSQL database, but database is 'sqlite:///"), error
    assert error.endswith(
        f"; set `database:` in {path}:{line_of(path, 'database:')} (or "
        "DISTRIBUTOR_DATABASE_URL) to postgresql://user@host/dbname, or use execution: "
        "embedded"), error


def test_every_setup_error_at_once_in_the_order_of_the_file_and_the_same_with_json_logs(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = without(write_config(WEBHOOK_BOT + DAILY.removeprefix("channels:\n")
                                + "execution: distributed\n"), "  secret_key: test-secret-key")
    result = run_cli("--config", path, "check", env=TOKEN)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    said = errors(result)
    assert [line.split(": ")[1] for line in said] == [
        f"{path}:{line_of(path, 'web:')}", f"{path}:{line_of(path, 'editor_bot:')}",
        f"{path}:{line_of(path, 'execution:')}"]
    assert [line.split(": ")[2] for line in said] == [
        "web.secret_key", "channels[0].editor_bot", "execution"]
    as_json = run_cli("--log-format", "json", "--config", path, "check", env=TOKEN)
    assert as_json.returncode == 2
    records = [json.loads(line) for line in as_json.stderr.splitlines()]  # every line
    assert [(r["level"], r["message"]) for r in records] == [
        tuple(line.split(": ", 1)) for line in result.stderr.splitlines()]


def test_a_worker_of_an_embedded_configuration_names_the_line_of_execution(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config("execution: embedded\n")
    result = run_cli("--config", path, "worker")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path}:{line_of(path, 'execution:')} says execution: embedded, {WORKER_HINT}"]
    unset = without(path, "execution: embedded")
    result = run_cli("--config", unset, "worker")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path} has no execution: key, so execution: embedded (the default), "
        f"{WORKER_HINT}"]


@pytest.mark.parametrize("command", [["subscribers", "add", "pembaca@example.com", "--channel",
                                      "daily"],
                                     ["subscribers", "import", "list.csv", "--channel", "daily"],
                                     ["serve", "--port", "1"]])
def test_a_command_that_needs_the_secret_key_names_the_line_of_web(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path,
        command: list[str]) -> None:
    (tmp_path / "list.csv").write_text("email\npembaca@example.com\n")
    path = without(write_config(DAILY.replace("publish: digest\n    schedule: \"0 6 * * *\"",
                                              "publish: instant")),
                   "  secret_key: test-secret-key")
    result = run_cli("--config", path, *command, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors(result) == [
        f"error: {path}:{line_of(path, 'web:')}: web.secret_key is not set: subscriber links "
        "(confirmation, unsubscribe) and dashboard sessions are signed with it. Add "
        "`secret_key: ${DISTRIBUTOR_SECRET_KEY}` under web: in the configuration and `export "
        "DISTRIBUTOR_SECRET_KEY=$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')`; keep it: changing it breaks the unsubscribe "
        "links of mails already sent"]
