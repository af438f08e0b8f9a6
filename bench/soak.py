"""The soak tests at the sizes of issue 14: 500 articles over a scheduler and two workers, a
worker killed mid-way with 120 articles a channel, a digest to 5 000 subscribers over two
workers, 300 subscribers' digest over real `distributor digest send` processes, every article
of the text corpus posted to Mastodon, Bluesky, Discord and Slack.

    python bench/soak.py [pytest options]

The suite runs the same tests at sizes that fit its 3 minutes (tests/system/test_distributed.py
and test_digest_processes.py say which); this runs them with ``--soak full``. They need the
PostgreSQL server on 127.0.0.1:5432 (or $DISTRIBUTOR_TEST_PG).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/system/test_distributed.py", "tests/system/test_digest_processes.py",
         "tests/system/test_nothing_lost.py",
         "tests/integration/test_chat_channels_corpus.py"]


def main() -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--soak", "full",
               "--durations=10", *TESTS, *sys.argv[1:]]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
