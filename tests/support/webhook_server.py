"""A real HTTP server that receives the webhook plugin's posts and records them.

Scriptable: answer the next requests with a status, delay them, or drop the answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    def __init__(self, delay: float = 0.0):
        self.received: list[dict[str, Any]] = []
        #: every request that came in (answered or not): its headers and raw body
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script: deque[tuple[int, dict[str, str]]] = deque()
        self.delay = delay
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                with server.lock:
                    server.requests.append((dict(self.headers.items()), raw))
                    status, headers = server.script.popleft() if server.script else (200, {})
                if status == 200:
                    if server.delay:
                        time.sleep(server.delay)
                    with server.lock:
                        server.received.append(body)
                        ident = len(server.received)
                    payload = json.dumps({"id": f"m{ident}"}).encode()
                elif status == 0:  # accept the post, never answer in time
                    with server.lock:
                        server.received.append(body)
                    time.sleep(float(headers.get("sleep", "3")))
                    return
                else:
                    payload = json.dumps({"error": status}).encode()
                self.send_response(status if status else 200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})  # a quick shutdown

    def answer(self, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next ``times`` posts with ``status`` (0: take it, never answer)."""
        with self.lock:
            for _ in range(times):
                self.script.append((status, headers))

    def texts(self) -> list[str]:
        with self.lock:
            return [r["text"] for r in self.received]

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
