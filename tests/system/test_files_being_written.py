"""Issue 15, item 5 (the rest): files still being written. `run --once` waits for them as
`fetch` does (one wait, in ledger/ingest.py) and posts them in the same run, saying it
waited; files that settle later than that are announced for the next poll; the long-running
`run` reads them at a later poll after the line "N files are still being written"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from support.web import serve_env

Cli = Callable[..., CompletedProcess[str]]
BODY = "JAKARTA — Banjir masih menggenangi sejumlah kawasan di ibu kota pada Kamis pagi.\n"


def config_for(write_config: Callable[..., Path], extra: str = "") -> Path:
    return write_config(f"""\
sources:
  - name: newsroom
    type: directory
    path: articles/
    url_template: https://rinews.example/berita/{{slug}}
{extra}channels:
  - name: files
    type: outbox
    path: outbox/
""")


def article(folder: Path, name: str, title: str, *, settled: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n\n{BODY}", encoding="utf-8")
    if settled:
        old = time.time() - 60
        os.utime(path, (old, old))
    return path


def posted(outbox: Path) -> list[Path]:
    return sorted(outbox.rglob("*.json")) if outbox.exists() else []


def test_run_once_right_after_a_copy_waits_for_the_files_and_posts_them(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    article(tmp_path / "articles", "lama.txt", "Berita Lama", settled=True)
    article(tmp_path / "articles", "baru.txt", "Berita Baru", settled=False)
    result = run_cli("--config", config_for(write_config), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "source newsroom: 2 new, 0 known" in result.stdout, result.stdout
    assert "sent 2," in result.stdout, result.stdout
    assert "source newsroom: waiting 1 s for 1 file still being written" in result.stderr
    assert "still being written; the next poll" not in result.stderr + result.stdout
    assert len(posted(tmp_path / "outbox")) == 2


def test_run_once_announces_files_that_settle_later_for_the_next_poll(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    article(tmp_path / "articles", "lama.txt", "Berita Lama", settled=True)
    for name in ("a.txt", "b.txt"):
        article(tmp_path / "articles", name, f"Berita {name}", settled=False)
    result = run_cli("--config", config_for(write_config, "    settle: 45s\n"), "run",
                     "--once")
    assert result.returncode == 0, result.stderr
    assert "source newsroom: 1 new, 0 known" in result.stdout, result.stdout
    lines = [line for line in result.stderr.splitlines() if "still being written" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith("source newsroom: 2 files are still being written; the next poll "
                             "reads them")
    assert len(posted(tmp_path / "outbox")) == 1


def test_run_reads_a_file_being_written_at_a_later_poll_after_saying_so(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = config_for(write_config, "    every: 1s\n    settle: 5s\n")
    (tmp_path / "articles").mkdir()
    log_path = tmp_path / "run.log"

    def said() -> str:
        return log_path.read_text(errors="replace")

    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                                 "run"], stdout=out, stderr=subprocess.STDOUT, env=serve_env())
    try:
        wait_for(lambda: "running:" in said() or proc.poll() is not None, said)
        path = article(tmp_path / "articles", "banjir.txt", "Banjir Jakarta", settled=False)
        # still being written: it keeps changing until a poll has said so
        wait_for(lambda: os.utime(path) or "1 file is still being written" in said()
                 or proc.poll() is not None, said)
        assert not posted(tmp_path / "outbox")
        wait_for(lambda: bool(posted(tmp_path / "outbox")) or proc.poll() is not None, said)
        assert proc.poll() is None, said()
    finally:
        proc.terminate()
        proc.wait(30)
    text = said()
    assert "Traceback" not in text, text
    assert ("source newsroom: 1 file is still being written; the next poll reads them"
            in text), text
    assert text.index("still being written") < text.index("new article"), text
    assert len(posted(tmp_path / "outbox")) == 1


def wait_for(predicate: Callable[[], object], said: Callable[[], str],
             timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout  # a readiness wait, not a timing
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {said()}")
        time.sleep(0.05)
