"""Issue 15, item 5 (the rest): files still being written. `run --once` waits for them as
`fetch` does (one wait, in ledger/ingest.py) and posts them in the same run, saying it
waited; files that settle later than that are announced for the next poll; the long-running
`run` reads them at a later poll after the line "N files are still being written"."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from support.cluster import Cluster, process_env, wait_for
from support.folder_runs import article, folder_to_outbox, posted

Cli = Callable[..., CompletedProcess[str]]


def test_run_once_right_after_a_copy_waits_for_the_files_and_posts_them(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    article(tmp_path / "articles", "lama.txt", "Berita Lama")
    article(tmp_path / "articles", "baru.txt", "Berita Baru", settled=False)
    result = run_cli("--config", write_config(folder_to_outbox(settle="1s")), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "source newsroom: 2 new, 0 known" in result.stdout, result.stdout
    assert "sent 2," in result.stdout, result.stdout
    assert "source newsroom: waiting 1 s for 1 file still being written" in result.stderr
    assert "still being written; the next poll" not in result.stderr + result.stdout
    assert len(posted(tmp_path / "outbox")) == 2


def test_run_once_announces_files_that_settle_later_for_the_next_poll(
        write_config: Callable[..., Path], tmp_path: Path, run_cli: Cli) -> None:
    article(tmp_path / "articles", "lama.txt", "Berita Lama")
    for name in ("a.txt", "b.txt"):
        article(tmp_path / "articles", name, f"Berita {name}", settled=False)
    result = run_cli("--config", write_config(folder_to_outbox(settle="45s")), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "source newsroom: 1 new, 0 known" in result.stdout, result.stdout
    lines = [line for line in result.stderr.splitlines() if "still being written" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith("source newsroom: 2 files are still being written; the next poll "
                             "reads them")
    assert len(posted(tmp_path / "outbox")) == 1


def test_run_reads_a_file_being_written_at_a_later_poll_after_saying_so(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = write_config(folder_to_outbox(every="1s", settle="5s"))
    (tmp_path / "articles").mkdir()
    with Cluster(config, process_env()) as cluster:
        run = cluster.scheduler()  # `distributor run`, embedded

        def said() -> str:
            return cluster.output(run)

        wait_for(lambda: "running:" in said() or run.poll() is not None, what=said)
        path = article(tmp_path / "articles", "banjir.txt", "Banjir Jakarta", settled=False)

        def still_written() -> bool:
            """It keeps changing until a poll has said it is still being written."""
            os.utime(path)
            return "1 file is still being written" in said() or run.poll() is not None

        wait_for(still_written, what=said)
        assert not posted(tmp_path / "outbox")
        wait_for(lambda: posted(tmp_path / "outbox") or run.poll() is not None, what=said)
        assert run.poll() is None, said()
        cluster.stop(run)
        text = said()
    assert "Traceback" not in text, text
    assert ("source newsroom: 1 file is still being written; the next poll reads them"
            in text), text
    assert text.index("still being written") < text.index("new article"), text
    assert len(posted(tmp_path / "outbox")) == 1
