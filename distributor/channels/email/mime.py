"""The mail of a run as bytes: built once, rendered per subscriber by joining bytes.

:class:`MailTemplate` builds the mail with :func:`~.personal.build_mime` and
flattens it to bytes a single time. The parts that differ per subscriber (the ``To`` header,
``Message-ID``, the unsubscribe token in ``List-Unsubscribe`` and in both bodies, the address
in the footer) become *slots*. The bodies are quoted-printable, where a placeholder may be
split by a soft line break and an ``=`` in an address must be written ``=3D``; so substitution
never happens inside encoded bytes: the decoded body is split at its placeholders, each piece
is encoded once, and each subscriber's value is encoded on its own and set between soft line
breaks (``=\\r\\n``). The decoded text is exactly what
:func:`~.personal.personalize` gives. Anything the template cannot carry (a
non-ASCII address, a placeholder inside an encoded header) falls back to building that one mail
in full.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.message import EmailMessage
from html import escape as html_escape
from typing import Any
from urllib.parse import quote

from distributor.channels.email.personal import MIME_POLICY, build_mime
from distributor.channels.email.render import RECIPIENT, UNSUBSCRIBE_TOKEN
from distributor.plugin import utcnow

MESSAGE_ID = "%%MESSAGE_ID%%"
SMTP_POLICY = MIME_POLICY.clone(linesep="\r\n")
SMTP_POLICY_UTF8 = SMTP_POLICY.clone(utf8=True)


@dataclass(frozen=True)
class _Slot:
    name: str  # recipient | token | message_id
    where: str  # header | text | html
    #: the value begins a line (after a soft line break): dot-stuffed on the wire
    line_start: bool = False


_PIECE_RE = re.compile(
    "(" + "|".join(re.escape(p) for p in (RECIPIENT, UNSUBSCRIBE_TOKEN, MESSAGE_ID)) +
    r"|@@DISTRIBUTOR-PART-\d+@@)")
_SLOT_NAMES = {RECIPIENT: "recipient", UNSUBSCRIBE_TOKEN: "token", MESSAGE_ID: "message_id"}
_QP_SAFE = re.compile(r"[!-<>-~]{1,70}")  # printable ASCII without "=", no spaces


def _qp(text: str) -> str:
    """``text`` quoted-printable (UTF-8), CRLF line ends, as the email package encodes."""
    return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n")


def _qp_value(value: str) -> bytes:
    if _QP_SAFE.fullmatch(value):
        return value.encode("ascii")
    return _qp(value).encode("ascii")


class MailTemplate:
    """A mail built once, rendered per subscriber by joining bytes.

    ``render(recipient, token, message_id)`` returns ``(bytes, mail_options)`` ready for
    ``SMTP.sendmail``. ``fast`` is False when the built mail cannot be templated (then every
    mail is built in full, which is correct but slower).
    """

    def __init__(self, message: dict[str, Any], *, sender: str, now: datetime | None = None):
        self.message = message
        self.sender = sender
        self.now = now or utcnow()
        self.pieces: list[bytes | _Slot] = []
        #: the pieces as the DATA command sends them: dot-stuffed, ending with ``.\\r\\n``
        self.wire_pieces: list[bytes | _Slot] = []
        self.fast = self._build()

    def _build(self) -> bool:
        mail = build_mime(self.message, sender=self.sender, to=RECIPIENT,
                          message_id=f"<{MESSAGE_ID}>", now=self.now)
        bodies: dict[str, tuple[str, str]] = {}
        for index, part in enumerate(mail.walk()):
            if part.is_multipart():
                continue
            content = part.get_content()
            if not isinstance(content, str) or not any(
                    p in content for p in (RECIPIENT, UNSUBSCRIBE_TOKEN)):
                continue
            if part.get("Content-Transfer-Encoding", "").lower() != "quoted-printable":
                return False
            marker = f"@@DISTRIBUTOR-PART-{index}@@"
            where = "html" if part.get_content_subtype() == "html" else "text"
            bodies[marker] = (content, where)
            part.set_payload(marker)
        raw = mail.as_bytes(policy=SMTP_POLICY).decode("ascii")
        expected_in_headers = 2 + sum(
            str(value).count(p) for value in [self.message.get("subject", ""),
                                              *(self.message.get("headers") or {}).values()]
            for p in (RECIPIENT, UNSUBSCRIBE_TOKEN))
        seen_in_headers = 0
        pieces: list[bytes | _Slot] = []
        for chunk in _PIECE_RE.split(raw):
            if chunk in _SLOT_NAMES:
                seen_in_headers += 1
                pieces.append(_Slot(_SLOT_NAMES[chunk], "header"))
            elif chunk in bodies:
                pieces.extend(self._body_pieces(*bodies[chunk]))
            elif chunk:
                pieces.append(chunk.encode("ascii"))
        if seen_in_headers != expected_in_headers:
            return False
        # merge neighbouring literals
        merged: list[bytes | _Slot] = []
        for piece in pieces:
            if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] = merged[-1] + piece
            else:
                merged.append(piece)
        self.pieces = merged
        self.wire_pieces = _wire_pieces(merged)
        return True

    @staticmethod
    def _body_pieces(content: str, where: str) -> list[bytes | _Slot]:
        # the email package writes the body with "\n" line ends and a final one
        content = content.replace("\r\n", "\n").replace("\r", "\n")
        if not content.endswith("\n"):
            content += "\n"
        out: list[bytes | _Slot] = []
        parts = re.split("(" + re.escape(RECIPIENT) + "|" + re.escape(UNSUBSCRIBE_TOKEN) + ")",
                         content)
        for i, segment in enumerate(parts):
            if i % 2 == 1:
                out.append(_Slot(_SLOT_NAMES[segment], where))
                out.append(b"=\r\n")  # soft line break: the value ends its own line
                continue
            encoded = _qp(segment)
            if i + 1 < len(parts) and encoded and not encoded.endswith("\r\n"):
                encoded += "=\r\n"
            out.append(encoded.encode("ascii"))
        return out

    def templated(self, recipient: str) -> bool:
        """Whether this recipient's mail is joined from the built bytes (else built in full)."""
        return self.fast and recipient.isascii() and "\r" not in recipient and \
            "\n" not in recipient

    def render(self, recipient: str, token: str, message_id: str) -> tuple[bytes, list[str]]:
        if not self.templated(recipient):
            return self.render_slow(recipient, token, message_id)
        values = self._values(recipient, token, message_id)
        return b"".join(p if isinstance(p, bytes) else values[(p.name, p.where)]
                        for p in self.pieces), []

    def render_wire(self, recipient: str, token: str, message_id: str) -> bytes:
        """The mail of :meth:`render` as the DATA command carries it (CRLF line ends, a line
        that begins with a dot gets a second one, ending with ``.\\r\\n``), for a recipient
        the template serves (:meth:`templated`): the transport writes it as it is."""
        values = self._values(recipient, token, message_id)
        for key, value in values.items():  # a long value is quoted-printable on several lines
            if b"\n." in value:
                values[key] = value.replace(b"\n.", b"\n..")
        return b"".join(p if isinstance(p, bytes) else
                        (b"." + values[(p.name, p.where)]
                         if p.line_start and values[(p.name, p.where)][:1] == b"."
                         else values[(p.name, p.where)])
                        for p in self.wire_pieces)

    @staticmethod
    def _values(recipient: str, token: str, message_id: str) -> dict[tuple[str, str], bytes]:
        quoted = quote(token, safe="-._~")
        return {
            ("recipient", "header"): recipient.encode("ascii"),
            ("recipient", "text"): _qp_value(recipient),
            ("recipient", "html"): _qp_value(html_escape(recipient, quote=True)),
            ("token", "header"): quoted.encode("ascii"),
            ("token", "text"): _qp_value(quoted),
            ("token", "html"): _qp_value(html_escape(quoted, quote=True)),
            ("message_id", "header"): message_id.encode("ascii"),
        }

    def render_slow(self, recipient: str, token: str, message_id: str
                    ) -> tuple[bytes, list[str]]:
        mail: EmailMessage = build_mime(self.message, sender=self.sender, to=recipient,
                                        unsubscribe_token=token, message_id=f"<{message_id}>",
                                        now=self.now)
        if recipient.isascii():
            return mail.as_bytes(policy=SMTP_POLICY), []
        return mail.as_bytes(policy=SMTP_POLICY_UTF8), ["SMTPUTF8"]


def _wire_pieces(pieces: list[bytes | _Slot]) -> list[bytes | _Slot]:
    """``pieces`` dot-stuffed for the DATA command (RFC 5321 4.5.2), ending ``.\\r\\n``.

    A piece begins a line when it is the first or follows a piece ending with a line break;
    a literal's dots are doubled once here, a value's (rare: it would have to begin with a
    dot) when it is joined (``line_start``).
    """
    out: list[bytes | _Slot] = []
    at_line_start = True
    for piece in pieces:
        if isinstance(piece, _Slot):
            out.append(_Slot(piece.name, piece.where, line_start=at_line_start))
            at_line_start = False  # a value never ends a line: a literal follows it
            continue
        stuffed = piece.replace(b"\n.", b"\n..")
        if at_line_start and stuffed[:1] == b".":
            stuffed = b"." + stuffed
        out.append(stuffed)
        at_line_start = piece.endswith(b"\n")
    if not at_line_start:
        out.append(b"\r\n")
    out.append(b".\r\n")
    return out


def message_hash(message: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(message, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()




def mail_bytes(message: dict[str, Any], *, sender: str, to: str) -> tuple[bytes, list[str]]:
    """One mail to one recipient, built in full: ``(bytes, mail_options)`` for
    ``SMTP.sendmail`` (SMTPUTF8 for a non-ASCII address)."""
    mail = build_mime(message, sender=sender, to=to)
    if to.isascii():
        return mail.as_bytes(policy=SMTP_POLICY), []
    return mail.as_bytes(policy=SMTP_POLICY_UTF8), ["SMTPUTF8"]
