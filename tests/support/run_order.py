"""How `pytest -n` spends two cores well: the longest tests first, and workers that end quickly.

A pytest plugin (loaded by tests/conftest.py). Measured with `make check` on an idle 2-core
machine, each part on its own (2026-12-03):

- **Long tests early, but spread out.** xdist hands each worker one test at a time, in
  collection order, so a long test handed out last ends the run alone (a 7-second X thread test
  ran 5 s past every other worker). The controller keeps how long each test took in pytest's
  cache (``.pytest_cache``, key :data:`KEY`); the next run hands out the tests that took longer
  than :data:`LONG` longest first, spread over the first :data:`SPREAD` of the others, which
  keep their files' order (a file's quick tests stay together). Most long tests wait (a
  timeout, a pacing, a process): all handed out first, they left both cores 75-95 % idle for
  15 s, then the quick ones crowded the cores (make check 55-57 s -> 50-51 s). A run without
  a cache (a fresh clone, CI) takes them from ``tests/durations.json``, the long tests of a run
  on this machine kept in the repository (``make durations`` writes it again from the cache).
- **No teardown of a worker's interpreter.** Once a worker has sent its last report, Python
  still frees its whole heap (2,000-3,000 modules) before the process ends, and five workers do
  it at once on two cores: 3-4 s between the last test and the end of the run. A worker ends
  with ``os._exit`` after the atexit handlers registered after this plugin (and after flushing
  its streams), when its results are with the controller.
- **Collected objects are frozen.** After collection a worker moves every object it has into
  the collector's permanent generation (``gc.freeze``): each full collection during the tests
  no longer walks the modules and test items (about 4 s of CPU in a run). At its end it
  freezes everything again, before pytest's last full collection (0.5 s of CPU a worker).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

#: the cache key of the durations (seconds per test id)
KEY = "distributor/durations"
#: a test that took longer than this (seconds, setup + call + teardown) is run early
LONG = 0.5
#: how long a test not in the durations is taken to last (most take 0.01-0.2 s)
SHORT = 0.1
#: the long tests start within this share of the others: most of them wait (a timeout, a
#: pacing, a process), so run all at once they leave both cores idle, then the short ones
#: crowd the cores at the end
SPREAD = 0.85
#: the long tests of one whole run, and per test file the mean of its other tests (a key
#: without "::"), kept in the repository for a run without a cache
SEED = Path(__file__).resolve().parents[1] / "durations.json"


def known_durations(config: pytest.Config) -> dict[str, float]:
    """How long each test took: tests/durations.json, then what this clone's cache says."""
    known: dict[str, float] = {}
    try:
        seed = json.loads(SEED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seed = {}
    if isinstance(seed, dict):
        known.update(seed)
    cache = getattr(config, "cache", None)  # none with -p no:cacheprovider
    cached = cache.get(KEY, {}) if cache is not None else {}
    if isinstance(cached, dict):
        known.update(cached)
    return known


def write_seed(cache: Path = SEED.parents[1] / ".pytest_cache" / "v" / KEY) -> int:
    """tests/durations.json from this clone's cache: the tests longer than :data:`LONG`."""
    cached = json.loads(cache.read_text(encoding="utf-8"))
    root = SEED.parents[1]
    texts: dict[str, str] = {}

    def exists(nodeid: str) -> bool:  # a test since moved or renamed is left out
        path, _, name = nodeid.partition("::")
        if path not in texts:
            file = root / path
            texts[path] = file.read_text(encoding="utf-8") if file.exists() else ""
        return f"def {name.split('[')[0]}(" in texts[path]

    kept = {nodeid: seconds for nodeid, seconds in cached.items() if exists(nodeid)}
    long = {nodeid: seconds for nodeid, seconds in kept.items() if seconds > LONG}
    others: dict[str, list[float]] = {}
    for nodeid, seconds in kept.items():
        if nodeid not in long:
            others.setdefault(nodeid.partition("::")[0], []).append(seconds)
    means = {path: round(sum(took) / len(took), 3) for path, took in others.items()}
    SEED.write_text(json.dumps({**long, **means}, indent=0, sort_keys=True) + "\n",
                    encoding="utf-8")
    return len(long)


def _in_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _end_without_teardown() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def pytest_configure(config: pytest.Config) -> None:
    if _in_worker(config):
        # registered first, so it runs last of the handlers registered from here on
        atexit.register(_end_without_teardown)
    config.stash[_durations] = {}


_durations = pytest.StashKey[dict[str, float]]()


def order(items: list[pytest.Item], durations: dict[str, float]) -> list[pytest.Item]:
    """The tests that took longer than :data:`LONG` spread over the first :data:`SPREAD` of
    the others (longest first, evenly by the others' durations: a test's own, else its file's
    mean, else :data:`SHORT`), the others in the order given.
    Stable: the same in every worker (xdist checks that they agree)."""
    long = [item for item in items if durations.get(item.nodeid, 0.0) > LONG]
    long.sort(key=lambda item: -durations[item.nodeid])
    chosen = {id(item) for item in long}
    rest = [item for item in items if id(item) not in chosen]
    if not long or not rest:
        return long + rest
    took = [durations.get(item.nodeid, durations.get(item.nodeid.partition("::")[0], SHORT))
            for item in rest]
    step = SPREAD * sum(took) / len(long)  # the others' seconds between two long tests
    ordered: list[pytest.Item] = []
    waiting = iter(long)
    clock, due = 0.0, 0.0
    for item, seconds in zip(rest, took, strict=True):
        while clock >= due:
            following = next(waiting, None)
            if following is None:
                due = float("inf")
                break
            ordered.append(following)
            due += step
        ordered.append(item)
        clock += seconds
    ordered.extend(waiting)
    return ordered


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _in_worker(config):
        return
    durations = known_durations(config)
    if durations:
        items[:] = order(items, durations)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _in_worker(session.config):
        gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A worker's results are sent: pytest's last full collection (for an unraisable
    exception nobody would see, as the process ends next) then walks nothing."""
    if _in_worker(config):
        gc.freeze()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In the controller (or a run without -n): the time of each phase, added up per test."""
    config = _config
    if config is None or _in_worker(config):
        return
    took = config.stash[_durations]
    took[report.nodeid] = took.get(report.nodeid, 0.0) + report.duration


_config: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _config
    _config = session.config


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    config = session.config
    cache = getattr(config, "cache", None)  # none with -p no:cacheprovider
    if _in_worker(config) or cache is None:
        return
    took = config.stash[_durations]
    if not took:
        return
    known = cache.get(KEY, {})
    if not isinstance(known, dict):
        known = {}
    known.update({nodeid: round(seconds, 3) for nodeid, seconds in took.items()})
    cache.set(KEY, known)


if __name__ == "__main__":  # make durations
    print(f"{SEED}: {write_seed()} tests longer than {LONG} s")
