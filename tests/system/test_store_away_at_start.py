"""Issue 15, item 6 (the rest): `serve` and `run` start while PostgreSQL does not answer, say
so in one line, answer 503 (serve) or try again at every job (run), and once the database
answers they migrate it and work on, without a restart.

PostgreSQL is reached through a real TCP port that the test closes (nothing listens: the
connection is refused, as when the server is down) and opens (forwarded to 127.0.0.1:5432)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from support.cluster import Cluster, process_env, wait_for
from support.folder_runs import article, folder_to_outbox, posted
from support.tcp_gate import TcpGate
from support.web import ServeProcess, free_port, serve_env

from distributor.store import open_store

pytestmark = pytest.mark.slow

SOURCES = folder_to_outbox()


@pytest.fixture
def gate() -> Iterator[TcpGate]:
    with TcpGate() as gate:  # closed until the test opens it
        yield gate


def through(gate: TcpGate, url: str) -> str:
    """``url`` (a database on 127.0.0.1:5432) reached through the gate's port."""
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{gate.port}")


def status(url: str, **headers: str) -> int:
    try:
        return httpx.get(url, headers=headers, timeout=30).status_code
    except httpx.HTTPError:
        return 0


def schema_current(url: str) -> bool:
    store = open_store(url, migrate=False)
    try:
        from alembic.config import Config

        from distributor.store.db import MIGRATIONS

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return store._at_head(cfg)
    finally:
        store.dispose()


def test_serve_starts_without_the_database_answers_503_and_works_once_it_is_back(
        write_config: Callable[..., Path], tmp_path: Path, pg_empty_url: str,
        gate: TcpGate) -> None:
    config = write_config(SOURCES, database=through(gate, pg_empty_url))
    serve = ServeProcess(config, free_port(), serve_env(), tmp_path / "serve.log")
    unsubscribe = "/unsubscribe/1.key.signature"  # a page that reads the store
    try:
        serve.start(ready=lambda answer: answer.status_code == 503)
        health = httpx.get(f"{serve.url}/healthz", timeout=30)
        assert (health.status_code, health.json()) == (503, {"status": "unavailable"})
        page = httpx.get(serve.url + unsubscribe, headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 503 and page.headers["Retry-After"] == "30"
        assert "Sementara tidak tersedia" in page.text and "coba lagi" in page.text  # site: id
        assert "127.0.0.1" not in page.text and "postgres" not in page.text
        assert "distributor_store_up 0.0" in httpx.get(f"{serve.url}/metrics", timeout=30).text
        assert not schema_current(pg_empty_url)

        gate.open()  # the database answers: migrated at the next request, no restart
        wait_for(lambda: status(f"{serve.url}/healthz") == 200, what="/healthz 200")
        assert schema_current(pg_empty_url)
        assert status(serve.url + unsubscribe, Accept="text/html") == 400  # a page again
        assert "distributor_store_up 1.0" in httpx.get(f"{serve.url}/metrics", timeout=30).text

        gate.close()  # gone again while serving, then back
        wait_for(lambda: status(f"{serve.url}/healthz") == 503, what="/healthz 503")
        gate.open()
        wait_for(lambda: status(f"{serve.url}/healthz") == 200, what="/healthz 200 again")
    finally:
        serve.stop()
    log = serve.log()
    assert "Traceback" not in log, log
    start = [line for line in log.splitlines() if "serve starts anyway" in line]
    assert len(start) == 1, log
    assert f"127.0.0.1:{gate.port}" in start[0] and "running" in start[0], log
    assert "answers now" in log, log
    assert any("GET /unsubscribe/<redacted> answered 503" in line for line in log.splitlines()), log


def test_run_starts_without_the_database_and_posts_once_it_is_back(
        write_config: Callable[..., Path], tmp_path: Path, pg_empty_url: str,
        gate: TcpGate) -> None:
    article(tmp_path / "articles", "banjir.txt", "Banjir Jakarta")
    config = write_config(SOURCES, database=through(gate, pg_empty_url))
    outbox = tmp_path / "outbox"
    with Cluster(config, process_env()) as cluster:
        run = cluster.scheduler()  # `distributor run`, embedded

        def said() -> str:
            return cluster.output(run)

        wait_for(lambda: run.poll() is not None or said().count("job poll") >= 2, what=said)
        assert run.poll() is None, said()  # still running
        assert not posted(outbox)
        gate.open()
        wait_for(lambda: posted(outbox), what=said)
        cluster.stop(run)
        text = said()
    assert "Traceback" not in text, text
    start = [line for line in text.splitlines() if "run starts anyway" in line]
    assert len(start) == 1 and "running" in start[0], text
    failed = [line for line in text.splitlines() if "job poll" in line]
    assert failed and all("cannot use the database" in line for line in failed), text
    assert "answers now" in text, text
    assert schema_current(pg_empty_url)


def test_a_distributed_scheduler_and_worker_wait_for_the_database_then_post(
        write_config: Callable[..., Path], tmp_path: Path, pg_empty_url: str,
        gate: TcpGate) -> None:
    article(tmp_path / "articles", "banjir.txt", "Banjir Jakarta")
    config = write_config("execution: distributed\n" + SOURCES,
                          database=through(gate, pg_empty_url))
    outbox = tmp_path / "outbox"
    with Cluster(config, process_env()) as cluster:
        scheduler, worker = cluster.scheduler(), cluster.worker()

        def waiting(proc: subprocess.Popen[bytes], who: str) -> bool:
            return f"the {who} waits for it" in cluster.output(proc) or proc.poll() is not None

        for proc, who in ((scheduler, "scheduler"), (worker, "worker")):
            wait_for(partial(waiting, proc, who), what=f"the {who}'s line")
            assert proc.poll() is None, cluster.output(proc)
        gate.open()
        wait_for(lambda: posted(outbox), what="the post")
        for proc in (scheduler, worker):
            cluster.stop(proc)
        said = {who: cluster.output(p) for who, p in (("scheduler", scheduler),
                                                       ("worker", worker))}
    for who, text in said.items():
        assert "Traceback" not in text, text
        waits = [line for line in text.splitlines() if f"the {who} waits for it" in line]
        assert len(waits) == 1 and "cannot connect to PostgreSQL" in waits[0], text
        assert f"PostgreSQL answers now; the schema is current, the {who} starts" in text, text
    assert schema_current(pg_empty_url)


def test_serve_on_a_damaged_sqlite_file_answers_503_and_leaves_the_file_as_it_was(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    db = tmp_path / "distributor.db"
    damaged = b"this is not a database, it is a text file someone saved here\n" * 100
    db.write_bytes(damaged)
    config = write_config(SOURCES, database=f"sqlite:///{db}")
    serve = ServeProcess(config, free_port(), serve_env(), tmp_path / "serve.log")
    try:
        serve.start(ready=lambda answer: answer.status_code == 503)
        assert status(serve.url + "/unsubscribe/1.key.signature", Accept="text/html") == 503
    finally:
        serve.stop()
    assert db.read_bytes() == damaged
    log = serve.log()
    assert "Traceback" not in log, log
    start = [line for line in log.splitlines() if "serve starts anyway" in line]
    assert len(start) == 1 and str(db) in start[0] and "damaged" in start[0], log
