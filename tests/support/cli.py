"""`distributor ARGS` run inside the test process with click's CliRunner, as a user would see it
from a fresh process: stdout and stderr apart, the exit status, the environment and working
folder of the call, and a traceback on stderr when the command dies of one.

What a new process would not remember is put back after each call: the root logger's handlers
and level (``setup_logging`` replaces them), the loggers' filters and the secrets they redact,
the Telegram tokens' state, the registry's entry-point cache (looked up again, so a plugin put
on ``sys.path`` is found), the display time zone. In an async test (an event loop running in
this thread) the command runs in a thread of its own, since it calls ``asyncio.run``.

A test whose point is the process itself (signals, crashes, ``python -m distributor``,
workers, what is importable) starts one: :func:`run_process`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Args = str | os.PathLike[str]


def run_in_process(*args: Args, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                   input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``distributor ARGS`` in this process; the same result as :func:`run_process`."""
    argv = [str(a) for a in args]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _invoke(argv, cwd, env, input)
    with ThreadPoolExecutor(1, thread_name_prefix="distributor-cli") as pool:
        return pool.submit(_invoke, argv, cwd, env, input).result()


def run_process(*args: Args, plugin_site: Path | None = None, cwd: Path | None = None,
                env: Mapping[str, str] | None = None, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m distributor ARGS`` as a real process (``plugin_site`` on its path)."""
    return subprocess.run([sys.executable, "-m", "distributor", *map(str, args)], cwd=cwd,
                          env=process_env(plugin_site, env), input=input, capture_output=True,
                          text=True, timeout=timeout)


_SERIES = """\
import json, sys
sys.path.insert(0, sys.argv[1])
from support.cli import _invoke
done = [_invoke(argv, None, None, None) for argv in json.loads(sys.argv[2])]
print(json.dumps([[d.returncode, d.stdout, d.stderr] for d in done]))
"""


def run_series_in_a_process(*calls: list[Args], env: Mapping[str, str] | None = None,
                            cwd: Path | None = None, timeout: float = 120
                            ) -> list[subprocess.CompletedProcess[str]]:
    """Several ``distributor ARGS`` one after the other in ONE new process (each as
    :func:`run_in_process` runs it): for a test about what that process can import, at the
    cost of one process start instead of one per command."""
    import json

    argvs = [[str(a) for a in call] for call in calls]
    done = subprocess.run([sys.executable, "-c", _SERIES, str(Path(__file__).parents[1]),
                           json.dumps(argvs)], cwd=cwd, env=process_env(None, env),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"the series of commands died: {done.stderr[-3000:]}")
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    return [subprocess.CompletedProcess(["distributor", *argv], code, out, err)
            for argv, (code, out, err) in zip(argvs, answers, strict=True)]


def process_env(plugin_site: Path | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without DISTRIBUTOR_* from outside, ``plugin_site`` on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIBUTOR_")}
    if plugin_site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(plugin_site), env.get("PYTHONPATH", "")]
                                            ).strip(os.pathsep)
    env.update(extra or {})
    return env


def _invoke(argv: list[str], cwd: Path | None, env: Mapping[str, str] | None,
            input: str | None) -> subprocess.CompletedProcess[str]:
    from click.testing import CliRunner

    from distributor.interfaces.cli import main

    overrides: dict[str, str | None] = {k: None for k in os.environ
                                        if k.startswith("DISTRIBUTOR_")}
    overrides.update(env or {})
    with _as_a_new_process(cwd):
        result = CliRunner().invoke(main, argv, input=input, env=overrides,
                                    prog_name="distributor")
    stderr = result.stderr
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):  # as Python prints it
        stderr += "".join(traceback.format_exception(error))
    return subprocess.CompletedProcess(["distributor", *argv], result.exit_code,
                                       result.stdout, stderr)


@contextmanager
def _as_a_new_process(cwd: Path | None) -> Iterator[None]:
    from distributor import logs
    from distributor.channels.telegram.adapter import forget_token_state
    from distributor.interfaces.cli import common
    from distributor.registry import clear_cache

    loggers = _loggers()
    saved = {name: (lg.level, list(lg.filters), list(lg.handlers), lg.propagate)
             for name, lg in loggers.items()}
    redactors = {id(f): (f, set(f.secrets)) for lg in loggers.values() for f in lg.filters
                 if isinstance(f, logs.SecretFilter)}
    secrets = list(logs._filter.secrets)
    display_tz = common._DISPLAY_TZ
    here = os.getcwd()
    forget_token_state()
    clear_cache()
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(here)
        forget_token_state()
        common._DISPLAY_TZ = display_tz
        logs._filter.secrets = secrets
        for redactor, kept in redactors.values():
            redactor.secrets = kept
        for name, lg in _loggers().items():
            if name in saved:
                lg.level, filters, handlers, lg.propagate = saved[name]
                lg.filters[:], lg.handlers[:] = filters, handlers
            else:  # made during the call: keep it, without the call's redactors
                lg.filters[:] = [f for f in lg.filters if not isinstance(f, logs.SecretFilter)]
        logging.root.manager._clear_cache()  # the levels were set past setLevel


def _loggers() -> dict[str, Any]:
    found: dict[str, Any] = {"": logging.getLogger()}
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            found[name] = logger
    return found
