"""SMTP, and only SMTP: the client (aiosmtplib: STARTTLS, TLS or plain, with login), the
messenger (:class:`Connection`: one message to one recipient, and what the server answered),
what an error means to a reader, what an answer means for the address (a hard or a soft
bounce), and the addresses of a ``From``. No other module of the package imports aiosmtplib."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import re
import ssl
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Literal

import aiosmtplib

from distributor.channels.email.config import SmtpConfig

log = logging.getLogger("distributor.fanout")


def address_of(sender: str) -> str:
    """The bare address of ``"Name <a@b>"``."""
    for _name, address in getaddresses([sender]):
        if "@" in address:
            return address
    return sender.strip()


def domain_of(sender: str) -> str:
    return address_of(sender).rpartition("@")[2] or "localhost"


@functools.lru_cache(maxsize=8)
def _tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """What aiosmtplib builds for each connection (the system's CA certificates, or the
    configured ones), built once: reading the certificates is ~30 ms of CPU, and a fan-out
    opens several connections and opens them again after every break."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = verify
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def smtp_client(smtp: SmtpConfig) -> aiosmtplib.SMTP:
    password = smtp.password.get_secret_value()
    ca_file = str(smtp.ca_file) if smtp.ca_file else None
    return aiosmtplib.SMTP(
        hostname=smtp.host, port=smtp.port,
        username=smtp.username or None, password=password if smtp.username else None,
        use_tls=smtp.security == "tls", start_tls=smtp.security == "starttls",
        timeout=smtp.timeout, validate_certs=smtp.verify,
        tls_context=_tls_context(smtp.verify, ca_file) if smtp.security != "none" else None,
        local_hostname=smtp.local_hostname)


def describe_smtp_error(exc: BaseException, smtp: SmtpConfig) -> str:
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (f"the SMTP server {where} refused the login of {smtp.username!r}: "
                f"{exc.code} {exc.message}; check smtp.username and smtp.password")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the SMTP server {where} answered {exc.code} {exc.message}"
    text = str(exc) or type(exc).__name__
    certificate = _certificate_error(exc)
    if certificate is not None:
        reason = certificate.verify_message or str(certificate)
        return (f"the SMTP server {where} showed a certificate this machine does not trust "
                f"({reason}); set smtp.ca_file to the certificate of the authority that "
                f"signed it, or smtp.verify: false if you accept an unchecked connection")
    return f"cannot talk to the SMTP server {where}: {text}"


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate check that failed behind ``exc`` (aiosmtplib may wrap it), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _permanent_for_run(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return True
    if _certificate_error(exc) is not None:
        return True  # trying again meets the same certificate
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and exc.code >= 500:
        return True
    return isinstance(exc, aiosmtplib.SMTPNotSupported)


_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def bounce_kind(code: int, message: str) -> str:
    """``hard`` for a 5xx about the address (no such user, bad domain), ``soft`` for one
    about the moment or the content (mailbox full, message too big, policy)."""
    match = _ENHANCED.search(message)
    if match and match.group(1) == "5":
        subject = match.group(2)
        detail = match.group(3)
        if subject == "1":
            return "hard"
        if subject in ("2", "3", "4", "7") or (subject == "5" and detail != "1"):
            return "soft"
    if code in (550, 551, 553):
        return "hard"
    return "soft"


# --------------------------------------------------------------------------- the messenger


async def send_wire(client: aiosmtplib.SMTP, envelope_from: str, to: str, wire: bytes,
                    options: list[str]) -> None:
    """One transaction (MAIL, RCPT, DATA) whose DATA bytes are ready for the wire.

    ``SMTP.sendmail`` rewrites every message's line ends and dot-stuffs it (two regular
    expression passes over the whole mail, three with SIZE) each time it is sent; a mail built
    once is prepared once (:meth:`~.mime.MailTemplate.render_wire`), so only the commands go
    through aiosmtplib and the bytes are written as they are. The errors raised are those of
    ``sendmail``, and the envelope is reset after a refusal, as ``sendmail`` does.
    """
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    encoding = "utf-8" if any(o.lower() == "smtputf8" for o in options) else "ascii"
    mail_options = list(options)
    if client.supports_extension("size"):
        mail_options.insert(0, f"size={len(wire) - 3}")
    try:
        await client.mail(envelope_from, options=mail_options, encoding=encoding)
        try:
            await client.rcpt(to, encoding=encoding)
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise aiosmtplib.SMTPRecipientsRefused([exc]) from None
        response = await client.execute_command(b"DATA")
        if response.code != 354:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        try:
            protocol.write(wire)  # no await between the write and the read: the reply is ours
            response = await protocol.read_response(timeout=client.timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            client.close()
            raise
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await client.rset()
        raise


class ConnectError(Exception):
    """No connection could be opened; ``permanent`` when trying again will not help (login
    refused, sender refused, a required extension missing)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Answer:
    """What became of one message:

    - ``sent``: accepted (250);
    - ``refused``: the server answered for this recipient (``code``: 4xx later, 5xx a bounce);
    - ``unsupported``: the server cannot take this message (``message`` says why);
    - ``sender-refused``: a 5xx to the envelope sender: no message of the run can go;
    - ``again``: not taken, the connection was unusable: send it again on a new one;
    - ``broken``: the connection broke mid-transaction: the server may have taken it, send it
      again on a new one (it may repeat).
    """

    kind: Literal["sent", "refused", "unsupported", "sender-refused", "again", "broken"]
    code: int = 0
    message: str = ""
    #: for ``again``: how long this connection should rest before it opens anew
    pause: float = 0.0


class Connection:
    """One SMTP connection of a pool, the messenger: it only pushes one message to one
    recipient at a time and says what the server answered. It opens on first use (with
    backoff), and opens anew after an answer that left it unusable."""

    def __init__(self, smtp: SmtpConfig, name: str, *, attempts: int = 6):
        self.smtp = smtp
        self.name = name
        self.attempts = attempts
        self.client: aiosmtplib.SMTP | None = None
        #: messages accepted on the current connection
        self.sent = 0

    async def open(self) -> None:
        """Connect unless connected; after ``attempts`` failures in a row, :class:`ConnectError`."""
        failures = 0
        while self.client is None:
            client = smtp_client(self.smtp)
            try:
                await client.connect()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    client.close()
                if _permanent_for_run(exc):
                    raise ConnectError(describe_smtp_error(exc, self.smtp),
                                       permanent=True) from None
                failures += 1
                if failures >= self.attempts:
                    raise ConnectError(describe_smtp_error(exc, self.smtp)) from None
                delay = min(10.0, 0.25 * 2 ** failures) * (0.5 + random.random() / 2)
                log.warning("%s: %s; connecting again in %.1fs", self.name,
                            describe_smtp_error(exc, self.smtp), delay)
                await asyncio.sleep(delay)
            else:
                self.client, self.sent = client, 0

    async def send(self, envelope_from: str, to: str, data: bytes, options: list[str], *,
                   wire: bool = False) -> Answer:
        """Send one message over the open connection (see :meth:`open`). ``wire``: ``data``
        is already in its DATA form (CRLF line ends, dot-stuffed, ending ``.\\r\\n``, see
        :meth:`~.mime.MailTemplate.render_wire`) and goes out as it is."""
        assert self.client is not None
        try:
            if wire:
                await send_wire(self.client, envelope_from, to, data, options)
            else:
                await self.client.sendmail(envelope_from, [to], data, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            if refused.code == 421:
                await self.close()
            return Answer("refused", refused.code, refused.message)
        except aiosmtplib.SMTPSenderRefused as exc:
            if exc.code >= 500:
                return Answer("sender-refused", exc.code, exc.message)
            await self.close()
            return Answer("again", exc.code, exc.message, pause=1.0)
        except aiosmtplib.SMTPDataError as exc:
            if exc.code == 421:
                await self.close()
            return Answer("refused", exc.code, exc.message)
        except aiosmtplib.SMTPNotSupported as exc:
            return Answer("unsupported", message=str(exc))
        except aiosmtplib.SMTPResponseException as exc:
            # 421 on MAIL, or an odd answer: the connection is unusable
            await self.close()
            return Answer("again", exc.code, exc.message, pause=0.5 if exc.code == 421 else 0.0)
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.info("%s: %s; reconnecting", self.name, describe_smtp_error(exc, self.smtp))
            await self.close()
            return Answer("broken", message=str(exc))
        self.sent += 1
        return Answer("sent")

    async def close(self, *, polite: float = 0.0) -> None:
        """Close the connection; ``polite``: say QUIT first, waiting at most that many
        seconds (never when cancelled)."""
        client, self.client = self.client, None
        if client is not None:
            if polite:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.quit(), polite)
            with contextlib.suppress(Exception):
                client.close()
