"""Benchmark: the digest fan-out against a raw aiosmtplib loop, same sink, same mail size,
same connection count, in the same run.

    python bench/digest_fanout.py [--articles 10] [--subscribers 20000] [--concurrency 8]
                                  [--repeat 3] [--sink aiosmtpd|lean] [--database URL]
                                  [--only ours]

1. An SMTP server runs in a process of its own on 127.0.0.1 and accepts every message; it
   counts messages, bytes and its own CPU time, so both sides are measured by what reached
   the wire. ``aiosmtpd`` (the tests' server) reads a message line by line and needs more CPU
   per mail than either client: on a busy machine it, not the client, sets the pace, and
   ratios drift towards 1. ``--sink lean`` (benchlib.LeanSmtp) is a minimal SMTP server that
   needs a fraction of that, so the client's own cost shows.
2. A store (a fresh SQLite file unless --database) gets ``--subscribers`` confirmed
   subscribers, written straight into it in bounded batches, and ``--articles`` real articles
   from tests/corpus read by the project's directory source (real text, not filler).
3. **Raw** (a fresh process each time): ``--concurrency`` aiosmtplib connections send a ready
   mail of exactly our mail's bytes (one subscriber's mail as ``digest send`` builds it), with
   only a token of the same length spliced into it per mail, one recipient per transaction.
4. **Ours** (a fresh process each time): ``run_digest`` exactly as ``distributor digest send``
   runs it: plan, render once, build the MIME once, stream the subscribers from the store,
   personalise each mail (recipient, Message-ID, signed unsubscribe token), send over
   ``--concurrency`` connections, write one send row per subscriber. Its rate is counted over
   the whole call (planning and the last send row included).
5. Rounds alternate raw, ours, raw, ours, ... raw (``--repeat`` rounds); each round's ratio is
   ours over the mean of the raw runs either side of it; the median round is reported. The
   machine is shared, so ratios taken side by side are what to trust, not absolute rates.

Prints bytes per mail, mails per second, CPU time per mail of each side's process (and the
sink's share of a core: a saturated sink hides the client's cost) and our peak memory (VmHWM).
Goals: ours >= 0.95 x raw, our CPU per mail <= 1.2 x raw's, peak memory < 150 MB.
Only addresses on this machine are contacted; every loop is bounded by the subscriber count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import SinkProcess, child, corpus_articles, cpu_seconds, median, peak_mb  # noqa: E402

SENDER = "RI News Portal <redaksi@rinews.example>"
SECRET = "bench-secret-key"
BATCH = 5000  # subscribers written per insert


def config_text(port: int, database: str, concurrency: int) -> str:
    return f"""\
site:
  name: RI News Portal
  url: https://rinews.example
  language: id
  timezone: Asia/Jakarta
web:
  base_url: https://rinews.example
  secret_key: {SECRET}
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


# --------------------------------------------------------------------------- setup


def seed(config_path: Path, n: int, articles: int) -> None:
    """``articles`` real articles and ``n`` confirmed subscribers, in batches of BATCH rows."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from distributor.configfile import load_config
    from distributor.ledger.ingest import store_article
    from distributor.ledger.subscribers import new_token_key
    from distributor.store import open_store
    from distributor.store.models import Subscriber

    config = load_config(config_path)
    store = open_store(config.database)
    now = datetime.now(UTC)
    stored = 0
    with store.session() as session:
        for article in corpus_articles(articles, now=now - timedelta(minutes=30)):
            article.published = now - timedelta(minutes=30)
            store_article(session, article, now=now - timedelta(minutes=30))
            stored += 1
    if stored < articles:
        raise SystemExit(f"tests/corpus has only {stored} readable articles")
    for start in range(0, n, BATCH):
        rows = [{"channel": "daily", "email": f"reader{i}@example.org",
                 "email_key": f"reader{i}@example.org", "state": "confirmed",
                 "token_key": new_token_key(), "source": "import", "created_at": now,
                 "updated_at": now, "confirmed_at": now, "soft_bounces": 0}
                for i in range(start, min(n, start + BATCH))]
        with store.session() as session:
            session.execute(insert(Subscriber), rows)
    store.dispose()


def reset(config_path: Path) -> None:
    """Forget the digests sent, so the next round sends the same digest to everyone again."""
    from sqlalchemy import delete

    from distributor.configfile import load_config
    from distributor.store import open_store
    from distributor.store.models import Digest, EmailSend, FanoutRun

    store = open_store(load_config(config_path).database)
    with store.session() as session:
        for table in (EmailSend, FanoutRun, Digest):
            session.execute(delete(table))
    store.dispose()


def sample_mail(config_path: Path) -> tuple[bytes, str]:
    """One subscriber's mail exactly as ``digest send`` builds it, and its token."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from distributor.channels.email.mime import MailTemplate
    from distributor.configfile import load_config
    from distributor.engine.digests import plan_digest, render_plan
    from distributor.ledger.subscribers.tokens import unsubscribe_token
    from distributor.runtime import Runtime
    from distributor.store.models import Subscriber

    rt = Runtime.open(load_config(config_path))
    channel = rt.config.channel("daily")
    plan = plan_digest(rt, channel, until=datetime.now(UTC), period="bench")
    message = render_plan(rt, channel, plan)[0]
    with rt.store.session() as session:
        sid, email, key = session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.token_key)
            .order_by(Subscriber.id.desc()).limit(1)).one()
    rt.store.dispose()
    token = unsubscribe_token(SECRET, "daily", sid, key)
    data, _ = MailTemplate(message, sender=SENDER).render(
        email, token, f"1.{sid}.0123456789ab@rinews.example")
    return data, token


# --------------------------------------------------------------------------- the two sides


async def raw_loop(port: int, n: int, mail: bytes, token: str, connections: int, *,
                   wire: bool = False) -> dict[str, float]:
    """A ready mail of our size; per mail only a token of the same length spliced in.
    ``wire``: the floor: the mail is already in its DATA form and goes out through the
    project's :func:`~distributor.channels.email.smtp.send_wire`, so the loop pays for the
    SMTP commands only, not for aiosmtplib's rewriting of each mail."""
    import aiosmtplib

    if wire:
        from distributor.channels.email.smtp import send_wire

        mail = re.sub(rb"(?m)^\.", b"..", mail) + b".\r\n"
    pieces = mail.split(token.encode("ascii"))
    counter = iter(range(n))
    width = len(token)

    async def worker() -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        sent = 0
        for i in counter:
            data = str(i).rjust(width, "0").encode("ascii").join(pieces)
            if wire:
                await send_wire(client, "redaksi@rinews.example", f"reader{i}@example.org",
                                data, [])
            else:
                await client.sendmail("redaksi@rinews.example", [f"reader{i}@example.org"],
                                      data)
            sent += 1
        await client.quit()
        return sent

    cpu = cpu_seconds()
    started = time.perf_counter()
    sent = sum(await asyncio.gather(*(worker() for _ in range(connections))))
    elapsed = time.perf_counter() - started
    return {"sent": sent, "elapsed": elapsed, "cpu": cpu_seconds() - cpu,
            "peak_mb": peak_mb()}


async def ours(config_path: Path) -> dict[str, float]:
    from sqlalchemy import func, select

    from distributor.configfile import load_config
    from distributor.engine.digests import run_digest
    from distributor.runtime import Runtime
    from distributor.store.models import EmailSend

    rt = Runtime.open(load_config(config_path))
    cpu = cpu_seconds()
    started = time.perf_counter()
    outcome = await run_digest(rt, rt.config.channel("daily"))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    with rt.store.session() as session:
        rows = session.scalar(select(func.count()).select_from(EmailSend)) or 0
    await rt.close()
    if outcome.state != "sent":
        raise SystemExit(f"the digest was not sent: {outcome.state} {outcome.detail}")
    return {"sent": outcome.stats["sent"], "rows": rows, "elapsed": elapsed, "cpu": cpu,
            "peak_mb": peak_mb()}


# --------------------------------------------------------------------------- main


def measured(sink: SinkProcess, *args: str) -> dict[str, Any]:
    """Run one side in a fresh process; add what the sink saw while it ran."""
    before = sink.stats()
    result = child(__file__, *args)
    after = sink.stats()
    result["wire_messages"] = after["messages"] - before["messages"]
    result["wire_bytes"] = after["bytes"] - before["bytes"]
    result["sink_cpu"] = after["cpu"] - before["cpu"]
    result["rate"] = result["sent"] / result["elapsed"]
    result["cpu_per_mail_ms"] = 1000 * result["cpu"] / max(1, result["sent"])
    result["sink_share"] = result["sink_cpu"] / result["elapsed"]
    return result


def line(name: str, r: dict[str, Any]) -> str:
    return (f"  {name:<5} {r['rate']:>7,.0f} mails/s  {r['cpu_per_mail_ms']:>6.3f} ms CPU/mail  "
            f"{r['wire_bytes'] / max(1, r['wire_messages']):>8,.0f} B/mail  "
            f"sink {100 * r['sink_share']:>3.0f}% of a core  peak {r['peak_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["ours"], help="skip the raw loop (memory runs)")
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file); "
                                           "a PostgreSQL database must be empty")
    parser.add_argument("--json", action="store_true", help="also print the rounds as JSON")
    parser.add_argument("--sink", choices=["aiosmtpd", "lean"], default="aiosmtpd",
                        help="the SMTP server: aiosmtpd (the tests' server; it needs more CPU "
                             "per mail than either client) or lean (a minimal one, so the "
                             "client is what is measured)")
    parser.add_argument("--sink-delay", type=float, default=0.0, metavar="SECONDS",
                        help="lean sink only: each reply waits this long (a network's round "
                             "trip, as to a hosted SMTP service)")
    parser.add_argument("--serve", choices=["aiosmtpd", "lean"], help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true",
                        help="also run the floor each round: the raw loop handing ready DATA "
                             "bytes to the transport, as ours does (what is left is our "
                             "bookkeeping: store, tokens, queue)")
    parser.add_argument("--raw", nargs=3, metavar=("PORT", "MAIL", "TOKEN"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--wire", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ours", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        from benchlib import serve_lean, serve_sink

        if args.serve == "lean":
            serve_lean(args.sink_delay)
        else:
            serve_sink()
        return
    if args.raw:
        port, mail, token = args.raw
        print(json.dumps(asyncio.run(raw_loop(int(port), args.subscribers,
                                              Path(mail).read_bytes(), token,
                                              args.concurrency, wire=args.wire))))
        return
    if args.ours:
        print(json.dumps(asyncio.run(ours(Path(args.ours)))))
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    n = args.subscribers
    workdir = Path(tempfile.mkdtemp(prefix="distributor-bench-"))
    sink = SinkProcess(__file__, args.sink, args.sink_delay)
    raws: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    mine: list[dict[str, Any]] = []
    try:
        database = args.database or f"sqlite:///{workdir / 'bench.db'}"
        config_path = workdir / "channels.yaml"
        config_path.write_text(config_text(sink.port, database, args.concurrency),
                               encoding="utf-8")
        started = time.perf_counter()
        seed(config_path, n, args.articles)
        print(f"{n:,} subscribers and {args.articles} articles (tests/corpus) stored in "
              f"{time.perf_counter() - started:.1f} s; SMTP sink ({args.sink}) in process "
              f"{sink.process.pid} on 127.0.0.1:{sink.port}; {args.concurrency} connections "
              "a side", flush=True)
        data, token = sample_mail(config_path)
        (workdir / "mail.eml").write_bytes(data)
        raw_args = ["--raw", str(sink.port), str(workdir / "mail.eml"), token,
                    "--subscribers", str(n), "--concurrency", str(args.concurrency)]
        print(f"one subscriber's mail: {len(data):,} bytes", flush=True)
        for round_ in range(args.repeat):
            if args.only != "ours":
                raws.append(measured(sink, *raw_args))
                print(f"round {round_ + 1}", line("raw", raws[-1]), sep="\n", flush=True)
            if args.floor:
                floors.append(measured(sink, *raw_args, "--wire"))
                print(line("floor", floors[-1]), flush=True)
            if round_:
                reset(config_path)
            mine.append(measured(sink, "--ours", str(config_path)))
            print(line("ours", mine[-1]), flush=True)
            if mine[-1]["rows"] != n or mine[-1]["sent"] != n or mine[-1]["wire_messages"] != n:
                raise SystemExit("not every subscriber was served exactly once")
        if args.only != "ours":
            raws.append(measured(sink, *raw_args))
            print(line("raw", raws[-1]), flush=True)
    finally:
        sink.close()
        if not args.database:
            shutil.rmtree(workdir, ignore_errors=True)
    report(args, raws, mine, floors)


def report(args: argparse.Namespace, raws: list[dict[str, Any]], mine: list[dict[str, Any]],
           floors: list[dict[str, Any]]) -> None:
    size = mine[0]["wire_bytes"] / max(1, mine[0]["wire_messages"])
    print()
    print(f"articles {args.articles}, subscribers {args.subscribers:,}, connections "
          f"{args.concurrency}, sink {args.sink} (reply delay {args.sink_delay * 1000:.0f} ms), "
          f"rounds {len(mine)}")
    print(f"  ours: {median([m['rate'] for m in mine]):,.0f} mails/s, "
          f"{median([m['cpu_per_mail_ms'] for m in mine]):.3f} ms CPU/mail, {size:,.0f} B/mail, "
          f"peak {max(m['peak_mb'] for m in mine):.0f} MB (goal < 150 MB)")
    if not raws:
        return
    ratios = [m["rate"] / ((raws[i]["rate"] + raws[i + 1]["rate"]) / 2)
              for i, m in enumerate(mine)]
    cpu_ratios = [m["cpu_per_mail_ms"] / ((raws[i]["cpu_per_mail_ms"] +
                                           raws[i + 1]["cpu_per_mail_ms"]) / 2)
                  for i, m in enumerate(mine)]
    raw_size = raws[0]["wire_bytes"] / max(1, raws[0]["wire_messages"])
    print(f"  raw:  {median([r['rate'] for r in raws]):,.0f} mails/s, "
          f"{median([r['cpu_per_mail_ms'] for r in raws]):.3f} ms CPU/mail, "
          f"{raw_size:,.0f} B/mail")
    print(f"  ratio ours/raw (mails/s): {median(ratios):.2f} median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)} (goal >= 0.95)")
    print(f"  CPU per mail ours/raw:    {median(cpu_ratios):.2f} median of "
          f"{', '.join(f'{r:.2f}' for r in cpu_ratios)} (goal <= 1.20)")
    if floors:
        over = [m["cpu_per_mail_ms"] / f["cpu_per_mail_ms"]
                for m, f in zip(mine, floors, strict=True)]
        print(f"  floor: {median([f['rate'] for f in floors]):,.0f} mails/s, "
              f"{median([f['cpu_per_mail_ms'] for f in floors]):.3f} ms CPU/mail; CPU per mail "
              f"ours/floor {median(over):.2f} (median of {', '.join(f'{o:.2f}' for o in over)})")
    if args.json:
        print(json.dumps({"raw": raws, "ours": mine, "floor": floors}))


if __name__ == "__main__":
    main()
