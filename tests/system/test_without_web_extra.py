"""`pip install distributor` without the [web] extra: check, fetch, preview, push and run work
with starlette and uvicorn missing (here: refused by an import blocker on PYTHONPATH), and
`serve` says in one line which extra to install."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_series_in_a_process

ROOT = Path(__file__).resolve().parents[2]
BLOCKER = '''\
import importlib.abc
import sys

BLOCKED = {"starlette", "uvicorn", "multipart", "python_multipart"}


class _NoWebExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoWebExtra())
'''


@pytest.fixture
def no_web(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "no-web-extra"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return {"PYTHONPATH": str(folder)}


def test_the_commands_run_without_starlette_and_serve_names_the_extra(
        write_config: Callable[..., Path], tmp_path: Path, no_web: dict[str, str]) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(ROOT / "tests/articles/kompas-gempa-cianjur.txt", articles)
    config = write_config(textwrap.dedent(f"""\
        sources:
          - name: newsroom
            type: directory
            path: {articles}
            url_template: https://rinews.example/berita/{{slug}}
            every: 1m
        channels:
          - name: files
            type: outbox
            path: {tmp_path / "outbox"}
        """))
    env = {**no_web, "PYTHONPATH": no_web["PYTHONPATH"] + ":" + str(ROOT)}
    blocked = subprocess.run([sys.executable, "-c", "import starlette"], env=env,
                             capture_output=True, text=True)
    assert blocked.returncode != 0 and "starlette" in blocked.stderr  # the blocker works

    # one process runs the commands one after the other (each as a fresh process would)
    check, fetch, preview, push, run, serve = run_series_in_a_process(
        ["--config", config, "check"], ["--config", config, "fetch"],
        ["--config", config, "preview", "1", "--channel", "files"],
        ["--config", config, "push", "1", "--channel", "files"],
        ["--config", config, "run", "--once"], ["--config", config, "serve"], env=env)

    def ok(done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 0, (done.args, done.stdout, done.stderr)
        assert "starlette" not in done.stderr
        return done.stdout

    assert "OK" in ok(check)
    assert "1 new" in ok(fetch)
    assert ok(preview).strip()
    assert "files: published" in ok(push)
    assert "sent 0" in ok(run)

    assert serve.returncode == 1
    assert serve.stderr.strip().splitlines() == [
        "error: serve needs the web extra (starlette is not installed): "
        "pip install 'distributor[web]'"]


def test_a_bluesky_channel_without_the_bluesky_extra_is_one_line_saying_what_to_install(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    folder = tmp_path / "no-bluesky-extra"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        BLOCKER.replace('{"starlette", "uvicorn", "multipart", "python_multipart"}',
                        '{"atproto", "atproto_client", "atproto_core", "regex"}'),
        encoding="utf-8")
    config = write_config(textwrap.dedent("""\
        channels:
          - name: bsky
            type: bluesky
            handle: rinews.bsky.social
            app_password: abcd-efgh-ijkl-mnop
        """))
    env = {"PYTHONPATH": f"{folder}:{ROOT}"}
    (check,) = run_series_in_a_process(["--config", config, "check"], env=env)
    assert check.returncode != 0
    assert "Traceback" not in check.stderr, check.stderr
    [line] = [x for x in check.stderr.splitlines() if "atproto" in x]
    assert "channels[0].type" in line or "channels[0]" in line, check.stderr
    assert "pip install 'distributor[bluesky]'" in line, check.stderr
