"""Distributed mode's throughput: deliveries a second with 1, 2 and 4 worker processes.

    python bench/distributed.py [--channels 8] [--articles 40] [--latency 0.05] [--workers 1,2,4]

Each round gets a fresh PostgreSQL database (on 127.0.0.1:5432, or $DISTRIBUTOR_TEST_PG's
server), ``distributor db upgrade``, ``--articles`` articles stored and one delivery planned per
(article, channel) over ``--channels`` Telegram channels, each on its own test Bot API server
(tests/fakes/telegram_api.py, a real HTTP server) that answers every post ``--latency`` seconds
late, as a real platform does. Then N ``distributor worker --concurrency 1`` processes drain
them; the rate is the deliveries divided by the time from the first post to the last, as the
servers saw them. Pacing is raised for the run (as the tests do) so that the latency, not the
20-posts-a-minute rule, is what a worker waits on. The baseline is the 1-worker round of the same
run; the scaling ratio is each round's rate over it.

Each channel is sent by one worker at a time (its lock), so more channels than workers are
needed for workers to overlap; the CPU (all processes share this machine) is the ceiling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.telegram_api import FakeTelegram  # noqa: E402
from support.cluster import Cluster, process_env, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("DISTRIBUTOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

SITE = """\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
web:
  base_url: http://localhost:8000
  secret_key: bench-secret-key
execution: distributed
"""


def create_database() -> tuple[str, str]:
    import psycopg

    name = f"distributor_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_round(workers: int, *, channels: int, articles: int, latency: float,
              folder: Path) -> tuple[int, float]:
    """(deliveries, seconds from the first post to the last) with ``workers`` workers."""
    from distributor.articles import Article
    from distributor.configfile import load_config
    from distributor.ledger.deliveries import plan_deliveries
    from distributor.ledger.ingest import store_article
    from distributor.runtime import Runtime

    servers = [FakeTelegram().start() for _ in range(channels)]
    name, url = create_database()
    try:
        for server in servers:
            server.delay(latency, times=10 * articles, process_first=False)
        config = folder / f"bench-{workers}.yaml"
        config.write_text(SITE + f"database: {url}\nchannels:\n" + "".join(
            f"  - name: tg{i}\n    type: telegram\n    chat_id: \"{s.channel.handle}\"\n"
            f"    token: \"{s.token}\"\n    api_base_url: {s.url}\n    timeout: 10\n"
            f"    rate_per_minute: 600000\n"
            for i, s in enumerate(servers)), encoding="utf-8")
        env = process_env()
        subprocess.run([sys.executable, "-m", "distributor", "--config", str(config), "db",
                        "upgrade"], env=env, check=True, capture_output=True)
        rt = Runtime.open(load_config(config))
        now = datetime.now(UTC)
        with rt.store.session() as session:
            for i in range(articles):
                store_article(session, Article(
                    source="bench", key=f"a{i}", title=f"Berita bench {i:04d}",
                    url=f"https://rinews.example/bench/{i}",
                    lede=f"Jakarta — Isi berita nomor {i} untuk mengukur kecepatan.",
                    published=now - timedelta(minutes=30) + timedelta(seconds=i)), now=now)
        planned = plan_deliveries(rt, now=now + timedelta(seconds=1))
        rt.store.dispose()
        with Cluster(config, env) as cluster:
            procs = [cluster.worker("--concurrency", "1", "--stalled-after", "30")
                     for _ in range(workers)]
            time.sleep(1.5)  # workers up before the jobs arrive: start-up is not measured
            subprocess.run([sys.executable, "-m", "distributor", "--config", str(config), "run",
                            "--once"], env=env, check=True, capture_output=True)
            wait_for(lambda: sum(len(s.messages) for s in servers) >= planned, timeout=600,
                     what="every delivery sent")
            for proc in procs:
                cluster.stop(proc)
        calls = [c.at for s in servers for c in s.calls if c.method.lower() == "sendmessage"]
        sent = sum(len(s.messages) for s in servers)
        assert sent == planned, (sent, planned)
        # the first answer arrives `latency` after the first request: count from there
        return sent, max(calls) - min(calls) + latency
    finally:
        for server in servers:
            server.stop()
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in counts:
            sent, seconds = one_round(workers, channels=args.channels, articles=args.articles,
                                      latency=args.latency, folder=Path(tmp))
            results.append((workers, sent, seconds, sent / seconds))
            print(f"{workers} worker(s): {sent} deliveries in {seconds:.2f} s = "
                  f"{sent / seconds:.1f}/s", flush=True)
    base = results[0][3]
    print(f"\n{args.channels} channels, {args.latency * 1000:.0f} ms per request, "
          f"{os.cpu_count()} CPUs; baseline = {counts[0]} worker(s) in the same run")
    print("| workers | deliveries/s | scaling vs baseline |")
    print("| --- | --- | --- |")
    for workers, _, _, rate in results:
        print(f"| {workers} | {rate:.1f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
