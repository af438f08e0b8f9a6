"""The common part of the platform doubles (Discord, Slack, Mastodon, Bluesky): a real HTTP
server on 127.0.0.1 that routes each request to a handler of the double, records it, and can be
scripted to answer the next requests otherwise:

    double.fail_next(429, body={...}, headers={...})   # answer the next matching request so
    double.no_answer()                                   # take it (it happens), answer too late
    double.refuse_connections()                          # as if the server were down

A handler returns ``(status, body, headers)``; a ``dict``/``list`` body is sent as JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class _Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    match: str | None
    happen: bool = False   # carry the request out before answering this way
    sleep: float = 0.0     # no answer: hold the connection this long, then close it
    skip: int = 0


@dataclass
class HttpDouble:
    """Subclasses implement :meth:`route` (method, path, query, headers, body) -> Answer."""

    requests: list[Seen] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._script: deque[_Scripted] = deque()
        #: path -> (bytes, content type): files served to anyone (an article's image)
        self.files: dict[str, tuple[bytes, str]] = {}
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                            {k.lower(): v for k, v in self.headers.items()}, body)
                with double.lock:
                    double.requests.append(seen)
                    scripted = double._take(f"{self.command} {parts.path}")
                served = double.files.get(parts.path)
                if served is not None and scripted is None:
                    self._answer(seen, (200, served[0], {"content-type": served[1]}))
                    return
                if scripted is not None and not scripted.happen:
                    self._answer(seen, (scripted.status, scripted.body, scripted.headers))
                    return
                answer = double.route(seen)
                if scripted is None:
                    self._answer(seen, answer)
                    return
                if scripted.status == 0:  # carried out; the answer never comes in time
                    time.sleep(scripted.sleep)
                    self.close_connection = True
                    return
                self._answer(seen, (scripted.status, scripted.body, scripted.headers))

            def _answer(self, seen: Seen, answer: Answer) -> None:
                status, body, headers = answer
                seen.status = status
                if isinstance(body, dict | list):
                    raw = json.dumps(body).encode()
                    headers = {"content-type": "application/json; charset=utf-8", **headers}
                elif isinstance(body, str):
                    raw = body.encode()
                    headers = {"content-type": "text/plain; charset=utf-8", **headers}
                else:
                    raw = body or b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})  # a quick shutdown

    # -- to implement -----------------------------------------------------------------------
    def route(self, request: Seen) -> Answer:
        raise NotImplementedError

    # -- scripting --------------------------------------------------------------------------
    def _take(self, endpoint: str) -> _Scripted | None:
        for scripted in list(self._script):
            if scripted.match is None or endpoint.startswith(scripted.match) or \
                    scripted.match in endpoint:
                if scripted.skip:
                    scripted.skip -= 1
                    return None
                self._script.remove(scripted)
                return scripted
        return None

    def fail_next(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                  *, match: str | None = None, happen: bool = False, times: int = 1,
                  skip: int = 0) -> None:
        """Answer the next ``times`` requests whose "METHOD /path" contains ``match`` with this
        (``happen``: carry each out first, as a server that fails after doing the work)."""
        with self.lock:
            for _ in range(times):
                self._script.append(_Scripted(status, body, dict(headers or {}), match,
                                              happen=happen, skip=skip))

    def no_answer(self, *, match: str | None = None, sleep: float = 2.0) -> None:
        """Carry out the next matching request, then keep silent for ``sleep`` seconds."""
        with self.lock:
            self._script.append(_Scripted(0, None, {}, match, happen=True, sleep=sleep))

    def seen(self, endpoint: str) -> list[Seen]:
        """The requests to "METHOD /path..." (a prefix)."""
        with self.lock:
            return [r for r in self.requests if f"{r.method} {r.path}".startswith(endpoint)]

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> str:
    """The address of a port nothing listens on (a refused connection)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


Handler = Callable[[Seen], Answer]


#: a real 1x1 PNG
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360f8cfc0f01f0005000201a0e2b2150000000049454e44"
                    "ae426082")
