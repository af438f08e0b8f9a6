"""``python startup_probe.py OUT.json '[["--help"], ["check"]]'``: runs each command line of
the distributor CLI in this one fresh process, in order, and writes for each its exit status,
its stdout, its stderr and the modules imported so far (``sys.modules``) into OUT.json.

What a command imports is then a fact to assert, not a time to measure (tests/system/
test_startup.py)."""

from __future__ import annotations

import contextlib
import io
import json
import sys


def main(out: str, argvs: list[list[str]]) -> None:
    from distributor.interfaces.cli import main as cli

    results = []
    for argv in argvs:
        stdout, stderr = io.StringIO(), io.StringIO()
        code: object = 0
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                cli(args=argv, prog_name="distributor")
            except SystemExit as exc:
                code = exc.code
        results.append({"argv": argv, "exit": code, "stdout": stdout.getvalue(),
                        "stderr": stderr.getvalue(),
                        "modules": sorted(sys.modules)})
    with open(out, "w", encoding="utf-8") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
