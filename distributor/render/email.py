"""Email: the daily digest and single-article ("breaking news") mails.

A mail is rendered once for all subscribers as ``{"subject", "html", "text", "headers"}``
(Contract 3). What differs per subscriber is left as placeholders that survive HTML escaping,
CSS inlining and quoted-printable encoding unchanged:

- :data:`UNSUBSCRIBE_TOKEN` (``%%UNSUBSCRIBE_TOKEN%%``): in the unsubscribe link of the footer
  (html and text) and in the ``List-Unsubscribe`` header;
- :data:`RECIPIENT` (``%%RECIPIENT%%``): the subscriber's address, in the footer.

:func:`personalize` (or :func:`build_mime` with ``to=`` and ``unsubscribe_token=``) replaces
them for one subscriber; do it on the message before MIME encoding, never on encoded bytes.

HTML comes from ``email/<kind>.html`` (autoescaped), the plain-text alternative from
``email/<kind>.txt`` with the same data; premailer then inlines the CSS into ``style=""``
attributes, keeping the ``@media`` rules (narrow screens, dark mode) in a ``<style>`` block.
"""

from __future__ import annotations

import html as html_lib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any
from urllib.parse import quote

from premailer import Premailer

from distributor.articles import Article
from distributor.channels.base import Message, RenderContext
from distributor.render import (
    hostname,
    language_of,
    local_now,
    site_date,
    templates_for,
    words,
)
from distributor.render.split import shorten

__all__ = [
    "RECIPIENT",
    "UNSUBSCRIBE_TOKEN",
    "build_mime",
    "digest_subject",
    "inline_css",
    "personalize",
    "render_article_email",
    "render_digest_email",
    "unsubscribe_url",
]

UNSUBSCRIBE_TOKEN = "%%UNSUBSCRIBE_TOKEN%%"
RECIPIENT = "%%RECIPIENT%%"

#: default digest subjects by language; fields: {site}, {date}, {count}
DEFAULT_DIGEST_SUBJECT = {"id": "{site} — {date}", "en": "{site}: {date}"}

PREHEADER_LENGTH = 140


# --------------------------------------------------------------------------- CSS


def inline_css(html: str) -> str:
    """Inline the ``<style>`` rules into ``style=""`` attributes (Gmail, Outlook drop
    ``<style>`` in places); ``@media`` rules and ``!important`` stay in a ``<style>`` block.
    Never touches the network or the file system."""
    premailer = Premailer(
        html,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        allow_network=False,
        allow_loading_external_files=False,
        exclude_pseudoclasses=True,
        # the templates set width= and height= themselves; CSS values like "100%" or "auto"
        # would make Outlook draw images at the wrong size
        disable_basic_attributes=["width", "height"],
    )
    out: str = premailer.transform()
    if not out.lstrip().lower().startswith("<!doctype"):
        out = "<!DOCTYPE html>\n" + out
    return out


# --------------------------------------------------------------------------- rendering


def unsubscribe_url(ctx: RenderContext) -> str:
    """``{web.base_url}/unsubscribe/%%UNSUBSCRIBE_TOKEN%%``."""
    base = getattr(ctx.web, "base_url", None) or "http://localhost:8000"
    return f"{base.rstrip('/')}/unsubscribe/{UNSUBSCRIBE_TOKEN}"


def _list_id(ctx: RenderContext) -> str:
    host = hostname(ctx.site.url) or "localhost"
    label = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-"
                    for c in ctx.channel.name).strip("-") or "news"
    name = " ".join(ctx.site.name.split())
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{label}.{host}>'
    # non-ASCII: an unquoted phrase, so that its encoded words stay valid (RFC 2047)
    phrase = "".join(c for c in name if c not in '"()<>[]:;@\\,.')
    return f"{phrase} <{label}.{host}>"


def _headers(ctx: RenderContext) -> dict[str, str]:
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url(ctx)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": _list_id(ctx),
    }
    reply_to = getattr(ctx.channel, "reply_to", None)
    if reply_to:
        headers["Reply-To"] = str(reply_to)
    return headers


def _common(ctx: RenderContext, language: str, subject: str, now: datetime) -> dict[str, Any]:
    word = words(language)
    return {
        "site": ctx.site,
        "web": ctx.web,
        "channel": ctx.channel,
        "language": language,
        "words": word,
        "subject": subject,
        "now": now,
        "date_text": site_date(now, ctx.site, language=language),
        "unsubscribe_url": unsubscribe_url(ctx),
        "recipient": RECIPIENT,
        "sent_to_note": word.sent_to.format(recipient=RECIPIENT),
    }


def _preheader(text: str) -> str:
    return shorten(text, lambda candidate: len(candidate) <= PREHEADER_LENGTH)


def _render(ctx: RenderContext, kind: str, data: dict[str, Any]) -> tuple[str, str]:
    templates = templates_for(ctx)
    html = inline_css(templates.render(f"email/{kind}.html", **data))
    text = templates.render(f"email/{kind}.txt", **data).strip() + "\n"
    return html, text


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def digest_subject(ctx: RenderContext, count: int, now: datetime | None = None) -> str:
    """``subject:`` of the channel (fields {site}, {date}, {count}), else the site's name and
    the date in the site's language: "RI News Portal — Rabu, 25 November 2026"."""
    language = ctx.site.language
    local = local_now(ctx.site, now if now is not None else ctx.now)
    date_text = site_date(local, ctx.site, language=language)
    configured = getattr(ctx.channel, "subject", None)
    pattern = configured or DEFAULT_DIGEST_SUBJECT.get(
        language.replace("_", "-").split("-")[0].lower(), DEFAULT_DIGEST_SUBJECT["en"])
    fields = _Fields(site=ctx.site.name, date=date_text, count=str(count))
    return " ".join(pattern.format_map(fields).split())


def render_digest_email(articles: list[Article], ctx: RenderContext) -> list[Message]:
    """The digest of ``articles`` as one mail (placeholders for the subscriber)."""
    now = local_now(ctx.site, ctx.now)
    language = ctx.site.language
    subject = digest_subject(ctx, len(articles), now)
    data = _common(ctx, language, subject, now)
    data["articles"] = articles
    data["preheader"] = _preheader(" · ".join(a.title for a in articles))
    html, text = _render(ctx, "digest", data)
    return [{"subject": subject, "html": html, "text": text, "headers": _headers(ctx)}]


def render_article_email(article: Article, ctx: RenderContext) -> list[Message]:
    """A single article as one mail, its title as the subject."""
    now = local_now(ctx.site, ctx.now)
    language = language_of(article, ctx.site)
    subject = " ".join(article.title.split())
    data = _common(ctx, language, subject, now)
    data["article"] = article
    data["preheader"] = _preheader(article.lede)
    html, text = _render(ctx, "article", data)
    return [{"subject": subject, "html": html, "text": text, "headers": _headers(ctx)}]


# --------------------------------------------------------------------------- per subscriber


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
    mail["Date"] = format_datetime(now or datetime.now(UTC))
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
