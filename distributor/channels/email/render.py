"""Email: the daily digest and single-article ("breaking news") mails.

A mail is rendered once for all subscribers as ``{"subject", "html", "text", "headers"}``
(Contract 3). What differs per subscriber is left as placeholders that survive HTML escaping,
CSS inlining and quoted-printable encoding unchanged:

- :data:`UNSUBSCRIBE_TOKEN` (``%%UNSUBSCRIBE_TOKEN%%``): in the unsubscribe link of the footer
  (html and text) and in the ``List-Unsubscribe`` header;
- :data:`RECIPIENT` (``%%RECIPIENT%%``): the subscriber's address, in the footer.

:func:`~.personal.personalize` (or :func:`~.personal.build_mime` with ``to=`` and
``unsubscribe_token=``) replaces them for one subscriber; do it on the message before MIME
encoding, never on encoded bytes.

HTML comes from ``email/<kind>.html`` (autoescaped), the plain-text alternative from
``email/<kind>.txt`` with the same data; premailer then inlines the CSS into ``style=""``
attributes, keeping the ``@media`` rules (narrow screens, dark mode) in a ``<style>`` block.
A channel's ``template:`` replaces ``email/<kind>.html`` (``{kind}`` in it becomes
``digest`` or ``article``); its text sibling is the same name ending in ``.txt`` (the built-in
text template when there is none).

Gmail clips a mail whose HTML passes about 102 KB and hides the rest, unsubscribe link
included: a digest shows at most :data:`MAX_CARDS` cards and stops adding cards before its HTML
passes :data:`HTML_BUDGET` bytes; a line links to the site for the articles left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from premailer import Premailer

from distributor.plugin import (
    RECIPIENT_PLACEHOLDER,
    Article,
    Message,
    RenderContext,
    Templates,
    channel_template,
    cut,
    day_and_month,
    headline,
    hostname,
    language_of,
    local_now,
    site_date,
    teaser,
    templates_for,
    title_repeats_lede,
    words,
)

__all__ = [
    "HTML_BUDGET",
    "MAX_CARDS",
    "RECIPIENT",
    "SUBJECT_LIMIT",
    "UNSUBSCRIBE_TOKEN",
    "Card",
    "digest_card",
    "digest_subject",
    "inline_css",
    "render_article_email",
    "render_digest_email",
    "unsubscribe_url",
]

UNSUBSCRIBE_TOKEN = "%%UNSUBSCRIBE_TOKEN%%"
RECIPIENT = RECIPIENT_PLACEHOLDER

#: the default digest subject, in every language: "RI News Portal, 3 Desember: <lead headline>
#: dan 8 berita lainnya". Fields of a channel's ``subject:``: {site}, {date} (the full date),
#: {day} ("3 Desember"), {count} (articles), {lead} (the first article's headline, cut to fit
#: SUBJECT_LIMIT), {more} (" dan 8 berita lainnya", "" for one article)
DEFAULT_DIGEST_SUBJECT = "{site}, {day}: {lead}{more}"
#: the subject without a headline (a lead article without one)
HEADLESS_DIGEST_SUBJECT = "{site}, {day}"
#: longest digest subject, in characters: the lead headline is cut (at a clause, else a word)
#: to keep within it
SUBJECT_LIMIT = 120

PREHEADER_LENGTH = 140
#: most article cards in one digest (``max_cards`` of the channel, when it has one)
MAX_CARDS = 30
#: a digest's HTML stays under this many bytes (Gmail clips at about 102 KB)
HTML_BUDGET = 90 * 1024
#: longest teaser of a digest card, and of a single-article mail, in characters
CARD_TEASER = 600
ARTICLE_TEASER = 3000
#: longest headline printed (titles of feed items can be anything)
HEADLINE_LIMIT = 200


# --------------------------------------------------------------------------- CSS


#: how premailer is set for every mail
_PREMAILER_OPTIONS: dict[str, Any] = {
    "base_url": None,
    "disable_link_rewrites": True,
    "keep_style_tags": False,
    "remove_classes": False,
    "strip_important": False,
    "disable_validation": True,
    "cssutils_logging_level": logging.CRITICAL,
    "allow_network": False,
    "allow_loading_external_files": False,
    "exclude_pseudoclasses": True,
    # the templates set width= and height= themselves; CSS values like "100%" or "auto"
    # would make Outlook draw images at the wrong size
    "disable_basic_attributes": ["width", "height"],
}


class _Leftover(list[str]):
    """The rules of a ``<style>`` block that stay in it, already written out as CSS."""


@lru_cache(maxsize=64)
def _style_rules(css: str, index: int) -> tuple[tuple[Any, ...], str]:
    """What premailer reads from one ``<style>`` block: its rules to inline, and the CSS of
    those left in the block. Every mail of a template has the same block, and reading it (in
    cssutils) is most of premailer's time: it is read once."""
    reader = Premailer("", **_PREMAILER_OPTIONS)
    rules, leftover = reader._parse_style_rules(css, index)
    return tuple(rules), reader._css_rules_to_string(leftover) if leftover else ""


class _Inliner(Premailer):
    """premailer, with the reading of a ``<style>`` block kept (:func:`_style_rules`)."""

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], Any]:
        rules, leftover = _style_rules(css_body or "", ruleset_index)
        return list(rules), _Leftover([leftover] if leftover else [])

    def _css_rules_to_string(self, rules: Any) -> str:
        if isinstance(rules, _Leftover):
            return "".join(rules)
        return str(super()._css_rules_to_string(rules))


def inline_css(html: str) -> str:
    """Inline the ``<style>`` rules into ``style=""`` attributes (Gmail, Outlook drop
    ``<style>`` in places); ``@media`` rules and ``!important`` stay in a ``<style>`` block.
    Never touches the network or the file system."""
    out: str = _Inliner(html, **_PREMAILER_OPTIONS).transform()
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


def _mailto(value: str) -> str:
    """``mailto:ADDRESS?subject=unsubscribe%20TOKEN`` for ``unsubscribe_mailto``."""
    address = value.strip().removeprefix("mailto:").split("?", 1)[0]
    return f"mailto:{address}?subject=unsubscribe%20{UNSUBSCRIBE_TOKEN}"


def _headers(ctx: RenderContext) -> dict[str, str]:
    """Headers of every mail of the channel; To, Date and Message-ID are set per send."""
    unsubscribe = f"<{unsubscribe_url(ctx)}>"
    mailto = getattr(ctx.channel, "unsubscribe_mailto", None)
    if isinstance(mailto, str) and mailto.strip():
        unsubscribe += f", <{_mailto(mailto)}>"
    headers: dict[str, str] = {}
    sender = getattr(ctx.channel, "from_", None)
    if isinstance(sender, str) and sender.strip():
        headers["From"] = sender.strip()
    headers.update({
        "List-Unsubscribe": unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": _list_id(ctx),
    })
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
    return cut(text, lambda candidate: len(candidate) <= PREHEADER_LENGTH,
               reach=PREHEADER_LENGTH)


def _limit(text: str, limit: int) -> str:
    return cut(text, lambda candidate: len(candidate) <= limit, reach=limit)


@dataclass(frozen=True)
class Card:
    """One article as a digest (or single-article mail) shows it."""

    article: Article
    #: the headline, shortened if absurdly long
    title: str
    #: what follows the headline: the lede, without the sentence the headline already says
    teaser: str
    #: the text the image's alt attribute carries
    alt: str


def _card(article: Article, teaser_limit: int) -> Card:
    title = _limit(headline(article), HEADLINE_LIMIT)
    return Card(article=article, title=title, teaser=_limit(teaser(article), teaser_limit),
                alt=title)


def digest_card(article: Article) -> Card:
    """``article`` as a digest shows it: its headline and its summary, each cut by the cutting
    rule (the summary to :data:`CARD_TEASER` characters)."""
    return _card(article, CARD_TEASER)


def _template_names(ctx: RenderContext, templates: Templates, kind: str) -> tuple[str, str]:
    """(html template, text template) for ``kind`` ("digest", "article")."""
    default_html, default_text = f"email/{kind}.html", f"email/{kind}.txt"
    html_name = channel_template(ctx, default_html, kind=kind)
    if html_name == default_html:
        return default_html, default_text
    stem, dot, suffix = html_name.rpartition(".")
    text_name = f"{stem}.txt" if dot and suffix.lower() in ("html", "htm") else f"{html_name}.txt"
    return html_name, text_name if templates.exists(text_name) else default_text


def _render(ctx: RenderContext, kind: str, data: dict[str, Any]) -> tuple[str, str]:
    templates = templates_for(ctx)
    html_name, text_name = _template_names(ctx, templates, kind)
    data = {"kind": kind, **data}
    html = inline_css(templates.render(html_name, **data))
    text = templates.render(text_name, **data).strip() + "\n"
    return html, text


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def digest_subject(ctx: RenderContext, count: int, now: datetime | None = None,
                   lead: str = "") -> str:
    """The subject of a digest of ``count`` articles whose first headline is ``lead``.

    ``subject:`` of the channel, else "RI News Portal, 3 Desember: <lead> dan 8 berita
    lainnya" (English: "RI News Portal, December 3: <lead> and 8 more stories"; one article:
    no "and N more"). Fixed words and dates follow the site's language, whatever the articles'
    own. The lead headline is cut by the cutting rule (never inside a word) so that the
    subject keeps within :data:`SUBJECT_LIMIT` characters.
    """
    language = ctx.site.language
    local = local_now(ctx.site, now if now is not None else ctx.now)
    configured = getattr(ctx.channel, "subject", None)
    lead = " ".join(lead.split())
    pattern = configured or (DEFAULT_DIGEST_SUBJECT if lead else HEADLESS_DIGEST_SUBJECT)
    fields = _Fields(site=" ".join(ctx.site.name.split()),
                     date=site_date(local, ctx.site, language=language),
                     day=day_and_month(local, ctx.site, language),
                     count=str(count), more=words(language).and_more(count - 1), lead="")

    def subject(headline: str) -> str:
        return " ".join(pattern.format_map(_Fields(fields, lead=headline)).split())

    if "{lead}" not in pattern or not lead:
        return subject(lead)
    headline = cut(lead, lambda candidate: len(subject(candidate)) <= SUBJECT_LIMIT,
                   min_fill=0.6, mark_sentence=False, reach=SUBJECT_LIMIT)
    if not headline and not configured:
        pattern = HEADLESS_DIGEST_SUBJECT
    return subject(headline)


def _max_cards(ctx: RenderContext) -> int:
    configured = getattr(ctx.channel, "max_cards", None)
    return configured if isinstance(configured, int) and configured > 0 else MAX_CARDS


def render_digest_email(articles: list[Article], ctx: RenderContext) -> list[Message]:
    """The digest of ``articles`` as one mail (placeholders for the subscriber).

    At most ``max_cards`` cards (default :data:`MAX_CARDS`), and fewer when the HTML would
    pass :data:`HTML_BUDGET` bytes; "N berita lainnya di rinews.example" links to the site for
    the rest.
    """
    now = local_now(ctx.site, ctx.now)
    language = ctx.site.language
    cards = [digest_card(article) for article in articles]
    lead = next((card.title for card in cards if card.title.strip()), "")
    subject = digest_subject(ctx, len(articles), now, lead=lead)
    word = words(language)
    # the subject says the lead headline: the preheader goes on with the others (with the
    # lead's summary when it is alone)
    others = " · ".join(card.title for card in cards[1:] if card.title)
    preheader = _preheader(others or (cards[0].teaser if cards else ""))

    def attempt(count: int) -> tuple[str, str]:
        shown = cards[:count]
        left_out = len(cards) - count
        data = _common(ctx, language, subject, now)
        data.update(
            cards=shown,
            articles=[card.article for card in shown],
            article=shown[0].article if shown else None,
            left_out=left_out,
            more_text=word.more(left_out, hostname(ctx.site.url) or ctx.site.name)
            if left_out else "",
            more_url=ctx.site.url,
            preheader=preheader,
            notices=list(getattr(ctx, "notices", None) or []),
        )
        return _render(ctx, "digest", data)

    count = min(len(cards), _max_cards(ctx))
    html, text = attempt(count)
    while count > 1 and len(html.encode("utf-8")) > HTML_BUDGET:
        size = len(html.encode("utf-8"))
        count = max(1, min(count - 1, count * HTML_BUDGET // size))
        html, text = attempt(count)
    return [{"subject": subject, "html": html, "text": text, "headers": _headers(ctx)}]


def render_article_email(article: Article, ctx: RenderContext) -> list[Message]:
    """A single article as one mail, its title as the subject."""
    now = local_now(ctx.site, ctx.now)
    language = language_of(article, ctx.site)
    card = _card(article, ARTICLE_TEASER)
    subject = card.title or _limit(" ".join(card.teaser.split()), HEADLINE_LIMIT) or \
        f"{words(language).breaking} — {ctx.site.name}"
    data = _common(ctx, language, subject, now)
    data.update(
        article=article,
        card=card,
        cards=[card],
        articles=[article],
        left_out=0,
        more_text="",
        more_url=ctx.site.url,
        # the subject already says the headline: the preheader goes on with the story
        preheader=_preheader(card.teaser if title_repeats_lede(article) else
                             " ".join(article.lede.split()) or card.teaser),
    )
    html, text = _render(ctx, "article", data)
    return [{"subject": subject, "html": html, "text": text, "headers": _headers(ctx)}]
