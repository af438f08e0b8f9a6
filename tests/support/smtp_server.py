"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, collecting envelopes.

Scriptable per recipient: ``server.refuse(address, "451 4.7.1 try later", "550 5.1.1 no")``
answers the next RCPT TO commands for that address with those replies, one per attempt.
``server.drop_next(n)`` closes the connection instead of answering the next n DATA commands
(the message is not kept). Optional login (AUTH PLAIN/LOGIN), STARTTLS or implicit TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: learn the port the system gave before triggering."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(self, *, delay: float = 0.0, login: tuple[str, str] | None = None,
                 starttls: ssl.SSLContext | None = None, tls: ssl.SSLContext | None = None,
                 keep: bool = True):
        self.received: list[Received] = []
        self.count = 0
        self.connections = 0
        self.delay = delay
        self.keep = keep
        self.lock = threading.Lock()
        self.script: dict[str, deque[str]] = {}
        self.rcpt_attempts: dict[str, int] = {}
        #: replies to the next MAIL FROM commands, in order (then 250)
        self.sender_script: deque[str] = deque()
        self._drop = 0
        owner = self

        class Handler:
            async def handle_EHLO(self, server: Any, session: Any, envelope: Any,
                                  hostname: str, responses: list[str]) -> list[str]:
                with owner.lock:
                    owner.connections += 1
                session.host_name = hostname
                return responses

            async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                                  mail_options: list[str]) -> str:
                with owner.lock:
                    reply = owner.sender_script.popleft() if owner.sender_script else None
                if reply:
                    return reply
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                                  rcpt_options: list[str]) -> str:
                key = address.lower()
                with owner.lock:
                    owner.rcpt_attempts[key] = owner.rcpt_attempts.get(key, 0) + 1
                    queue = owner.script.get(key)
                    reply = queue.popleft() if queue else None
                if reply:
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with owner.lock:
                    drop = owner._drop > 0
                    if drop:
                        owner._drop -= 1
                if drop:
                    server.transport.close()
                    return "421 4.3.0 closing"
                if owner.delay:
                    await asyncio.sleep(owner.delay)
                with owner.lock:
                    owner.count += 1
                    if owner.keep:
                        owner.received.append(Received(
                            envelope.mail_from, list(envelope.rcpt_tos),
                            bytes(envelope.original_content or envelope.content)))
                return "250 2.0.0 Message accepted for delivery"

        kwargs: dict[str, Any] = {}
        if login is not None:
            user, password = login

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                              auth_data: Any) -> AuthResult:
                ok = isinstance(auth_data, LoginPassword) and \
                    auth_data.login.decode() == user and auth_data.password.decode() == password
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=starttls is not None)
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        self.controller = _Controller(Handler(), hostname="127.0.0.1", port=0,
                                      ssl_context=tls, ready_timeout=10, **kwargs)

    # -- scripting --------------------------------------------------------------------------
    def refuse(self, address: str, *replies: str) -> None:
        with self.lock:
            self.script.setdefault(address.lower(), deque()).extend(replies)

    def refuse_sender(self, *replies: str) -> None:
        with self.lock:
            self.sender_script.extend(replies)

    def drop_next(self, n: int = 1) -> None:
        with self.lock:
            self._drop += n

    # -- reading ----------------------------------------------------------------------------
    def recipients(self) -> list[str]:
        with self.lock:
            return [r for m in self.received for r in m.rcpt_tos]

    def for_recipient(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address in m.rcpt_tos]

    # -- life -------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: the certificate and key made by openssl, once a process (an RSA key is ~0.2 s of CPU)
_PAIR: list[tuple[bytes, bytes]] = []


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1/localhost made with openssl (once a process, then copied
    into ``folder``), or None without openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not _PAIR:
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-keyout", str(key), "-out", str(cert)],
                           check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        _PAIR.append((cert.read_bytes(), key.read_bytes()))
    cert.write_bytes(_PAIR[0][0])
    key.write_bytes(_PAIR[0][1])
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def email_channel_yaml(server: SmtpServer, *, name: str = "daily", publish: str = "digest",
                       extra: str = "", security: str = "none", smtp_extra: str = "") -> str:
    """A channels.yaml ``channels:`` item (two-space indented list entry) for an email
    channel that sends to ``server``."""
    schedule = '    schedule: "0 6 * * *"\n' if publish == "digest" else ""
    return (f"  - name: {name}\n"
            f"    type: email\n"
            f"    publish: {publish}\n"
            f"{schedule}"
            f'    from: "RI News Portal <redaksi@rinews.example>"\n'
            f"    retry_delays: [100ms]\n"
            f"{extra}"
            f"    smtp:\n"
            f"      host: 127.0.0.1\n"
            f"      port: {server.port}\n"
            f"      security: {security}\n"
            f"      timeout: 10\n"
            f"{smtp_extra}")
