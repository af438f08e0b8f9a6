"""A real HTTP server for feed tests: ``http.server`` in a thread on 127.0.0.1, port 0.

Routes are configured per test::

    with FeedServer() as server:
        url = server.route("/rss.xml", body=b"<rss ...>", etag='"v1"')
        ...
        assert server.requests[-1].headers["If-None-Match"] == '"v1"'

A route can answer 304 to a matching ``If-None-Match`` / ``If-Modified-Since``, redirect, wait
before answering, stream a body of any size without a Content-Length, or answer any status.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: answer 304 when the request's If-None-Match equals it
    etag: str | None = None
    #: answer 304 when the request's If-Modified-Since equals it
    last_modified: str | None = None
    #: answer 302 (or ``status`` when it is a 3xx) with this Location
    redirect_to: str | None = None
    #: seconds to wait before answering
    delay: float = 0.0
    #: send ``body`` this many times, without Content-Length (the connection end ends it)
    repeat: int = 0


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, **options: object) -> str:
        """Serve ``path`` as :class:`Route` (``**options``) says; returns its full URL."""
        self.routes[path] = Route(**options)  # type: ignore[arg-type]
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ serving

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(Request(self.path, dict(self.headers.items())))
                route = server.routes.get(self.path)
                if route is None:
                    self._answer(Route(status=404, body=b"not found", content_type="text/plain"))
                    return
                if route.delay and server._stopping.wait(route.delay):
                    return
                # the client may stop reading (size cap, timeout)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(route)

            def _answer(self, route: Route) -> None:
                if route.redirect_to is not None:
                    self.send_response(route.status if 300 <= route.status < 400 else 302)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self._not_modified(route):
                    self.send_response(304)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if not route.repeat:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                for _ in range(max(route.repeat, 1)):
                    if server._stopping.is_set():
                        return
                    self.wfile.write(route.body)

            def _not_modified(self, route: Route) -> bool:
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    return True
                since = self.headers.get("If-Modified-Since")
                return bool(route.last_modified and since == route.last_modified)

        return Handler


def closed_port_url(path: str = "/rss.xml") -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
