"""Benchmark: article files dropped into a folder, to posts on Telegram and X, end to end.

    python bench/social_latency.py [--articles 50] [--spaced 10] [--poll 5] [--every 5.5]

``distributor run`` (embedded: one process, SQLite) watches a folder of article files
(``every: --poll`` seconds) and publishes each article at once to a Telegram channel and to X,
each through its test double (tests/fakes: real HTTP servers speaking the Bot API and X API v2,
``api_base_url`` pointing at them). Real article text (tests/corpus, as .json files).

1. **Latency while the rate allows**: ``--spaced`` files are dropped one every ``--every``
   seconds (slower than either platform's ceiling; 5.5 s against polls every 5 s moves each
   drop half a second later in the poll's cycle, so ten drops cover the whole cycle). Per
   article: the time from the file appearing (renamed into the folder, whole) to the post
   reaching each double, and where it went: waiting for the poll that reads it (the
   article's ``first_seen`` in the store; a file younger than the source's ``settle`` second
   is left for the next poll, so it is never read half-written), then from that poll to each
   post. Goal: at most the poll interval plus 2 s.
2. **A long queue**: the other files are dropped at once. Per platform: the gaps between
   consecutive posts while the queue is long, against the platform's ceiling (the adapter's
   ``rate_per_minute``: Telegram 20 a minute in one channel, X 30 a minute, well inside X's
   15-minute window, which the double enforces with 429). Goal: the ceiling exactly: no post
   sooner than it allows (no 429) and no idle gap (the dispatcher paces from each post's own
   request, and makes the next one ready before its slot).

Only servers on 127.0.0.1 are contacted; the run is bounded by the files dropped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import corpus_articles  # noqa: E402
from fakes.telegram_api import FakeTelegram  # noqa: E402
from fakes.x_api import FakeX  # noqa: E402
from support.cluster import Cluster, process_env, wait_for  # noqa: E402

URL = "https://rinews.example/berita/bench-{n:03d}"


def config_text(folder: Path, database: str, poll: int, tg: FakeTelegram, x: FakeX) -> str:
    return f"""\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
database: {database}
sources:
  - name: newsroom
    type: directory
    path: {folder}
    every: {poll}s
    max_age: 30d
channels:
  - name: telegram
    type: telegram
    publish: instant
    chat_id: "{tg.channel.handle}"
    token: ${{TELEGRAM_BOT_TOKEN}}
    api_base_url: {tg.url}
  - name: x
    type: x
    publish: instant
    consumer_key: ${{X_API_KEY}}
    consumer_secret: ${{X_API_SECRET}}
    access_token: ${{X_ACCESS_TOKEN}}
    access_token_secret: ${{X_ACCESS_TOKEN_SECRET}}
    api_base_url: {x.url}
"""


def article_files(n: int) -> list[tuple[str, bytes]]:
    """``n`` article files (.json) of real text, each with its own URL."""
    out: list[tuple[str, bytes]] = []
    articles = list(corpus_articles(n))
    for i in range(n):
        article = articles[i % len(articles)]
        body = "\n\n".join([article.lede, *article.body])
        title = article.title if i < len(articles) else f"{article.title} ({i})"
        out.append((f"bench-{i:03d}.json", json.dumps(
            {"title": title, "url": URL.format(n=i), "body": body}, ensure_ascii=False)
            .encode("utf-8")))
    return out


def drop(folder: Path, name: str, data: bytes) -> float:
    """Write the file whole under a hidden name, then rename it in: the moment it appears."""
    hidden = folder / f".{name}.part"
    hidden.write_bytes(data)
    os.replace(hidden, folder / name)
    return time.time()


def posted_at(tg: FakeTelegram, x: FakeX) -> dict[str, dict[int, float]]:
    """When each article's first post reached each double (by the article's URL)."""
    found: dict[str, dict[int, float]] = {"telegram": {}, "x": {}}
    for call in tg.calls:
        if call.method in ("sendMessage", "sendPhoto") and call.status == 200:
            text = str(call.params.get("text") or call.params.get("caption") or "")
            for n in map(int, re.findall(r"bench-(\d{3})", text)):
                found["telegram"].setdefault(n, call.at)
    heads: dict[str, float] = {t.text: t.created_at for t in x.tweets}
    for tweet in x.tweets:  # the thread's head is the post of the article; its link may be
        # in a later part: find the article by any part, time it by the head
        for n in map(int, re.findall(r"bench-(\d{3})", tweet.text)):
            head = tweet
            while head.in_reply_to is not None:
                head = next(t for t in x.tweets if t.id == head.in_reply_to)
            found["x"].setdefault(n, heads[head.text])
    return found


def log_lines(output: str) -> list[tuple[float, str]]:
    """The scheduler's log (``--log-format json``): (time, message) per line."""
    out: list[tuple[float, str]] = []
    for line in output.splitlines():
        try:
            data = json.loads(line)
            out.append((datetime.fromisoformat(data["time"]).timestamp(), str(data["message"])))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def read_at(database: Path) -> dict[int, float]:
    """When the poll that read each dropped file began (the article's ``first_seen``)."""
    found: dict[int, float] = {}
    with closing(sqlite3.connect(database)) as db:
        for url, seen in db.execute("SELECT url, first_seen FROM articles"):
            match = re.search(r"bench-(\d{3})$", str(url))
            if match and seen:
                at = datetime.fromisoformat(str(seen))
                found[int(match.group(1))] = (at if at.tzinfo else at.replace(tzinfo=UTC)
                                              ).timestamp()
    return found


def breakdown(args: argparse.Namespace, dropped: dict[int, float],
              posts: dict[str, dict[int, float]], read: dict[int, float],
              lines: list[tuple[float, str]], first_calls: list[tuple[float, str]]) -> None:
    """Where the spaced drops' time went: the wait for the poll that read the file (its
    place in the poll's cycle, and the settle second), then the way to each post."""
    start = next((at for at, text in lines if text.startswith("running:")), None)
    print(f"\nwhere the time went (spaced drops; seconds after the file appeared; polls every "
          f"{args.poll} s)")
    print(f"{'article':>8} {'read':>6} {'telegram':>9} {'x':>6}   poll -> post: telegram, x")
    for n in range(args.spaced):
        if n not in read:
            print(f"{n:>8} (not read)")
            continue
        tg, x = (posts[p].get(n) for p in ("telegram", "x"))
        cells = [f"{t - dropped[n]:>{w}.2f}" if t else " " * (w - 1) + "-"
                 for t, w in ((tg, 9), (x, 6))]
        ways = ", ".join(f"{t - read[n]:.2f}" if t else "-" for t in (tg, x))
        print(f"{n:>8} {read[n] - dropped[n]:>6.2f} {cells[0]} {cells[1]}   {ways}")
    if start is not None:
        print("the first requests to the doubles, after the scheduler said it was running: "
              + ", ".join(f"{what} +{at - start:.2f} s" for at, what in first_calls))


def gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [b - a for a, b in itertools.pairwise(times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--spaced", type=int, default=10, help="files dropped one at a time")
    parser.add_argument("--every", type=float, default=5.5, help="seconds between them")
    parser.add_argument("--poll", type=int, default=5, help="the folder's poll interval (s)")
    args = parser.parse_args()

    from distributor.channels.telegram.adapter import TelegramAdapter
    from distributor.channels.x.adapter import XAdapter

    ceilings = {"telegram": 60.0 / float(TelegramAdapter.rate_per_minute or 1),
                "x": 60.0 / float(XAdapter.rate_per_minute or 1)}
    work = Path(tempfile.mkdtemp(prefix="distributor-social-"))
    folder = work / "articles"
    folder.mkdir()
    files = article_files(args.articles)
    with FakeTelegram() as tg, FakeX() as x:
        x.window_limit = int(15 * (XAdapter.rate_per_minute or 1))  # X's 15-minute window
        config = work / "channels.yaml"
        config.write_text(config_text(folder, f"sqlite:///{work / 'bench.db'}", args.poll, tg, x),
                          encoding="utf-8")
        env = process_env()
        env.update(TELEGRAM_BOT_TOKEN=tg.token, X_API_KEY=x.consumer_key,
                   X_API_SECRET=x.consumer_secret, X_ACCESS_TOKEN=x.access_token,
                   X_ACCESS_TOKEN_SECRET=x.access_token_secret,
                   PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
        dropped: dict[int, float] = {}
        with Cluster(config, env) as cluster:
            proc = cluster.start("--log-format", "json", "run")  # times in milliseconds
            wait_for(lambda: (work / "bench.db").exists(), 60, "the scheduler's store")
            time.sleep(args.poll + 1)  # it has polled the empty folder once
            print(f"distributor run (pid {proc.pid}) polls {folder} every {args.poll} s; "
                  f"Telegram double {tg.url}, X double {x.url}", flush=True)
            for i in range(args.spaced):
                dropped[i] = drop(folder, *files[i])
                time.sleep(args.every)
            long_queue_from = time.time()
            for i in range(args.spaced, args.articles):
                dropped[i] = drop(folder, *files[i])
            deadline = time.time() + 60 + args.articles * max(ceilings.values()) * 2
            while time.time() < deadline and not all(
                    len(v) >= args.articles for v in posted_at(tg, x).values()):
                time.sleep(1)
            cluster.stop(proc)
            lines = log_lines(cluster.output(proc))
            read = read_at(work / "bench.db")
            problems = [text for _, text in lines
                        if re.search(r"fail|refus|error|retry|unknown|skip|duplicate", text, re.I)]
        posts = posted_at(tg, x)
        first_calls = sorted([(c.at, f"Telegram {c.method}") for c in tg.calls[:3]]
                             + [(r.at, f"X {r.method} {r.path}") for r in x.requests[:2]])
        statuses = {"telegram": [c.status for c in tg.calls
                                 if c.method in ("sendMessage", "sendPhoto")],
                    "x": [r.status for r in x.requests if r.path == "/2/tweets"]}
        # an article is one delivery: on X a thread, whose parts follow each other at once
        x_posts = sorted(t.created_at for t in x.tweets if t.in_reply_to is None)
        parts = len(x.tweets)
    shutil.rmtree(work, ignore_errors=True)
    for name, found in posts.items():
        missing = sorted(set(dropped) - set(found))
        if missing:
            print(f"{name}: NOT POSTED: articles {missing}")
    for line in problems[:30]:
        print("log:", line)
    print(f"X: {parts} posts in {len(x_posts)} threads (one thread an article)")
    report(args, dropped, posts, statuses, ceilings, long_queue_from,
           {"telegram": sorted(c.at for c in tg.calls if c.method in ("sendMessage", "sendPhoto")
                               and c.status == 200), "x": x_posts})
    breakdown(args, dropped, posts, read, lines, first_calls)


def report(args: argparse.Namespace, dropped: dict[int, float],
           posts: dict[str, dict[int, float]], statuses: dict[str, list[int]],
           ceilings: dict[str, float], long_from: float, all_posts: dict[str, list[float]]
           ) -> None:
    goal = args.poll + 2
    print(f"\nper article: seconds from the file appearing to its post (goal while the rate "
          f"allows: <= poll {args.poll} s + 2 s = {goal} s)")
    print(f"{'article':>8} {'telegram':>9} {'x':>7}")
    for n in sorted(dropped):
        phase = "spaced" if n < args.spaced else "queue"
        cells = [f"{posts[p][n] - dropped[n]:>{w}.1f}" if n in posts[p] else " " * (w - 1) + "-"
                 for p, w in (("telegram", 9), ("x", 7))]
        print(f"{n:>8} {cells[0]} {cells[1]}  {phase}")
    for platform in ("telegram", "x"):
        spaced = [posts[platform][n] - dropped[n] for n in range(args.spaced)
                  if n in posts[platform]]
        queue = [t for t in all_posts[platform] if t >= long_from]
        g = gaps(queue)
        ceiling = ceilings[platform]
        too_soon = sum(1 for d in g if d < ceiling - 0.05)
        print(f"\n{platform}: spaced drops: latency median {statistics.median(spaced):.1f} s, "
              f"max {max(spaced):.1f} s (goal <= {goal} s)")
        per_minute = 60 * len(g) / (queue[-1] - queue[0])
        print(f"{platform}: long queue: {len(queue)} posts, gaps between posts median "
              f"{statistics.median(g):.3f} s, min {min(g):.3f} s, max {max(g):.3f} s; ceiling "
              f"{ceiling:.2f} s ({60 / ceiling:.0f}/min): {too_soon} sooner than it; answers "
              f"{sorted(set(statuses[platform]))}, 429: {statuses[platform].count(429)}; "
              f"{per_minute:.2f} posts a minute, {per_minute * ceiling / 60:.1%} of the ceiling")


if __name__ == "__main__":
    main()
