"""A real HTTP server that stands between a client and a platform's double and misbehaves on
purpose, the way networks and platforms do: :class:`FaultProxy`.

Requests pass through to the upstream server unchanged, except the next ``times`` requests
whose path contains ``target``, which meet one fault:

- ``timeout``: the request reaches the platform (it acts on it), no answer ever comes;
- ``reset``: the platform acts, the answer is cut off half way and the connection reset;
- ``429``: Too Many Requests with ``Retry-After: 7`` (and the platform's own words, ``body``);
- ``429-bare``: Too Many Requests with no hint when to come back;
- ``5xx``: 502 Bad Gateway from a proxy (an HTML page), the platform never saw the request;
- ``malformed``: the platform acts, the answer is 200 with a body that is no JSON.

A TLS error needs no fault: an ``https://`` URL to this plain-HTTP server fails the handshake
(:attr:`tls_url`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("timeout", "reset", "429", "429-bare", "5xx", "malformed")


@dataclass
class Rule:
    target: str
    fault: str
    times: int = 1
    #: the JSON body of a 429 (the platform's words); the Retry-After header is added for "429"
    body: dict[str, Any] = field(default_factory=dict)
    bare_body: dict[str, Any] = field(default_factory=dict)


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.faulted: list[str] = []  # paths that met a fault
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._open = 0  # faulted requests whose upstream part is not over yet
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, target: str, fault: str, *, times: int = 1, body: dict[str, Any] | None = None,
             bare_body: dict[str, Any] | None = None) -> None:
        assert fault in FAULTS, fault
        with self._lock:
            self.rules.append(Rule(target, fault, times, body or {}, bare_body or body or {}))

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _take(self, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.times > 0 and rule.target in path:
                    rule.times -= 1
                    self.faulted.append(path)
                    self._open += 1
                    return rule
        return None

    def _settle(self) -> None:
        with self._settled:
            self._open -= 1
            self._settled.notify_all()

    def settled(self, timeout: float = 30.0) -> None:
        """Wait until the platform has had every faulted request it was going to get (the
        client may have given up on its answer long before)."""
        with self._settled:
            assert self._settled.wait_for(lambda: self._open == 0, timeout), "still forwarding"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rule = proxy._take(self.path)
                self.settled = rule is None
                try:
                    self._faulty(rule, body)
                finally:
                    self._settle()

            def _settle(self) -> None:
                if not self.settled:
                    self.settled = True
                    proxy._settle()

            def _faulty(self, rule: Rule | None, body: bytes) -> None:
                fault = rule.fault if rule else None
                if fault in ("429", "429-bare"):
                    headers = {"Retry-After": "7"} if fault == "429" else {}
                    words = rule.body if fault == "429" else rule.bare_body  # type: ignore[union-attr]
                    self._answer(429, json.dumps(words or {"error": "Too Many Requests"})
                                 .encode(), "application/json", headers)
                    return
                if fault == "5xx":
                    self._answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                                 "text/html")
                    return
                status, reason, headers, answer = self._forward(body)
                if fault == "timeout":
                    self._settle()  # the platform acted; no answer comes
                    proxy._stopping.wait(60)
                    self.close_connection = True
                    return
                if fault == "reset":
                    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n" \
                           f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    self.wfile.write(head + answer[:len(answer) // 2])
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))  # RST, not FIN
                    self.close_connection = True
                    return
                if fault == "malformed":
                    self._answer(200, b"<html>Service temporarily rerouted</html>", "text/html")
                    return
                self._answer(status, answer, headers.get("Content-Type", "application/json"),
                             {k: v for k, v in headers.items()
                              if k.lower().startswith(("x-", "retry-after", "etag",
                                                       "last-modified"))})

            def _forward(self, body: bytes) -> tuple[int, str, dict[str, str], bytes]:
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("connection", "keep-alive")}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.reason, dict(response.getheaders()), \
                        response.read()
                finally:
                    connection.close()

            def _answer(self, status: int, body: bytes, content_type: str,
                        headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


class ScriptedSmtp:
    """A real SMTP server on 127.0.0.1 (a socket speaking the protocol line by line) that
    answers the end of a message's DATA with ``fault``:

    - ``None``: 250, taken; ``timeout``: taken, no answer ever; ``reset``: taken, the answer
      cut after two bytes and the connection reset;
    - ``451``: "451 4.7.1 greylisted, try again in 300 seconds" (later, with a hint);
    - ``421``: "421 4.7.0 too many messages, closing" (later, no hint; the server hangs up);
    - ``554``: "554 5.7.1 message rejected" (never);
    - ``malformed``: the greeting is no SMTP at all (an HTTP server on the port).

    ``taken`` counts the messages whose DATA the server read in full.
    """

    def __init__(self, fault: str | None = None):
        self.fault = fault
        self.taken = 0
        self._stopping = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ScriptedSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        # the client may hang up first (a feed client speaking HTTP to it, say): nothing to say
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._converse(conn)

    def _converse(self, conn: socket.socket) -> None:
        with conn:
            out = conn.makefile("wb")
            lines = conn.makefile("rb")

            def say(text: str) -> None:
                out.write(text.encode() + b"\r\n")
                out.flush()

            if self.fault == "malformed":
                say("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n")
                return
            say("220 smtp.test ESMTP")
            for raw in lines:
                verb = raw.decode(errors="replace").strip().split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-smtp.test\r\n250-8BITMIME\r\n250 SMTPUTF8")
                elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                    say("250 2.0.0 ok")
                elif verb == "QUIT":
                    say("221 2.0.0 bye")
                    return
                elif verb == "DATA":
                    say("354 go ahead")
                    for line in lines:
                        if line in (b".\r\n", b".\n"):
                            break
                    self.taken += 1
                    if not self._end_of_data(conn, say):
                        return
                else:
                    say("502 5.5.2 not implemented")

    def _end_of_data(self, conn: socket.socket, say: Any) -> bool:
        """Answer the end of DATA; False when the connection ends here."""
        if self.fault is None:
            say("250 2.0.0 queued")
        elif self.fault == "timeout":
            self._stopping.wait(60)
            return False
        elif self.fault == "reset":
            conn.sendall(b"25")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif self.fault == "451":
            say("451 4.7.1 greylisted, try again in 300 seconds")
        elif self.fault == "421":
            say("421 4.7.0 too many messages, closing")
            return False
        elif self.fault == "554":
            say("554 5.7.1 message rejected")
        return True
