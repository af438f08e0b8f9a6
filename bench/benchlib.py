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


class _Counts:
    messages = 0
    size = 0


class LeanSmtp:
    """A minimal SMTP server as an asyncio protocol: EHLO/HELO, MAIL, RCPT, RSET, NOOP, DATA,
    QUIT; every message accepted, counted (bytes as received, dot-stuffing included), dropped.
    It finds the end of a message by searching the buffer, not line by line as aiosmtpd does,
    so it needs a fraction of aiosmtpd's CPU per mail: the client, not the sink, is then what
    a run measures."""

    #: seconds each reply waits, as the round trip to a server across a network would
    delay = 0.0

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.in_data = False
        self.scanned = 0
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def reply(self, data: bytes, *, close: bool = False) -> None:
        if self.delay:
            import asyncio

            asyncio.get_running_loop().call_later(self.delay, self._send, data, close)
        else:
            self._send(data, close)

    def _send(self, data: bytes, close: bool) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if close:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def eof_received(self) -> bool:
        return False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n", max(0, self.scanned - 4))
                if end < 0:
                    self.scanned = len(self.buffer)
                    return
                _Counts.messages += 1
                _Counts.size += end + 2
                del self.buffer[:end + 5]
                self.in_data, self.scanned = False, 0
                self.reply(b"250 2.0.0 OK\r\n")
                continue
            newline = self.buffer.find(b"\r\n")
            if newline < 0:
                return
            verb = bytes(self.buffer[:4]).upper()
            del self.buffer[:newline + 2]
            if verb == b"EHLO":
                self.reply(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.reply(b"250 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.reply(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.reply(b"221 bye\r\n", close=True)
                return
            else:
                self.reply(b"500 unknown command\r\n")


def serve_lean(delay: float = 0.0) -> None:
    """:class:`LeanSmtp` on 127.0.0.1, with the protocol of :func:`serve_sink` on stdin;
    ``delay``: seconds each reply waits (a network's round trip)."""
    import asyncio
    import threading

    LeanSmtp.delay = delay
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(LeanSmtp, "127.0.0.1", 0))
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=loop.run_forever, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps({"messages": _Counts.messages, "bytes": _Counts.size,
                              "cpu": cpu_seconds()}), flush=True)
    loop.call_soon_threadsafe(loop.stop)


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
    """The sink, started as ``python <script> --serve KIND`` (the script calls
    :func:`serve_sink` for ``aiosmtpd``, :func:`serve_lean` for ``lean``)."""

    def __init__(self, script: str, kind: str = "aiosmtpd", delay: float = 0.0):
        self.kind = kind
        self.process = subprocess.Popen([sys.executable, script, "--serve", kind,
                                         "--sink-delay", str(delay)],
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
