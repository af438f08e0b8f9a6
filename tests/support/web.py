"""Helpers for the dashboard tests: a configuration with an outbox, Telegram, X and an email
digest channel, articles and editors in the store, logging in over httpx, and a real
``distributor serve`` process on a free port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from distributor.articles import Article
from distributor.interfaces.web.auth import add_editor
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import Editor

PASSWORD = "correct horse battery"


def channels_yaml(smtp_port: int, outbox: Path) -> str:
    """Channels: files (outbox, manual), telegram and x (manual, never sent to in these
    tests: their previews and links only), daily (email digest to the test SMTP server)."""
    return f"""\
channels:
  - name: files
    type: outbox
    publish: manual
    path: {outbox}
  - name: telegram
    type: telegram
    publish: manual
    chat_id: "@rinewsportal"
    token: "123:not-a-real-token"
    api_base_url: http://127.0.0.1:9
  - name: x
    type: x
    publish: manual
    consumer_key: k
    consumer_secret: s
    access_token: t
    access_token_secret: ts
    api_base_url: http://127.0.0.1:9
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "RI News Portal <redaksi@rinews.example>"
    retry_delays: [100ms]
    smtp:
      host: 127.0.0.1
      port: {smtp_port}
      security: none
      timeout: 10
"""


def add_article(rt: Runtime, title: str, *, lede: str = "Lede of the story.",
                source: str = "newsroom", ago: timedelta = timedelta(minutes=5),
                key: str | None = None) -> int:
    now = datetime.now(UTC) - ago
    article = Article(source=source, key=key or title, url=f"https://rinews.example/{abs(hash(title))}",
                      title=title, lede=lede, body=["Second paragraph."], published=now)
    with rt.store.session() as session:
        row, _ = store_article(session, article, now=now)
        return row.id


def make_editor(rt: Runtime, name: str = "editor", password: str = PASSWORD) -> None:
    with rt.store.session() as session:
        if session.query(Editor).filter_by(username=name).first() is None:
            add_editor(session, name, password)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def login(client: httpx.AsyncClient, name: str = "editor", password: str = PASSWORD,
                next_: str = "/dashboard/") -> httpx.Response:
    page = await client.get("/login", params={"next": next_})
    return await client.post("/login", data={"username": name, "password": password,
                                             "csrf": csrf_of(page.text), "next": next_})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`distributor --config CONFIG serve --port PORT` as a real process."""

    def __init__(self, config: Path, port: int, env: dict[str, str], log_path: Path,
                 args: tuple[str, ...] = ()):
        self.config, self.port, self.env, self.log_path = config, port, env, log_path
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0,  # a readiness wait, not a timing
              ready: Callable[[httpx.Response], bool] | None = None) -> ServeProcess:
        """Start and wait until ``/healthz`` answers 200 (or ``ready`` accepts its answer)."""
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "distributor", "--config", str(self.config), "serve",
             "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"distributor serve exited: {self.log()}")
            try:
                answer = httpx.get(f"{self.url}/healthz", timeout=1)
                if ready(answer) if ready else answer.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"distributor serve did not answer in {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def serve_env(extra: dict[str, Any] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIBUTOR_")}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env
