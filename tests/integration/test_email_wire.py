"""The digest's bytes on the wire: built once in the DATA command's form (CRLF, dot-stuffed,
ending ``.\\r\\n``) and joined per subscriber; what the SMTP server (aiosmtpd) stores is exactly
the subscriber's mail, lines that begin with a dot included."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.articles import Article
from distributor.channels.email.mime import MailTemplate
from distributor.channels.email.personal import personalize
from distributor.configfile import load_config
from distributor.engine.digests import bind_adapters, run_digest
from distributor.ledger.ingest import store_article
from distributor.ledger.subscribers import add_subscriber, subscriber_for_unsubscribe
from distributor.runtime import Runtime
from distributor.store.models import FanoutRun

SECRET = "test-secret-key"
SENDER = "RI News Portal <redaksi@rinews.example>"
DOTTED = [".NET 9 dirilis untuk pengembang Indonesia",
          ". titik di awal baris",
          "..dua titik"]


def dot_stuffed(data: bytes) -> bytes:
    """What RFC 5321 4.5.2 asks of a client: a line that begins with a dot gets one more."""
    return re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


def dotted_message() -> dict[str, Any]:
    from unit.test_render_email import article, context

    from distributor.channels.email.render import render_digest_email

    message = dict(render_digest_email([article(i) for i in range(1, 4)], context())[0])
    # lines that begin with a dot in both bodies, one after a quoted-printable soft break
    message["text"] = "\n".join([*DOTTED, "x" * 75 + ".sesudah", str(message["text"])])
    message["html"] = str(message["html"]).replace(
        "<body", "<body data-x='" + "y" * 80 + ".'", 1)
    return message


@pytest.mark.parametrize("recipient", [
    "ana@example.org",
    "o'brien=x&y@example.org",
    "a" * 64 + "@" + "b" * 60 + ".example.org",
])
@pytest.mark.parametrize("token", ["42.AbC_d-e.SiGnAtUrE_-x", ".7.starts-with-a-dot"])
def test_the_wire_form_is_the_mail_dot_stuffed_and_terminated(recipient: str, token: str
                                                               ) -> None:
    template = MailTemplate(dotted_message(), sender=SENDER)
    assert template.fast and template.templated(recipient)
    data, options = template.render(recipient, token, "7.42.abc@rinews.example")
    wire = template.render_wire(recipient, token, "7.42.abc@rinews.example")
    assert options == []
    assert wire == dot_stuffed(data)
    assert b"\r\n..NET 9" in wire and b"\r\n.NET 9" not in wire.replace(b"\r\n..", b"")
    assert b"\r\n.\r\n" not in wire[:-3]  # nothing ends the DATA early


def test_a_recipient_the_template_cannot_carry_is_built_in_full() -> None:
    template = MailTemplate(dotted_message(), sender=SENDER)
    assert not template.templated("ñandú@example.org")
    assert not template.templated("ana@example.org\r\nBcc: x@example.org")


# --------------------------------------------------------------------------- on the wire


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], db_url: str, smtp: SmtpServer) -> Iterator[Runtime]:
    path = write_config("channels:\n" + email_channel_yaml(smtp, publish="digest"),
                        database=db_url)
    runtime = Runtime.open(load_config(path))
    bind_adapters(runtime)
    yield runtime
    runtime.store.dispose()


async def test_every_subscriber_receives_exactly_their_mail_with_dotted_lines_intact(
        rt: Runtime, smtp: SmtpServer) -> None:
    now = datetime.now(UTC) - timedelta(minutes=5)
    emails = [f"pembaca{i}@example.org" for i in range(12)] + ["o'brien=x&y@example.org"]
    with rt.store.session() as session:
        for i, title in enumerate(DOTTED):
            store_article(session, Article(
                source="test", key=f"k{i}", url=f"https://rinews.example/b/{i}", title=title,
                lede=f".{i} Kalimat pembuka yang dimulai dengan titik.", published=now),
                now=now)
        for email in emails:
            add_subscriber(session, "daily", email, confirmed=True)

    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent" and outcome.stats["sent"] == len(emails)
    assert sorted(smtp.recipients()) == sorted(emails)
    with rt.store.session() as session:
        message = session.query(FanoutRun).one().message
    for received in smtp.received:
        to = received.rcpt_tos[0]
        mail = message_from_bytes(received.data, policy=policy.default)
        assert mail["To"] == to and mail["From"] == SENDER
        token = re.search(r"/unsubscribe/([^>]+)>", str(mail["List-Unsubscribe"]))
        assert token is not None
        with rt.store.session() as session:
            row = subscriber_for_unsubscribe(session, SECRET, token.group(1))
            assert row is not None and row.email == to
        expected = personalize(message, recipient=to, unsubscribe_token=token.group(1))
        parts = {p.get_content_subtype(): p.get_content().replace("\r\n", "\n")
                 for p in mail.walk() if not p.is_multipart()}
        assert parts == {"plain": expected["text"], "html": expected["html"]}
        assert "\n.NET 9 dirilis" in parts["plain"] and "\n..dua titik" in parts["plain"]
        assert mail["List-Unsubscribe"] == expected["headers"]["List-Unsubscribe"]
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # the server stored the mail itself: the dots it received doubled are single again
        assert b"\r\n.NET 9 dirilis" in received.data and b"\r\n..NET" not in received.data
        assert received.data.endswith(b"\r\n") and not received.data.endswith(b"\r\n.\r\n")
