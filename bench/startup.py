"""How long a `distributor` command takes to start (issue 14): wall and CPU time of real
`python -m distributor ...` processes, the median of a few runs each.

    python bench/startup.py [--runs 5] [--checkout DIR]

A configuration like a newsroom's (Telegram, X, an email digest, the outbox; a folder of
article files; SQLite) is written into a temporary folder; `fetch` runs once before the
measures so that the database exists and `preview` has an article. ``--checkout`` measures
another copy of the code (another worktree: before and after a change, in one sitting).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, median

CONFIG = """\
site: {name: RI News Portal, url: https://rinews.example, language: id,
       timezone: Asia/Jakarta}
database: sqlite:///distributor.db
web: {base_url: http://localhost:8000, secret_key: bench-secret}
sources:
  - {name: newsroom, type: directory, path: articles/, every: 1m,
     url_template: "https://rinews.example/berita/{slug}"}
channels:
  - {name: telegram, type: telegram, publish: instant, chat_id: "@bench", token: "1:bench"}
  - {name: x, type: x, publish: instant, consumer_key: a, consumer_secret: b,
     access_token: c, access_token_secret: d}
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "RI News Portal <redaksi@rinews.example>"
    smtp: {host: localhost, port: 587, security: starttls}
  - {name: files, type: outbox, path: outbox/}
"""
ARTICLE = ROOT / "tests" / "articles" / "kompas-gempa-cianjur.txt"


def commands(article: Path) -> dict[str, list[str]]:
    return {
        "python (no distributor)": ["-c", "pass"],
        "--help": ["-m", "distributor", "--help"],
        "run --help": ["-m", "distributor", "run", "--help"],
        "subscribers add --help": ["-m", "distributor", "subscribers", "add", "--help"],
        "check": ["-m", "distributor", "check"],
        "fetch": ["-m", "distributor", "fetch"],
        "preview": ["-m", "distributor", "preview", str(article), "--channel", "files"],
        "articles list": ["-m", "distributor", "articles", "list"],
    }


def measure(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="the copy of distributor to measure (default: this one)")
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIBUTOR_")}
    env["PYTHONPATH"] = str(options.checkout.resolve())
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "channels.yaml").write_text(CONFIG, encoding="utf-8")
        (cwd / "articles").mkdir()
        article = Path(shutil.copy(ARTICLE, cwd / "articles"))
        measure(["-m", "distributor", "fetch"], cwd, env)  # the database, one article
        print(f"{'command':<26}{'wall s':>8}{'cpu s':>8}   ({options.runs} runs, median; "
              f"{options.checkout})")
        for name, args in commands(article).items():
            runs = [measure(args, cwd, env) for _ in range(options.runs)]
            print(f"{name:<26}{median([w for w, _ in runs]):>8.2f}"
                  f"{median([c for _, c in runs]):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
