"""A command starts without importing what it does not use (issue 14: each `distributor`
process paid about 2 s of imports before doing anything; the suite starts about 70).

Real processes (tests/support/startup_probe.py). No timings: what a command imports is the
measure, so a heavy import that creeps back into the start of a command fails here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.cli import process_env

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "support" / "startup_probe.py"

#: every command and sub-command of the command line (Contract 2 of DESIGN.md), as before the
#: sub-commands were loaded lazily
COMMANDS: dict[str, list[str]] = {
    "": ["articles", "channels", "check", "correct", "db", "deliveries", "digest", "editors",
         "fetch", "preview", "push", "retract", "run", "serve", "sources", "subscribers", "worker"],
    "articles": ["list"],
    "channels": ["list", "resume"],
    "sources": ["list"],
    "db": ["upgrade"],
    "deliveries": ["list", "resolve", "retry"],
    "digest": ["add", "preview", "remove", "send"],
    "editors": ["add", "list", "remove"],
    "subscribers": ["add", "bounce", "export", "import", "list", "remove"],
}

#: what a command's help needs none of: the store, the configuration's models, the platforms,
#: the plugin API's rendering and HTTP, the web server, the queue, the scheduler
NOT_FOR_HELP = {"sqlalchemy", "alembic", "pydantic", "yaml", "telegram", "tweepy", "requests",
                "httpx", "markdown_it", "email_validator", "jinja2", "babel", "apscheduler",
                "starlette", "uvicorn", "procrastinate", "psycopg", "asyncio",
                "distributor.config", "distributor.plugin", "distributor.store",
                "distributor.runtime", "distributor.engine", "distributor.services"}

#: what neither check, fetch nor preview uses: the web server, the queue of distributed mode,
#: the editor bot, the validation of subscribers' addresses
NOT_FOR_LIGHT_COMMANDS = {"starlette", "uvicorn", "procrastinate", "email_validator",
                          "distributor.services.editors", "distributor.engine.distributed"}


def probe(*argvs: list[str], cwd: Path) -> list[dict[str, object]]:
    """Each command line run in turn in one new process: exit status, stdout, modules."""
    out = cwd / "probe.json"
    done = subprocess.run([sys.executable, str(PROBE), str(out), json.dumps(list(argvs))],
                          cwd=cwd, env=process_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    results: list[dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))
    return results


def imported(result: dict[str, object], names: set[str]) -> set[str]:
    """Which of ``names`` (packages, or modules with their sub-modules) were imported."""
    modules = result["modules"]
    assert isinstance(modules, list)
    return {name for name in names
            if any(m == name or m.startswith(name + ".") for m in modules)}


def listed_commands(help_text: str) -> list[str]:
    """The command names under ``Commands:`` of a group's help."""
    lines = help_text.split("Commands:\n", 1)[1].splitlines()
    return [line.split()[0] for line in lines if line.startswith("  ") and line.split()
            and not line.startswith("   ")]


def test_help_lists_every_command_and_imports_neither_store_nor_configuration_nor_platforms(
        tmp_path: Path) -> None:
    groups = probe(*([*path.split(), "--help"] for path in COMMANDS), cwd=tmp_path)
    for path, result in zip(COMMANDS, groups, strict=True):
        assert result["exit"] == 0, result
        assert listed_commands(str(result["stdout"])) == COMMANDS[path], path
    assert imported(groups[-1], NOT_FOR_HELP) == set()


def test_every_commands_help_imports_neither_store_nor_configuration_nor_platforms(
        tmp_path: Path) -> None:
    leaves = [[name] for name in COMMANDS[""] if name not in COMMANDS] + [
        [group, name] for group, names in COMMANDS.items() if group for name in names]
    results = probe(*([*argv, "--help"] for argv in leaves), cwd=tmp_path)
    for argv, result in zip(leaves, results, strict=True):
        assert result["exit"] == 0, result
        assert str(result["stdout"]).startswith(f"Usage: distributor {' '.join(argv)} "), argv
    assert imported(results[-1], NOT_FOR_HELP) == set()


def test_check_leaves_the_store_out_and_no_light_command_imports_server_queue_or_bot(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    article = shutil.copy(ROOT / "tests/articles/kompas-gempa-cianjur.txt", tmp_path / "articles")
    config = str(write_config("""\
        sources:
          - {name: newsroom, type: directory, path: articles/, every: 1m,
             url_template: "https://rinews.example/berita/{slug}"}
        channels:
          - {name: files, type: outbox, path: outbox/}
        """))
    check, fetch, preview = probe(
        ["--config", config, "check"], ["--config", config, "fetch"],
        ["--config", config, "preview", str(article), "--channel", "files", "--json"],
        cwd=tmp_path)
    assert [check["exit"], fetch["exit"], preview["exit"]] == [0, 0, 0]
    assert "OK (1 sources, 1 channels)" in str(check["stdout"])
    assert "1 new" in str(fetch["stdout"])
    assert json.loads(str(preview["stdout"]))["channel"] == "files"
    assert imported(check, {"sqlalchemy", "alembic", "distributor.store"}
                    | NOT_FOR_LIGHT_COMMANDS) == set()
    assert imported(preview, NOT_FOR_LIGHT_COMMANDS) == set()  # after all three


def test_a_mistyped_command_is_answered_with_the_closest_names(tmp_path: Path) -> None:
    top, sub = probe(["chanels"], ["digest", "sendd"], cwd=tmp_path)
    assert top["exit"] == sub["exit"] == 2
    assert "No such command 'chanels'. Did you mean 'channels'?" in str(top["stderr"])
    assert "No such command 'sendd'. Did you mean 'send'?" in str(sub["stderr"])


def test_a_mistake_in_the_configuration_is_said_before_the_store_is_imported(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = str(write_config("""\
        channels:
          - {name: files, type: outbox, path: outbox/, publsh: instant}
        """))
    results = probe(["--config", config, "fetch"], ["--config", config, "run", "--once"],
                    ["--config", config, "preview", "1", "--channel", "files"],
                    ["--config", config, "push", "1"], cwd=tmp_path)
    for result in results:
        assert result["exit"] == 2, result
        assert "channels[0].publsh" in str(result["stderr"]), result
    assert imported(results[-1], {"sqlalchemy", "alembic", "distributor.store"}) == set()
