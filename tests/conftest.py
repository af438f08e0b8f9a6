"""Shared fixtures: real SQLite files, the real PostgreSQL, the webhook plugin, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# the order of the tests over pytest -n's workers, and workers that end quickly (see there);
# the newsroom of the retraction and correction tests (fixtures site, x and hook)
pytest_plugins = ["support.run_order", "support.correction_site"]

# CI draws the same examples on every run, so a landing never depends on luck; a developer's
# run draws new ones each time (and prints the example when one fails: keep it as a test)
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_9e063caa9953ea57.txt"
if not SEED.exists():  # a clone without shared/ beside it: the copy in examples/
    SEED = ROOT / "examples" / "articles" / "000_9e063caa9953ea57.txt"
PG_ADMIN = os.environ.get("DISTRIBUTOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", choices=("suite", "full"), default="suite",
                     help="sizes of the soak tests: suite (they fit the 3-minute suite) or "
                          "full (the sizes of issue 14, as bench/soak.py runs them)")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> Callable[[int, int], int]:
    """``soak(suite, full)``: the size a soak test runs at (``--soak full``: the big one)."""
    full = request.config.getoption("soak") == "full"
    return lambda suite, big: big if full else suite


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests (real processes, the browser, the soak tests) first: `pytest -n` hands
    them out before the quick ones, which then fill the gaps, instead of one long test ending
    the run alone on its worker. The order is the same in every worker (xdist checks it)."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)


#: tests that `pytest -n` runs on one worker, by what they share: one served site and one
#: browser; the package's syntax trees, parsed once a process (about 2 s); the atproto SDK,
#: imported once a process (about 3 s of CPU: its pydantic models). A test joins a group when
#: its module path ends with the key or its id holds one of the markers.
ONE_WORKER: dict[str, tuple[str, ...]] = {
    "system/test_dashboard_browser.py": (),
    "unit/test_architecture.py": (),
    "integration/test_channel_bluesky.py": ("[bluesky]",),
}


def shared_worker(nodeid: str) -> str | None:
    """The group of :data:`ONE_WORKER` a test belongs to, if any."""
    module = nodeid.split("::", 1)[0]
    for key, markers in ONE_WORKER.items():
        if module.endswith(key) or any(marker in nodeid for marker in markers):
            return key
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` as it should work: each test is handed out on its own, the groups of
    ONE_WORKER whole. (pytest-xdist 3.8 groups by renaming the node id, which pytest 9 no
    longer allows, so its xdist_group marks are ignored.)"""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_worker(nodeid) or nodeid

    return Scheduling(config, log)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Any]:
    """This process's databases on the real PostgreSQL server (tests/support/pg.py): clones of
    one migrated template, reused through a pool."""
    from support.pg import Databases

    try:
        databases = Databases(PG_ADMIN)
    except Exception as exc:
        if in_ci():
            raise RuntimeError(f"PostgreSQL must run in CI ({PG_ADMIN}): {exc}") from exc
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def pg_url(pg_databases: Any) -> Iterator[str]:
    """A database on the real PostgreSQL server with every migration applied and no rows (as
    a fresh one after its first start), for this test alone."""
    with pg_databases.migrated() as url:
        yield url


@pytest.fixture
def pg_empty_url(pg_databases: Any) -> Iterator[str]:
    """An empty database on the real PostgreSQL server: for a test of migrating from empty."""
    with pg_databases.empty() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once per run (the first worker of a
    `pytest -n` run makes it, under a lock; migrating takes about 2 s): a test's store is a
    copy of it (as a fresh one is after its first start, without migrating it again)."""
    import fcntl

    from distributor.store import open_store

    folder = run_folder(tmp_path_factory)
    path = folder / "sqlite-template.db"
    with (folder / "sqlite-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            making = folder / "sqlite-template.db.new"
            open_store(f"sqlite:///{making}").dispose()
            assert not making.with_name(making.name + "-wal").exists()
            making.rename(path)
    return path


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder this test run shares between its `pytest -n` workers (each worker's own
    temporary folder lies in it)."""
    folder = tmp_path_factory.getbasetemp()
    return folder.parent if os.environ.get("PYTEST_XDIST_WORKER") else folder


def migrated_sqlite(template: Path, path: Path) -> str:
    """The URL of a SQLite file at ``path`` with every migration applied and no rows."""
    import shutil

    if not path.exists():
        shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each store test runs on a real SQLite file and on the real PostgreSQL (both migrated,
    empty; ``empty_db_url`` for a test of migrating from empty)."""
    if request.param == "sqlite":
        return migrated_sqlite(sqlite_template, tmp_path / "store.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store with nothing in it yet, on SQLite and on PostgreSQL: for the tests of
    migrating from empty (``db_url``'s PostgreSQL databases are cloned already migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("pg_empty_url"))


# --------------------------------------------------------------------------- the plugin


WEBHOOK_PLUGIN = ROOT / "examples" / "plugins" / "distributor-webhook"


@pytest.fixture(scope="session")
def webhook_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The out-of-tree webhook plugin (examples/plugins/distributor-webhook), pip-installed
    from its folder into a folder of its own that tests and CLI processes put on their path.
    It is built from a copy, so the build leaves nothing in the example's folder. Under
    `pytest -n` the workers of a run share one install (the first builds it, under a lock)."""
    import fcntl
    import shutil

    folder = run_folder(tmp_path_factory)
    target = folder / "plugin-site"
    with (folder / "plugin-site.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".installed").exists():
            source = folder / "plugin-src" / WEBHOOK_PLUGIN.name
            shutil.rmtree(source.parent, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(WEBHOOK_PLUGIN, source,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                 "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                check=True, capture_output=True, text=True)
            (target / ".installed").touch()
    sys.path.insert(0, str(target))
    import importlib

    importlib.invalidate_caches()
    from distributor.registry import clear_cache

    clear_cache()
    return target


# --------------------------------------------------------------------------- configs and CLI

SITE = """\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
web:
  base_url: http://localhost:8000
  secret_key: test-secret-key
"""


@pytest.fixture
def write_config(tmp_path: Path, sqlite_template: Path) -> Callable[..., Path]:
    """Write a channels.yaml into tmp_path: site + database (by default a SQLite file in
    tmp_path, migrated) + the given YAML blocks."""

    def write(body: str, *, database: str | None = None, name: str = "channels.yaml") -> Path:
        db = database or migrated_sqlite(sqlite_template, tmp_path / "distributor.db")
        text = SITE + f"database: {db}\n" + textwrap.dedent(body)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_cli(webhook_plugin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `distributor ARGS` in this process with click's CliRunner (tests/support/cli.py):
    stdout, stderr and the exit status as a user sees them, the webhook plugin importable.
    An ``env`` with PYTHONPATH is about what the process can import, which only a process
    shows: that call runs `python -m distributor` (``timeout`` applies to it alone)."""
    from support.cli import run_in_process, run_process

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if env and "PYTHONPATH" in env:
            return run_process(*args, plugin_site=webhook_plugin, cwd=cwd, env=env,
                               input=input, timeout=timeout)
        return run_in_process(*args, cwd=cwd, env=env, input=input)

    return run


@pytest.fixture
def run_process(webhook_plugin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m distributor ARGS` as a real process (with the webhook plugin on its
    path): for a test whose point is the process itself."""
    from support.cli import run_process as run

    def run_it(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
               input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(*args, plugin_site=webhook_plugin, cwd=cwd, env=env, input=input,
                   timeout=timeout)

    return run_it


def cli_env(plugin_site: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `distributor` process: no DISTRIBUTOR_* from outside, the plugin
    importable."""
    from support.cli import process_env

    return process_env(plugin_site, extra)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Editors' passwords are hashed in the tests with argon2's profile for tests
    (``argon2.profiles.CHEAPEST``: the same argon2id code, 8 KiB and one pass) instead of the
    production cost (64 MiB, three passes, four lanes: up to a second per login on two busy
    cores). A `distributor serve` process keeps the real cost."""
    try:
        from distributor.interfaces.web import auth
    except ImportError:  # a run without the [web] extra
        yield
        return
    from argon2 import PasswordHasher, profiles

    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    patch = pytest.MonkeyPatch()
    patch.setattr(auth, "_hasher", cheap)
    patch.setattr(auth, "_DUMMY_HASH", cheap.hash("not anyone's password"))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI through a bare CliRunner leaves `setup_logging`'s handler (on
    a closed stream) and level on the root logger, and WARNING on the noisy libraries' loggers
    (a later test's caplog then saw nothing of tweepy): the next test inherits none of them."""
    import logging

    from distributor.logs import JsonFormatter, TextFormatter

    root = logging.getLogger()
    level = root.level
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
    yield
    root.handlers[:] = [h for h in root.handlers
                        if not isinstance(h.formatter, TextFormatter | JsonFormatter)]
    root.setLevel(level)
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if isinstance(lg, logging.Logger) and lg.level != levels.get(name, logging.NOTSET):
            lg.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture(autouse=True)
def _fresh_token_state() -> Iterator[None]:
    """What a process remembers of Telegram tokens (limiters, flood waits, moved chats) never
    leaks from one test into the next."""
    from distributor.channels.telegram.adapter import forget_token_state

    forget_token_state()
    yield
    forget_token_state()


@pytest.fixture
def tg() -> Iterator[Any]:
    """A real HTTP server that speaks the Telegram Bot API (tests/fakes/telegram_api.py)."""
    from fakes.telegram_api import FakeTelegram

    with FakeTelegram() as fake:
        yield fake
