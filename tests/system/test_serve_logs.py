"""A real `distributor serve --log-format json` process: every line it writes is one JSON
object (uvicorn's own lines too), the access log never shows a subscriber's token, and a
client that is no trusted proxy cannot choose the address the log (and the limits) see; the
secret written in channels.yaml is warned of once at its start, before the dashboard's line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from support.web import ServeProcess, free_port, serve_env

from distributor.configfile import load_config
from distributor.ledger.subscribers import add_subscriber, confirm_token, unsubscribe_token
from distributor.runtime import Runtime

SECRET = "test-secret-key"


def test_json_lines_only_no_tokens_and_no_spoofed_addresses(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = write_config("""\
channels:
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "RI News Portal <redaksi@rinews.example>"
    smtp: {host: 127.0.0.1, port: 9, security: none}
""")
    rt = Runtime.open(load_config(config))
    with rt.store.session() as session:
        row = add_subscriber(session, "daily", "ana@example.org").subscriber
        tokens = [unsubscribe_token(SECRET, "daily", row.id, row.token_key),
                  confirm_token(SECRET, row.id, row.token_key)]
    rt.store.dispose()

    server = ServeProcess(config, free_port(), serve_env(), tmp_path / "serve.log",
                          args=("--log-format", "json")).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get(f"/unsubscribe/{tokens[0]}").status_code == 200
            assert client.get(f"/confirm/{tokens[1]}?lang=en").status_code == 200
            client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    finally:
        server.stop()

    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # each line one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
    assert any('"GET /unsubscribe/<redacted> HTTP/1.1" 200' in a for a in access), access
    assert any('"GET /confirm/<redacted>?lang=en HTTP/1.1" 200' in a for a in access), access
    text = server.log()
    assert not any(token in text or token.split(".")[-1] in text for token in tokens)
    assert "203.0.113.9" not in text and access[-1].startswith("127.0.0.1:")


#: a log line's time stamp ("2026-12-03 15:47:20 WIB "): what follows it is what is said
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ ")
OUTBOX = """\
channels:
  - name: files
    type: outbox
    path: outbox/
"""


def test_serve_says_once_at_its_start_that_the_secret_key_is_written_in_the_file(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    path = write_config(OUTBOX)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if "secret_key:" in text)
    server = ServeProcess(path, free_port(), serve_env(), tmp_path / "serve.log").start()
    server.stop()
    lines = [STAMP.sub("", said) for said in server.log().splitlines()]
    warning = (f"warning: {path}:{line}: web.secret_key: a secret written in the file; put it "
               "in the environment and write ${DISTRIBUTOR_SECRET_KEY}")
    assert lines.count(warning) == 1, lines
    assert lines.index(warning) < next(i for i, said in enumerate(lines)
                                       if said.startswith("dashboard: ")), lines
    assert "test-secret-key" not in server.log()
