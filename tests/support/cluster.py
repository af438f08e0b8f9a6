"""Real processes of distributed mode for tests and benchmarks: a scheduler (`distributor run`)
and workers (`distributor worker`), started with their own environment, stopped by their pid.

    with Cluster(config, env) as cluster:
        cluster.scheduler()
        cluster.worker("--concurrency", "2")
        ...
    cluster.output(proc)  # what a process wrote on stderr
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def process_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test process: no DISTRIBUTOR_* from outside."""
    return {k: v for k, v in (base or os.environ).items() if not k.startswith("DISTRIBUTOR_")}


class Cluster:
    def __init__(self, config: Path, env: dict[str, str]):
        self.config = config
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: dict[int, Path] = {}
        self._folder = Path(tempfile.mkdtemp(prefix="distributor-cluster-"))

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = self._folder / f"{len(self.procs)}-{args[0]}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config",
                                     str(self.config), *args], env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self._logs[proc.pid] = log
        return proc

    def scheduler(self, *args: str) -> subprocess.Popen[bytes]:
        return self.start("run", *args)

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        return self.start("worker", *args)

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return self._logs[proc.pid].read_text(encoding="utf-8", errors="replace")

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        """SIGTERM, then wait; SIGKILL if it does not end in time."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return int(proc.returncode)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate: Callable[[], object], timeout: float = 60,
             what: str | Callable[[], str] = "") -> None:
    """Wait until ``predicate()`` is true (a readiness wait, not a timing); ``what`` says what
    was awaited (a function: called when the wait fails, e.g. a process's log)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out waiting{': ' + said if said else ''}")
        time.sleep(0.1)
