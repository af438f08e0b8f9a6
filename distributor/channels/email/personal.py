"""One subscriber's mail: the placeholders of a rendered mail (:mod:`.render`) replaced
(:func:`personalize`), and the mail as a MIME message (:func:`build_mime`, with the headers
kept on one line and the mail's policy, :data:`MIME_POLICY`)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any
from urllib.parse import quote

from distributor.channels.email.render import RECIPIENT, UNSUBSCRIBE_TOKEN
from distributor.plugin import Message, utcnow

__all__ = ["MIME_POLICY", "build_mime", "personalize"]


def personalize(message: Message, *, recipient: str | None = None,
                unsubscribe_token: str | None = None) -> Message:
    """A copy of ``message`` with the placeholders replaced for one subscriber.

    The token is URL-quoted (it sits in a URL) and, in the HTML, escaped like the address.
    """
    replacements: dict[str, tuple[str, str]] = {}
    if recipient is not None:
        replacements[RECIPIENT] = (recipient, html_lib.escape(recipient, quote=True))
    if unsubscribe_token is not None:
        token = quote(unsubscribe_token, safe="-._~")
        replacements[UNSUBSCRIBE_TOKEN] = (token, html_lib.escape(token, quote=True))

    def apply(value: str, *, in_html: bool = False) -> str:
        for placeholder, (plain, escaped) in replacements.items():
            value = value.replace(placeholder, escaped if in_html else plain)
        return value

    out: Message = dict(message)
    for key in ("subject", "text"):
        if isinstance(out.get(key), str):
            out[key] = apply(out[key])
    if isinstance(out.get("html"), str):
        out["html"] = apply(out["html"], in_html=True)
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        out["headers"] = {name: apply(str(value)) for name, value in headers.items()}
    return out


class _OneLineHeader(UnstructuredHeader, BaseHeader):
    """A header whose value is a URL in angle brackets (List-Unsubscribe, RFC 2369 and 8058).

    Python folds a long unstructured header into RFC 2047 encoded words, which no mail client
    reads back as a URL; an ASCII value is written on one line instead (RFC 5322 allows 998).
    The header object keeps this behaviour whatever policy the message is later flattened with.
    """

    def fold(self, *, policy: Any) -> str:
        value = str(self)
        if value.isascii() and len(self.name) + len(value) + 2 <= 998:
            return f"{self.name}: {value}{policy.linesep}"
        return str(super().fold(policy=policy))


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _OneLineHeader)
_HEADERS.map_to_type("list-unsubscribe-post", _OneLineHeader)
_HEADERS.map_to_type("list-post", _OneLineHeader)
_HEADERS.map_to_type("list-help", _OneLineHeader)
_HEADERS.map_to_type("list-archive", _OneLineHeader)
MIME_POLICY = email_policy.default.clone(header_factory=_HEADERS)

_RESERVED = {"subject", "from", "to", "date", "message-id", "mime-version", "content-type",
             "content-transfer-encoding"}


def build_mime(message: Message, *, sender: str, to: str = RECIPIENT,
               unsubscribe_token: str | None = None, now: datetime | None = None,
               message_id: str | None = None) -> EmailMessage:
    """``message`` as a MIME mail: multipart/alternative (text, then html), UTF-8,
    quoted-printable, with Date, Message-ID (domain of the From address) and its headers.

    When ``to`` is a real address it replaces ``%%RECIPIENT%%``; ``unsubscribe_token``
    replaces ``%%UNSUBSCRIBE_TOKEN%%``.
    """
    if to != RECIPIENT or unsubscribe_token is not None:
        message = personalize(message, recipient=None if to == RECIPIENT else to,
                              unsubscribe_token=unsubscribe_token)
    mail = EmailMessage(policy=MIME_POLICY)
    mail["Subject"] = " ".join(str(message.get("subject", "")).split())
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(now or utcnow())
    mail["Message-ID"] = message_id or make_msgid(domain=_domain_of(sender))
    for name, value in (message.get("headers") or {}).items():
        if name.lower() in _RESERVED:
            continue
        mail[name] = str(value)
    text = str(message.get("text") or "")
    mail.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    html = message.get("html")
    if html:
        mail.add_alternative(str(html), subtype="html", charset="utf-8",
                             cte="quoted-printable")
    return mail


def _domain_of(sender: str) -> str:
    for _name, address in getaddresses([sender]):
        if "@" in address:
            domain = address.rpartition("@")[2].strip().strip(">")
            if domain:
                try:
                    return Address(addr_spec=f"x@{domain}").domain
                except (ValueError, IndexError):
                    return domain
    return "localhost"
