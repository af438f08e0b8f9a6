"""What the benches share: the SMTP sink in a process of its own, a process's CPU time and
peak memory measured the honest way, real article text from tests/corpus, the median.

Peak memory is the process's own high-water mark (``VmHWM`` of /proc/self/status), not
``ru_maxrss``: Linux keeps ``ru_maxrss`` across ``execve``, so a child started from a launcher
that had loaded the store reports the launcher's size, not its own.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """This process's peak resident set size (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def corpus_articles(n: int, *, source: str = "bench", now: datetime | None = None
                    ) -> Iterator[Any]:
    """Up to ``n`` real articles from tests/corpus (article files only, not feeds), read by the
    project's own directory source, in a fixed order."""
    from distributor.sources.base import SourceError
    from distributor.sources.directory import load_article_file

    now = now or datetime.now(UTC)
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".txt", ".md", ".json")
                   and p.with_suffix(".yaml").exists())  # an article, not the README
    found = 0
    for path in files:
        if found >= n:
            return
        try:
            article = load_article_file(
                path, source=source, root=CORPUS, now=now,
                url_template="https://rinews.example/berita/{slug}")
        except SourceError:
            continue
        found += 1
        yield article


# --------------------------------------------------------------------------- the SMTP sink


def serve_sink() -> None:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message and keeps nothing but
    counts. Prints its port, then answers ``stats`` lines on stdin with one JSON line
    (messages, bytes, its CPU seconds); stops when stdin closes."""
    from aiosmtpd.controller import Controller

    class Sink:
        messages = 0
        size = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Sink.messages += 1
            Sink.size += len(envelope.original_content or b"")
            return "250 2.0.0 OK"

    class Free(Controller):
        def _trigger_server(self) -> None:
            assert self.server is not None
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Free(Sink(), hostname="127.0.0.1", port=0, data_size_limit=None)
    controller.start()
    print(controller.port, flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps({"messages": Sink.messages, "bytes": Sink.size,
                              "cpu": cpu_seconds()}), flush=True)
    controller.stop()


class SinkProcess:
    """The sink, started as ``python <script> --serve`` (the script calls :func:`serve_sink`)."""

    def __init__(self, script: str):
        self.process = subprocess.Popen([sys.executable, script, "--serve"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stats(self) -> dict[str, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def child(script: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python script args`` and return the JSON object on its last stdout line."""
    result = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                            check=False, timeout=7200, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))
