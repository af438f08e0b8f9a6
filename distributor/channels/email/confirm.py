"""The double opt-in mail: rendered once per channel with the address and the link left open
(``templates/web/confirm_email.{txt,html}``), then personalised and sent to each pending
subscriber over a small pool of SMTP connections. The signed link itself is the core's
(:mod:`distributor.ledger.subscribers`); the mail is this package's."""

from __future__ import annotations

import asyncio
import contextlib
import html as html_lib
from typing import Any

from distributor.channels.email.config import EmailConfig
from distributor.channels.email.mime import mail_bytes
from distributor.channels.email.personal import personalize
from distributor.channels.email.render import RECIPIENT, inline_css
from distributor.channels.email.smtp import address_of, describe_smtp_error, smtp_client
from distributor.plugin import SiteConfig, web_words

CONFIRM_URL = "%%CONFIRM_URL%%"


def render_confirmation(site: SiteConfig, channel: EmailConfig, templates: Any
                        ) -> dict[str, Any]:
    """The confirmation mail of a channel, with ``%%CONFIRM_URL%%`` and ``%%RECIPIENT%%``
    left for the subscriber."""
    words = web_words(site.language)
    data = {"site": site, "channel": channel, "words": words,
            "confirm_url": CONFIRM_URL, "recipient": RECIPIENT,
            "language": site.language,
            "days": int(channel.confirm_ttl.total_seconds() // 86400) or 1}
    subject = words.confirm_subject.format(site=site.name)
    html = inline_css(templates.render("web/confirm_email.html", subject=subject, **data))
    text = templates.render("web/confirm_email.txt", subject=subject, **data).strip() + "\n"
    headers = {"Auto-Submitted": "auto-generated"}
    return {"subject": subject, "text": text, "html": html, "headers": headers}


def personalize_confirmation(message: dict[str, Any], *, recipient: str, url: str
                             ) -> dict[str, Any]:
    out = personalize(message, recipient=recipient)
    if isinstance(out.get("text"), str):
        out["text"] = out["text"].replace(CONFIRM_URL, url)
    if isinstance(out.get("html"), str):
        out["html"] = out["html"].replace(CONFIRM_URL, html_lib.escape(url, quote=True))
    return out


async def send_confirmations(channel: EmailConfig, template: dict[str, Any],
                             mails: list[tuple[int, str, str]]) -> tuple[list[int], list[str]]:
    """Send ``template`` to each ``(subscriber id, address, confirmation link)`` over up to
    ``concurrency`` connections. Returns ``(ids sent, problems)``; an address the server
    refuses is one problem line, never a stop."""
    queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
    for mail in mails:
        queue.put_nowait(mail)
    sent: list[int] = []
    problems: list[str] = []
    envelope_from = channel.return_path or address_of(channel.from_)

    async def worker() -> None:
        client = None
        try:
            while not queue.empty():
                sid, address, url = queue.get_nowait()
                data, options = mail_bytes(
                    personalize_confirmation(template, recipient=address, url=url),
                    sender=channel.from_, to=address)
                try:
                    if client is None:
                        client = smtp_client(channel.smtp)
                        await client.connect()
                    await client.sendmail(envelope_from, [address], data, mail_options=options)
                    sent.append(sid)
                except Exception as exc:
                    problems.append(f"{address}: {describe_smtp_error(exc, channel.smtp)}")
                    if client is not None:
                        with contextlib.suppress(Exception):
                            client.close()
                    client = None
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.quit()

    await asyncio.gather(*(worker() for _ in range(min(channel.concurrency, len(mails)))))
    return sent, problems
