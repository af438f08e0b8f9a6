"""Benchmark: the digest fan-out against a raw aiosmtplib baseline, same server, same run.

    python bench/digest_fanout.py [--subscribers N] [--concurrency 8] [--database URL]

1. An aiosmtpd server runs in a process of its own (127.0.0.1, a free port); it accepts
   every message and keeps nothing.
2. A store (a fresh SQLite file unless --database) gets N confirmed subscribers and ten
   articles.
3. **Baseline** (its own process): 8 aiosmtplib connections send one pre-built digest mail
   (built once, never personalised) N times, one recipient per transaction.
4. **Ours** (its own process): ``run_digest`` exactly as ``distributor digest send`` runs it:
   plan, render once, build the MIME once, stream the subscribers from the store, personalise
   each mail (recipient, Message-ID, signed unsubscribe token), send over ``--concurrency``
   connections and write one send row per subscriber.
5. The baseline runs again after ours; the two baseline runs are averaged.

Prints messages per second of both, the ratio (goal: at least 0.9) and our peak memory
(maximum resident set size of our process; goal: under 200 MB at 100 000 subscribers).
Only addresses on this machine are contacted; every loop is bounded by N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENDER = "RI News Portal <redaksi@rinews.example>"


# --------------------------------------------------------------------------- the server


def serve() -> None:
    """The SMTP sink: prints its port, runs until stdin closes."""
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Sink.count += 1
            return "250 2.0.0 OK"

    class Free(Controller):
        def _trigger_server(self) -> None:
            assert self.server is not None
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Free(Sink(), hostname="127.0.0.1", port=0, data_size_limit=None)
    controller.start()
    print(controller.port, flush=True)
    sys.stdin.read()
    controller.stop()


# --------------------------------------------------------------------------- setup


def config_text(port: int, database: str, concurrency: int) -> str:
    return f"""\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
web:
  base_url: https://rinews.example
  secret_key: bench-secret-key
database: {database}
channels:
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "{SENDER}"
    concurrency: {concurrency}
    smtp:
      host: 127.0.0.1
      port: {port}
      security: none
"""


def seed(config_path: Path, n: int) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from distributor.articles import Article
    from distributor.configfile import load_config
    from distributor.ledger.ingest import store_article
    from distributor.ledger.subscribers import new_token_key
    from distributor.store import open_store
    from distributor.store.models import Subscriber

    config = load_config(config_path)
    store = open_store(config.database)
    now = datetime.now(UTC)
    with store.session() as session:
        for i in range(10):
            lede = (f"Lede berita nomor {i}: Moskow dan Beijing semakin mempertegas posisi "
                    "mereka sebagai penyeimbang utama tatanan internasional.")
            store_article(session, Article(
                source="bench", key=f"k{i}", url=f"https://rinews.example/berita/{i}",
                title=f"Judul berita nomor {i} yang cukup panjang", lede=lede,
                published=now - timedelta(minutes=30)), now=now - timedelta(minutes=30))
    chunk = 5000
    for start in range(0, n, chunk):
        rows = [{"channel": "daily", "email": f"reader{i}@example.org",
                 "email_key": f"reader{i}@example.org", "state": "confirmed",
                 "token_key": new_token_key(), "source": "import", "created_at": now,
                 "updated_at": now, "confirmed_at": now, "soft_bounces": 0}
                for i in range(start, min(n, start + chunk))]
        with store.session() as session:
            session.execute(insert(Subscriber), rows)
    store.dispose()


def prebuilt_mail(config_path: Path) -> bytes:
    from distributor.channels.email.mime import SMTP_POLICY
    from distributor.channels.email.personal import build_mime
    from distributor.configfile import load_config
    from distributor.engine.digests import plan_digest, render_plan
    from distributor.runtime import Runtime

    rt = Runtime.open(load_config(config_path))
    channel = rt.config.channel("daily")
    from datetime import UTC, datetime

    plan = plan_digest(rt, channel, until=datetime.now(UTC), period="bench")
    message = render_plan(rt, channel, plan)[0]
    rt.store.dispose()
    mail = build_mime(message, sender=SENDER, to="reader@example.org",
                      unsubscribe_token="1.abcdefghijkl.SIGNATURESIGNATURESIGNATURESIGNATURE00")
    return mail.as_bytes(policy=SMTP_POLICY)


# --------------------------------------------------------------------------- the two runs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def baseline(port: int, n: int, data: bytes, connections: int = 8) -> dict[str, float]:
    import aiosmtplib

    counter = iter(range(n))

    async def worker() -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        sent = 0
        for i in counter:
            await client.sendmail("redaksi@rinews.example", [f"reader{i}@example.org"], data)
            sent += 1
        await client.quit()
        return sent

    started = time.perf_counter()
    sent = sum(await asyncio.gather(*(worker() for _ in range(connections))))
    elapsed = time.perf_counter() - started
    return {"sent": sent, "elapsed": elapsed, "rate": sent / elapsed, "peak_mb": peak_mb()}


async def ours(config_path: Path) -> dict[str, float]:
    from sqlalchemy import func, select

    from distributor.configfile import load_config
    from distributor.engine.digests import run_digest
    from distributor.runtime import Runtime
    from distributor.store.models import EmailSend

    rt = Runtime.open(load_config(config_path))
    started = time.perf_counter()
    outcome = await run_digest(rt, rt.config.channel("daily"))
    elapsed = time.perf_counter() - started
    with rt.store.session() as session:
        rows = session.scalar(select(func.count()).select_from(EmailSend)) or 0
    await rt.close()
    if outcome.state != "sent":
        raise SystemExit(f"the digest was not sent: {outcome.state} {outcome.detail}")
    stats = outcome.stats
    return {"sent": stats["sent"], "rows": rows, "elapsed": elapsed,
            "fanout_elapsed": stats["elapsed"], "rate": stats["sent"] / elapsed,
            "fanout_rate": stats["rate"], "peak_mb": peak_mb()}


def child(*args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            check=False, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file); "
                                           "a PostgreSQL database must be empty")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=2, metavar=("PORT", "MAIL"), help=argparse.SUPPRESS)
    parser.add_argument("--ours", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve()
        return
    if args.baseline:
        data = Path(args.baseline[1]).read_bytes()
        print(json.dumps(asyncio.run(baseline(int(args.baseline[0]), args.subscribers, data))))
        return
    if args.ours:
        print(json.dumps(asyncio.run(ours(Path(args.ours)))))
        return

    n = args.subscribers
    workdir = Path(tempfile.mkdtemp(prefix="distributor-bench-"))
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        database = args.database or f"sqlite:///{workdir / 'bench.db'}"
        config_path = workdir / "channels.yaml"
        config_path.write_text(config_text(port, database, args.concurrency), encoding="utf-8")
        started = time.perf_counter()
        seed(config_path, n)
        print(f"{n:,} subscribers stored in {time.perf_counter() - started:.1f} s; "
              f"SMTP server (aiosmtpd) in process {server.pid} on 127.0.0.1:{port}")
        mail = workdir / "mail.eml"
        mail.write_bytes(prebuilt_mail(config_path))
        print(f"digest mail: {len(mail.read_bytes()):,} bytes, 10 articles")

        base1 = child("--baseline", str(port), str(mail), "--subscribers", str(n))
        print(f"baseline (aiosmtplib, 8 connections, pre-built mail): {base1['rate']:,.0f} "
              "messages/s")
        mine = child("--ours", str(config_path))
        print(f"ours (digest send, {args.concurrency} connections, personalised, send rows): "
              f"{mine['rate']:,.0f} messages/s ({mine['sent']:,.0f} sent, {mine['rows']:,} "
              f"send rows, {mine['elapsed']:.1f} s)")
        base2 = child("--baseline", str(port), str(mail), "--subscribers", str(n))
        print(f"baseline again: {base2['rate']:,.0f} messages/s")
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    base = (base1["rate"] + base2["rate"]) / 2
    ratio = mine["rate"] / base
    print()
    print(f"subscribers      {n:>12,}")
    print(f"ours             {mine['rate']:>12,.0f} messages/s")
    print(f"baseline         {base:>12,.0f} messages/s (mean of {base1['rate']:,.0f} and "
          f"{base2['rate']:,.0f})")
    print(f"ratio            {ratio:>12.2f}   (goal >= 0.90)")
    print(f"our peak memory  {mine['peak_mb']:>12.0f} MB (goal < 200 MB; baseline process "
          f"{base1['peak_mb']:.0f} MB)")
    if mine["rows"] != n or mine["sent"] != n:
        raise SystemExit("not every subscriber was served exactly once")
    if not args.database:
        for path in workdir.iterdir():
            path.unlink()
        os.rmdir(workdir)


if __name__ == "__main__":
    main()
