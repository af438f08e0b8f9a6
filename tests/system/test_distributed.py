"""Distributed mode against the real PostgreSQL, with real processes: a scheduler and workers
deliver every article to test Telegram servers once each and in order; a worker killed with
SIGKILL leaves its work to the others without a post sent twice; two schedulers enqueue
nothing twice; a digest to thousands of subscribers over two workers reaches each exactly once;
a lease owner on another machine that died is recognised; `db upgrade` from two processes at
once; one clear line for every configuration PostgreSQL mode cannot run with.

The soak tests run at sizes that fit the suite (40 articles, 300 subscribers); the sizes of
issue 14 (500 and 5 000) with `--soak full`, as `python bench/soak.py` runs them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from sqlalchemy import func, select, text, update
from support.cli import run_in_process, run_process
from support.cluster import Cluster, process_env, wait_for
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.engine.distributed import Liveness, WorkerDispatcher, liveness_owner
from distributor.ledger.deliveries import utcnow
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store import open_store
from distributor.store.models import ArticleRow, Delivery, Digest, EmailSend, FanoutRun

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FAST = 60_000.0  # posts a minute per Telegram channel in the worker processes


def write_articles(folder: Path, n: int, *, start: datetime | None = None) -> list[str]:
    """``n`` article files, published one second apart (the order each channel must keep)."""
    folder.mkdir(parents=True, exist_ok=True)
    start = start or datetime.now(UTC) - timedelta(hours=1)
    old = time.time() - 600  # saved a while ago: settled
    titles = []
    for i in range(n):
        title = f"Berita urut {i:04d}"
        path = folder / f"berita-{i:04d}.json"
        path.write_text(json.dumps({
            "title": title, "url": f"https://rinews.example/berita/{i}",
            "body": f"Jakarta — Isi berita nomor {i} yang cukup panjang untuk dibaca orang.",
            "published": (start + timedelta(seconds=i)).isoformat()}), encoding="utf-8")
        os.utime(path, (old, old))
        titles.append(title)
    return titles


def telegram_yaml(name: str, server: FakeTelegram) -> str:
    return (f"  - name: {name}\n"
            f"    type: telegram\n"
            f"    chat_id: \"{server.channel.handle}\"\n"
            f"    token: \"{server.token}\"\n"
            f"    api_base_url: {server.url}\n"
            f"    timeout: 5\n"
            f"    rate_per_minute: {FAST}\n")


TITLE = re.compile(r"Berita urut (\d{4})")


def numbers(server: FakeTelegram) -> list[int]:
    """The article numbers of the posts the server accepted, in the order it accepted them."""
    out = []
    for message in list(server.messages):
        found = TITLE.search(message.text)
        assert found, message.text
        out.append(int(found.group(1)))
    return out


def ledger(config: Path) -> dict[tuple[str, int], str]:
    store = open_store(load_config(config).database, migrate=False)
    try:
        with store.session() as session:
            rows = session.execute(select(Delivery.channel, ArticleRow.title, Delivery.state)
                                   .join(ArticleRow)).all()
        return {(c, int(t.rsplit(" ", 1)[1])): s for c, t, s in rows}
    finally:
        store.dispose()


@pytest.fixture
def two_telegrams() -> Iterator[tuple[FakeTelegram, FakeTelegram]]:
    with FakeTelegram() as one, FakeTelegram() as two:
        yield one, two


@pytest.fixture
def env() -> dict[str, str]:
    return process_env()


def upgrade(config: Path, env: dict[str, str]) -> None:
    result = run_in_process("--config", config, "db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr


def distributed_config(write_config: Callable[..., Path], pg_url: str, channels: str,
                       every: str = "1s") -> Path:
    return write_config("execution: distributed\n"
                        "sources:\n"
                        "  - name: newsroom\n"
                        "    type: directory\n"
                        "    path: articles/\n"
                        f"    every: {every}\n"
                        "channels:\n" + channels, database=pg_url)


# --------------------------------------------------------------------------- 500 articles


def test_a_scheduler_and_two_workers_deliver_every_article_once_each_in_order(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        two_telegrams: tuple[FakeTelegram, FakeTelegram], env: dict[str, str],
        soak: Callable[[int, int], int]) -> None:
    """Exactly once and in order under concurrency: 40 articles (500 with --soak full) on
    two channels, two workers draining side by side, each post once, in publication order."""
    n = soak(40, 500)
    write_articles(tmp_path / "articles", n)
    one, two = two_telegrams
    config = distributed_config(write_config, pg_url,
                                telegram_yaml("tg1", one) + telegram_yaml("tg2", two))
    upgrade(config, env)
    with Cluster(config, env) as cluster:
        scheduler = cluster.scheduler()
        workers = [cluster.worker("--concurrency", "1", "--stalled-after", "5")
                   for _ in range(2)]
        wait_for(lambda: len(one.messages) >= n and len(two.messages) >= n, timeout=120,
                 what=f"{n} posts on each channel (got {len(one.messages)}, "
                      f"{len(two.messages)})")
        time.sleep(1.0)  # anything sent twice would arrive now
        for proc in [*workers, scheduler]:
            assert cluster.stop(proc) == 0, cluster.output(proc)
        logs = [cluster.output(w) for w in workers]

    for server in (one, two):
        assert numbers(server) == list(range(n))  # each once, in the channel's order
    states = ledger(config)
    assert len(states) == 2 * n and set(states.values()) == {"sent"}
    # the two channels went to the two workers side by side (each ran one drain at a time)
    assert all(" sent (remote id " in log for log in logs), logs
    assert not any("Traceback" in log for log in logs)


# --------------------------------------------------------------------------- SIGKILL


def test_a_worker_killed_mid_way_leaves_its_channel_to_the_others_and_posts_nothing_twice(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        two_telegrams: tuple[FakeTelegram, FakeTelegram], env: dict[str, str],
        soak: Callable[[int, int], int]) -> None:
    """Exactly once and in order across a kill: a worker killed with SIGKILL mid-drain (40
    articles a channel, 120 with --soak full), its channel taken over, nothing posted twice,
    lost or reordered, at most the post in flight left `unknown`."""
    n = soak(40, 120)
    write_articles(tmp_path / "articles", n)
    one, two = two_telegrams
    for server in (one, two):  # answers come 50 ms after the post is recorded
        server.delay(0.05, times=10 * n, process_first=True)
    config = distributed_config(write_config, pg_url,
                                telegram_yaml("tg1", one) + telegram_yaml("tg2", two))
    upgrade(config, env)
    with Cluster(config, env) as cluster:
        scheduler = cluster.scheduler()
        victim = cluster.worker("--concurrency", "1", "--stalled-after", "3")
        survivor = cluster.worker("--concurrency", "1", "--stalled-after", "3")
        wait_for(lambda: len(one.messages) >= n // 3 and len(two.messages) >= n // 3,
                 timeout=60, what="both channels under way")
        cluster.kill(victim)  # in the middle of a drain, a post probably in flight
        killed_at = (len(one.messages), len(two.messages))
        wait_for(lambda: all(s not in ("pending", "sending", "retry")
                             for s in ledger(config).values()) and len(ledger(config)) == 2 * n,
                 timeout=180, what="every delivery settled")
        time.sleep(1.0)
        assert cluster.stop(survivor) == 0
        assert cluster.stop(scheduler) == 0
        survivor_log = cluster.output(survivor)

    assert killed_at[0] < n and killed_at[1] < n  # the kill landed mid-way
    states = ledger(config)
    for name, server in (("tg1", one), ("tg2", two)):
        posted = numbers(server)
        assert len(posted) == len(set(posted)), f"{name}: posted twice: {Counter(posted)}"
        assert posted == sorted(posted)  # the channel's order held across the take-over
        sent = {i for (c, i), s in states.items() if c == name and s == "sent"}
        unknown = {i for (c, i), s in states.items() if c == name and s == "unknown"}
        assert sent | unknown == set(range(n))
        assert sent <= set(posted) <= sent | unknown  # nothing lost, nothing invented
    unknown = [k for k, s in states.items() if s == "unknown"]
    assert len(unknown) <= 1, unknown  # at most the post in flight when the worker died
    # the killed worker's drain was taken over: a stalled job retried, or the liveness lock
    assert "left by a stalled worker" in survivor_log or "is gone; recovering" in survivor_log, \
        survivor_log[-3000:]


def test_sigterm_lets_a_workers_send_in_flight_finish_and_record_it(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        two_telegrams: tuple[FakeTelegram, FakeTelegram], env: dict[str, str]) -> None:
    write_articles(tmp_path / "articles", 5)
    one, _ = two_telegrams
    one.delay(2.0, times=50, process_first=True)  # each post is answered 2 s after it lands
    config = distributed_config(write_config, pg_url, telegram_yaml("tg1", one))
    upgrade(config, env)
    with Cluster(config, env) as cluster:
        scheduler = cluster.scheduler()
        worker = cluster.worker("--concurrency", "1")
        wait_for(lambda: len(one.messages) >= 1, timeout=60, what="the first post in flight")
        assert cluster.stop(worker) == 0  # SIGTERM while Telegram has not answered yet
        assert cluster.stop(scheduler) == 0
        log = cluster.output(worker)
    states = ledger(config)
    posted = numbers(one)
    assert len(posted) >= 1 and "Traceback" not in log
    # the post in flight was answered and recorded; nothing was left `sending` or `unknown`
    assert {i for (_, i), s in states.items() if s == "sent"} == set(posted)
    assert not {s for s in states.values()} & {"sending", "unknown"}


def test_an_editors_push_is_sent_by_a_worker_and_the_command_reports_it(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        two_telegrams: tuple[FakeTelegram, FakeTelegram], env: dict[str, str]) -> None:
    write_articles(tmp_path / "articles", 1)
    one, _ = two_telegrams
    config = distributed_config(write_config, pg_url, telegram_yaml("tg1", one))
    upgrade(config, env)
    with Cluster(config, env) as cluster:
        worker = cluster.worker("--concurrency", "1")
        pushed = run_in_process("--config", config, "push",
                                tmp_path / "articles" / "berita-0000.json", "--channel", "tg1",
                                env=env)
        assert cluster.stop(worker) == 0
        worker_log = cluster.output(worker)
    assert pushed.returncode == 0, pushed.stderr
    [post] = one.messages
    assert f"tg1: published (remote id {post.message_id})" in pushed.stdout
    assert "(tg1, article 1) sent" in worker_log  # the worker sent it, not the command


def test_a_push_a_worker_could_not_publish_exits_1_and_says_a_worker_tries_again(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        two_telegrams: tuple[FakeTelegram, FakeTelegram], env: dict[str, str]) -> None:
    """User audit: a push that published nothing exited 0 ("not yet: ..."); as in embedded
    mode, it exits 1 and says who tries again: here a running worker."""
    write_articles(tmp_path / "articles", 1)
    one, _ = two_telegrams
    one.server_error(501, "Not Implemented", times=10_000)
    config = distributed_config(write_config, pg_url, telegram_yaml("tg1", one))
    upgrade(config, env)
    with Cluster(config, env) as cluster:
        worker = cluster.worker("--concurrency", "1")
        pushed = run_in_process("--config", config, "push",
                                tmp_path / "articles" / "berita-0000.json", "--channel", "tg1",
                                env=env)
        assert cluster.stop(worker) == 0
    assert pushed.returncode == 1, pushed.stdout
    assert pushed.stdout == ""
    [line] = [x for x in pushed.stderr.splitlines() if x.startswith("error:")]
    assert re.fullmatch(r"error: tg1: not published yet: Telegram is unavailable: 501 Not "
                        r"Implemented; it is tried again at \d{4}-\d\d-\d\d \d\d:\d\d WIB by a "
                        r"running `distributor worker`", line), line
    assert one.messages == [] and one.calls_to("sendMessage")  # the worker tried
    assert ledger(config) == {("tg1", 0): "retry"}


# --------------------------------------------------------------------------- two schedulers


def test_two_schedulers_at_once_enqueue_nothing_twice(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        env: dict[str, str]) -> None:
    write_articles(tmp_path / "articles", 5)
    config = distributed_config(write_config, pg_url,
                                "  - name: files\n    type: outbox\n    path: out/\n")
    upgrade(config, env)

    def jobs() -> list[tuple[str, str, dict[str, object]]]:
        rt = Runtime.open(load_config(config))
        try:
            with rt.store.engine.connect() as c:
                rows = c.execute(text("SELECT task_name, status::text, args "
                                      "FROM procrastinate_jobs ORDER BY id")).all()
            return [(t, s, dict(a)) for t, s, a in rows]
        finally:
            rt.store.dispose()

    with Cluster(config, env) as cluster:
        schedulers = [cluster.scheduler(), cluster.scheduler()]
        wait_for(lambda: all("scheduling (distributed)" in cluster.output(p)
                             for p in schedulers), timeout=60, what="both schedulers running")
        wait_for(lambda: any(s == "todo" for _, s, _ in jobs()), what="a job enqueued")
        time.sleep(2.5)  # both tick twice more; no worker yet: what they enqueued waits
        waiting = Counter(t for t, s, _ in jobs() if s == "todo")
        assert waiting == {"distributor:poll": 1, "distributor:dispatch": 1}, jobs()

        started = time.monotonic()
        worker = cluster.worker("--concurrency", "2")
        wait_for(lambda: len(list((tmp_path / "out" / "files").glob("*.json"))) >= 5,
                 timeout=30, what="the articles published")
        time.sleep(max(0.0, 5.0 - (time.monotonic() - started)))  # several 1 s ticks
        for proc in [*schedulers, worker]:
            assert cluster.stop(proc) == 0, cluster.output(proc)
        elapsed = time.monotonic() - started

    polls = [a.get("timestamp") for t, _, a in jobs() if t == "distributor:poll"]
    ticks = Counter(polls)
    assert all(count == 1 for count in ticks.values()), ticks  # one job per tick, not two
    assert len(polls) <= elapsed + 3, polls  # about one a second, not two
    assert len(list((tmp_path / "out" / "files").glob("*.json"))) == 5
    assert set(ledger(config).values()) == {"sent"}


# --------------------------------------------------------------------------- the digest


def test_a_digest_to_thousands_of_subscribers_over_two_workers_reaches_each_exactly_once(
        write_config: Callable[..., Path], pg_url: str, tmp_path: Path,
        env: dict[str, str], soak: Callable[[int, int], int]) -> None:
    """Exactly once across workers: 300 subscribers (5 000 with --soak full) in ten batches
    over two workers, each reached once, both workers serving batches, and a batch run again
    sending nothing."""
    n = soak(300, 5000)
    batch = n // 10
    write_articles(tmp_path / "articles", 3)
    with SmtpServer(keep=False) as smtp:
        received: Counter[str] = Counter()
        smtp_lock_counter(smtp, received)
        config = write_config("""\
execution: distributed
sources:
  - name: newsroom
    type: directory
    path: articles/
    every: 1h
channels:
""" + email_channel_yaml(smtp, extra="    concurrency: 4\n").replace(
            '"0 6 * * *"', '"* * * * *"'), database=pg_url)
        upgrade(config, env)
        csv = tmp_path / "subscribers.csv"
        csv.write_text("email\n" + "".join(f"reader{i}@example.org\n" for i in range(n)),
                       encoding="utf-8")
        for args in (("fetch",), ("subscribers", "import", str(csv), "--channel", "daily",
                                  "--confirmed")):
            result = run_in_process("--config", config, *args, env=env)
            assert result.returncode == 0, result.stderr
        rt = Runtime.open(load_config(config))
        with rt.store.session() as session:  # seen before the last (every-minute) digest time
            session.execute(update(ArticleRow).values(
                first_seen=datetime.now(UTC) - timedelta(minutes=5)))

        def digest_state() -> str | None:
            with rt.store.session() as session:
                return session.scalar(select(Digest.state).where(Digest.state != "skipped"))

        try:
            with Cluster(config, env) as cluster:
                workers = [cluster.worker("--concurrency", "2", "--fanout-batch", str(batch))
                           for _ in range(2)]
                scheduler = cluster.scheduler()
                try:
                    wait_for(lambda: digest_state() == "sent", timeout=120,
                             what="the digest sent")
                except AssertionError:
                    raise AssertionError(
                        f"digest not sent; {sum(received.values())} mails; logs:\n"
                        + "\n".join(cluster.output(p)[-3000:] for p in cluster.procs)) from None
                assert cluster.stop(scheduler) == 0

                # a batch that runs again sends nothing: every subscriber has a send row
                with rt.store.session() as session:
                    run = session.scalars(select(FanoutRun)).one()
                    run_id, state = run.id, run.state
                    accepted = sum(received.values())
                    run.state = "sending"  # as if a batch ran again before the run was done
                asyncio.run(_rerun_batch(pg_url, run_id, 1, 10 ** 9))
                time.sleep(0.5)
                assert sum(received.values()) == accepted
                for proc in workers:
                    assert cluster.stop(proc) == 0, cluster.output(proc)
                logs = [cluster.output(w) for w in workers]
            with rt.store.session() as session:
                rows = session.scalar(select(func.count()).select_from(EmailSend))
        finally:
            rt.store.dispose()

    assert state == "done"
    assert set(received) == {f"reader{i}@example.org" for i in range(n)}  # nobody skipped
    assert max(received.values()) == 1, [a for a, c in received.items() if c > 1][:10]
    assert rows == n
    batches = [len(re.findall(r"digest batch \d+-\d+ of run", log)) for log in logs]
    assert all(b >= 1 for b in batches), batches  # both workers served batches
    assert sum(batches) >= n // batch


def smtp_lock_counter(smtp: SmtpServer, counter: Counter[str]) -> None:
    """Count each recipient as the server accepts the message (not keeping 5 000 mails)."""
    handler = smtp.controller.handler
    original = handler.handle_DATA

    async def handle_DATA(server: object, session: object, envelope: object) -> str:
        answer: str = await original(server, session, envelope)
        if answer.startswith("250"):
            with smtp.lock:
                counter.update(a.lower() for a in envelope.rcpt_tos)  # type: ignore[attr-defined]
        return answer

    handler.handle_DATA = handle_DATA


async def _rerun_batch(pg_url: str, run_id: int, first: int, last: int) -> None:
    from distributor.engine.distributed import enqueue, make_app

    app = make_app(pg_url)
    async with app.open_async():
        job = await enqueue(app, "digest_batch", f"{run_id}:99:{first}", run_id=run_id,
                            first=first, last=last, round=99)
        assert job is not None
        for _ in range(100):
            status = await app.job_manager.get_job_status_async(job)
            if status.value in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.1)
        assert status.value == "succeeded"


# --------------------------------------------------------------------------- leases


def test_a_lease_owner_on_another_machine_that_died_is_recovered_a_live_one_is_not(
        write_config: Callable[..., Path], pg_url: str) -> None:
    from distributor.articles import Article

    config = load_config(distributed_config(
        write_config, pg_url, "  - name: files\n    type: outbox\n    path: out/\n"))
    rt = Runtime.open(config)

    async def scenario() -> dict[int, str]:
        alive = Liveness(pg_url, owner=f"another-host:4242:pg-{'a' * 12}")
        await alive.start()
        try:
            now = utcnow()
            ids = []
            with rt.store.session() as session:
                for i, owner in enumerate([f"another-host:4243:pg-{'d' * 12}", alive.owner]):
                    row, _ = store_article(session, Article(
                        source="newsroom", key=f"k{i}", title=f"Judul {i}",
                        url=f"https://rinews.example/{i}", lede="Isi."),
                        now=now)
                    delivery = Delivery(article_id=row.id, channel="files", state="sending",
                                        attempts=1, next_attempt_at=now, lease_owner=owner,
                                        lease_until=now + timedelta(minutes=5))
                    session.add(delivery)
                    session.flush()
                    ids.append(delivery.id)
            await WorkerDispatcher(rt).recover()
            with rt.store.session() as session:
                return {i: session.get_one(Delivery, i).state for i in ids}
        finally:
            await alive.stop()

    try:
        states = list(asyncio.run(scenario()).values())
    finally:
        rt.store.dispose()
    # another host, lease not expired: only the liveness lock tells the dead from the living
    assert states == ["unknown", "sending"]
    assert liveness_owner().split(":")[2].startswith("pg-")


# --------------------------------------------------------------------------- the CLI


def test_db_upgrade_from_two_processes_at_once_applies_the_schema_once(
        write_config: Callable[..., Path], pg_url: str, env: dict[str, str]) -> None:
    config = distributed_config(write_config, pg_url,
                                "  - name: files\n    type: outbox\n    path: out/\n")
    procs = [subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(config),
                               "db", "upgrade"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    said = sorted(out for out, _ in outs)
    assert "procrastinate schema: applied" in said[0] + said[1]
    assert "procrastinate schema: present" in said[0] + said[1]
    assert all("migrations at" in out for out, _ in outs)


@pytest.mark.parametrize("command", [["worker"], ["run"], ["run", "--once"], ["db", "upgrade"]])
def test_distributed_mode_on_sqlite_is_one_clear_line(
        write_config: Callable[..., Path], env: dict[str, str], command: list[str]) -> None:
    config = write_config("execution: distributed\n")
    result = run_in_process("--config", config, *command, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {config}:{_line_of(config, 'execution:')}: execution: "
                               "distributed needs a PostgreSQL database"), lines


def test_a_worker_for_an_embedded_configuration_is_one_clear_line(
        write_config: Callable[..., Path], env: dict[str, str]) -> None:
    config = write_config("execution: embedded\n")
    result = run_in_process("--config", config, "worker", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {config}:{_line_of(config, 'execution:')} says execution: embedded, where "
        "`distributor run` does all the work and no worker is needed; to spread the work over "
        "workers, set execution: distributed and a PostgreSQL database"]


def test_check_says_distributed_mode_needs_postgresql(
        write_config: Callable[..., Path], env: dict[str, str]) -> None:
    config = write_config("execution: distributed\n")
    result = run_in_process("--config", config, "check", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    # (the test configuration's literal web.secret_key is warned of first)
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: {config}:{_line_of(config, 'execution:')}: execution: "
                            "distributed needs a PostgreSQL database"), result.stderr


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("command", [["run", "--once"], ["db", "upgrade"]])
def test_postgresql_unreachable_is_one_clear_line(
        write_config: Callable[..., Path], env: dict[str, str], command: list[str]) -> None:
    config = write_config("execution: distributed\n",
                          database="postgresql://postgres@127.0.0.1:9/nowhere")
    result = run_in_process("--config", config, *command, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: cannot connect to PostgreSQL at "
                               "postgresql://postgres@127.0.0.1:9/nowhere")


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["worker"], ["run"]])
def test_a_database_that_refuses_for_good_stops_a_worker_with_one_line_not_a_wait(
        write_config: Callable[..., Path], env: dict[str, str], pg_url: str,
        command: list[str]) -> None:
    """A database that does not exist (or a wrong password) is no outage to wait out: the
    worker and the scheduler stop at once, saying what to check."""
    wrong = pg_url.rsplit("/", 1)[0] + "/no_such_database_here"
    config = write_config("execution: distributed\n", database=wrong)
    result = run_process("--config", config, *command, env=env, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "refused the connection" in lines[0] and "no_such_database_here" in lines[0]
    assert "the user, its password and the database name" in lines[0]
