"""The digest fan-out against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL.

Headers, parts, per-subscriber tokens and links; only confirmed subscribers; only new
articles and no empty digest; 4xx retried later, 5xx a bounce; broken connections; resuming
an interrupted run without resending; login, STARTTLS and TLS; the instant email channel
through the dispatcher.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from support.smtp_server import SmtpServer, email_channel_yaml, self_signed, server_context

from distributor.articles import Article
from distributor.channels.email.fanout import Fanout, FanoutBusy
from distributor.channels.email.mime import MailTemplate
from distributor.channels.email.personal import personalize
from distributor.channels.email.smtp import bounce_kind
from distributor.configfile import load_config
from distributor.engine.digests import bind_adapters, run_digest
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.deliveries import request_delivery
from distributor.ledger.ingest import store_article
from distributor.ledger.mailing import Mailing, claim_run
from distributor.ledger.subscribers import add_subscriber, subscriber_for_unsubscribe
from distributor.runtime import Runtime
from distributor.store.models import (
    Delivery,
    DeliveryPart,
    Digest,
    EmailSend,
    FanoutRun,
    Subscriber,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
SECRET = "test-secret-key"
SENDER = "RI News Portal <redaksi@rinews.example>"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def make_rt(write_config: Callable[..., Path], db_url: str, smtp: SmtpServer
            ) -> Iterator[Callable[..., Runtime]]:
    opened: list[Runtime] = []

    def make(extra: str = "", *, publish: str = "digest", server: SmtpServer | None = None,
             security: str = "none", smtp_extra: str = "") -> Runtime:
        channel = email_channel_yaml(server or smtp, publish=publish, extra=extra,
                                     security=security, smtp_extra=smtp_extra)
        path = write_config("channels:\n" + channel, database=db_url)
        rt = Runtime.open(load_config(path))
        bind_adapters(rt)
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.store.dispose()


def add_articles(rt: Runtime, n: int, *, start: int = 0, ago: timedelta = timedelta(minutes=5)
                 ) -> None:
    now = datetime.now(UTC) - ago
    with rt.store.session() as session:
        for i in range(start, start + n):
            article = Article(source="test", key=f"k{i}", url=f"https://rinews.example/b/{i}",
                              title=f"Berita nomor {i}", lede=f"Lede berita nomor {i}.",
                              published=now)
            store_article(session, article, now=now)


def add_subscribers(rt: Runtime, n: int, *, state: str = "confirmed", prefix: str = "user"
                    ) -> list[str]:
    emails = [f"{prefix}{i}@example.org" for i in range(n)]
    with rt.store.session() as session:
        for email in emails:
            result = add_subscriber(session, "daily", email, confirmed=state != "pending")
            if state not in ("pending", "confirmed"):
                result.subscriber.state = state
    return emails


def token_in(text: str) -> str:
    found = re.search(r"/unsubscribe/([A-Za-z0-9_.\-]+)", text)
    assert found, text[-500:]
    return found.group(1)


# --------------------------------------------------------------------------- the template


def _digest_message() -> dict[str, Any]:
    """One rendered digest (a copy of it: rendering inlines the CSS, the costly part)."""
    return copy.deepcopy(_rendered_digest())


@functools.cache
def _rendered_digest() -> dict[str, Any]:
    from unit.test_render_email import article, context

    from distributor.channels.email.render import render_digest_email

    return render_digest_email([article(i) for i in range(1, 8)], context())[0]


@pytest.mark.parametrize("recipient", [
    "ana@example.org",
    "o'brien=x&y@example.org",  # "=" must be =3D in quoted-printable, "&" escaped in HTML
    "a" * 64 + "@" + "b" * 60 + ".example.org",  # longer than a quoted-printable line
    "ñandú@example.org",  # not ASCII: built in full, sent with SMTPUTF8
])
def test_the_prebuilt_mail_decodes_exactly_to_the_personalized_message(recipient: str) -> None:
    message = _digest_message()
    template = MailTemplate(message, sender=SENDER)
    assert template.fast
    token = "42.AbC_d-e.SiGnAtUrE_-x"
    data, options = template.render(recipient, token, "7.42.abc@rinews.example")
    assert options == ([] if recipient.isascii() else ["SMTPUTF8"])
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert b"%%" not in data
    mail = message_from_bytes(data, policy=policy.default)
    expected = personalize(message, recipient=recipient, unsubscribe_token=token)
    parts = {p.get_content_subtype(): p.get_content().replace("\r\n", "\n")
             for p in mail.walk() if not p.is_multipart()}
    assert parts == {"plain": expected["text"], "html": expected["html"]}
    assert mail["To"] == recipient
    assert mail["Message-ID"] == "<7.42.abc@rinews.example>"
    assert mail["List-Unsubscribe"] == expected["headers"]["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    if recipient.isascii():  # every quoted-printable line stays within 76 characters
        body = data.split(b"\r\n\r\n", 1)[1]
        assert max(len(line) for line in body.split(b"\r\n")) <= 76


@pytest.mark.parametrize(("subject", "fast"), [
    ("Berita untuk %%RECIPIENT%% — édition spéciale", True),  # stays literal: substituted
    ("Berita—%%RECIPIENT%%—spéciale", False),  # inside an encoded word: built in full
])
def test_placeholders_in_the_subject(subject: str, fast: bool) -> None:
    message = dict(_digest_message())
    message["subject"] = subject
    template = MailTemplate(message, sender=SENDER)
    assert template.fast is fast
    data, _ = template.render("ana@example.org", "1.a.b", "1.1.x@rinews.example")
    mail = message_from_bytes(data, policy=policy.default)
    assert mail["Subject"] == subject.replace("%%RECIPIENT%%", "ana@example.org")


def test_bounce_kinds_follow_the_enhanced_status_code() -> None:
    assert bounce_kind(550, "5.1.1 no such user") == "hard"
    assert bounce_kind(552, "5.2.2 mailbox full") == "soft"
    assert bounce_kind(554, "5.7.1 message refused as spam") == "soft"
    assert bounce_kind(550, "no such user") == "hard"


# --------------------------------------------------------------------------- digests


async def test_each_confirmed_subscriber_gets_one_digest_with_a_working_own_token(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt()
    add_articles(rt, 3)
    confirmed = add_subscribers(rt, 25)
    add_subscribers(rt, 3, state="pending", prefix="pending")
    add_subscribers(rt, 2, state="unsubscribed", prefix="gone")
    add_subscribers(rt, 2, state="bounced", prefix="dead")

    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent" and outcome.articles == 3
    assert outcome.stats["sent"] == 25
    assert sorted(smtp.recipients()) == sorted(confirmed)
    message_ids = set()
    tokens = set()
    for received in smtp.received:
        mail = received.message()
        to = received.rcpt_tos[0]
        assert received.mail_from == "redaksi@rinews.example"
        assert mail["To"] == to and mail["From"] == SENDER
        assert mail.get_content_type() == "multipart/alternative"
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None and html is not None
        text, page = plain.get_content(), html.get_content()
        for i in range(3):
            assert f"Berita nomor {i}" in text and f"Berita nomor {i}" in page
        assert to in text and to in page
        token = token_in(str(mail["List-Unsubscribe"]))
        assert token == token_in(text) == token_in(page)
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        with rt.store.session() as session:
            row = subscriber_for_unsubscribe(session, SECRET, token)
            assert row is not None and row.email == to
        tokens.add(token)
        message_ids.add(mail["Message-ID"])
    assert len(tokens) == len(message_ids) == 25
    with rt.store.session() as session:
        assert session.scalar(select(func.count()).select_from(EmailSend)) == 25
        run = session.scalars(select(FanoutRun)).one()
        assert (run.state, run.sent, run.lease_owner) == ("done", 25, None)


async def test_only_new_articles_and_no_mail_without_any(make_rt: Callable[..., Runtime],
                                                        smtp: SmtpServer) -> None:
    rt = make_rt()
    channel = rt.config.channel("daily")
    add_subscribers(rt, 3)
    empty = await run_digest(rt, channel, now=datetime.now(UTC) - timedelta(hours=1))
    assert empty.state == "skipped" and smtp.count == 0

    add_articles(rt, 2, ago=timedelta(minutes=30))
    first = await run_digest(rt, channel, now=datetime.now(UTC) - timedelta(minutes=20))
    assert first.state == "sent" and first.articles == 2 and smtp.count == 3
    add_articles(rt, 1, start=2, ago=timedelta(minutes=10))
    second = await run_digest(rt, channel)
    assert second.state == "sent" and second.articles == 1 and smtp.count == 6
    text = smtp.received[-1].message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Berita nomor 2" in text and "Berita nomor 0" not in text
    nothing = await run_digest(rt, channel)
    assert nothing.state in ("skipped", "exists") and smtp.count == 6


async def test_a_period_below_min_articles_mails_nothing_and_its_articles_go_into_the_next(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt("    min_articles: 3\n")
    channel = rt.config.channel("daily")
    add_subscribers(rt, 2)
    now = datetime.now(UTC)

    def mailed() -> str:
        return smtp.received[-1].message().get_body(("plain",)).get_content()  # type: ignore[union-attr]

    add_articles(rt, 2, ago=timedelta(minutes=50))  # the very first digest: too few
    few = await run_digest(rt, channel, now=now - timedelta(minutes=40))
    assert (few.state, smtp.count) == ("skipped", 0)
    assert "fewer than min_articles (3)" in few.detail
    add_articles(rt, 1, start=2, ago=timedelta(minutes=30))
    enough = await run_digest(rt, channel, now=now - timedelta(minutes=20))
    assert (enough.state, enough.articles, smtp.count) == ("sent", 3, 2)
    assert all(f"Berita nomor {i}" in mailed() for i in range(3))

    add_articles(rt, 2, start=3, ago=timedelta(minutes=10))  # after a sent one: too few
    again = await run_digest(rt, channel, now=now - timedelta(minutes=5))
    assert (again.state, smtp.count) == ("skipped", 2)
    add_articles(rt, 1, start=5, ago=timedelta(minutes=2))
    last = await run_digest(rt, channel, now=now)
    assert (last.state, last.articles, smtp.count) == ("sent", 3, 4)
    assert all(f"Berita nomor {i}" in mailed() for i in (3, 4, 5))
    assert "Berita nomor 2" not in mailed()  # each article in one digest only


async def test_4xx_is_retried_later_and_5xx_counts_a_bounce(make_rt: Callable[..., Runtime],
                                                            smtp: SmtpServer) -> None:
    rt = make_rt()
    add_articles(rt, 1)
    emails = add_subscribers(rt, 6)
    smtp.refuse(emails[1], "451 4.7.1 greylisted, try again later")
    smtp.refuse(emails[2], *["452 4.2.2 mailbox busy"] * 5)  # more than retry_delays allow
    smtp.refuse(emails[3], "550 5.1.1 no such user")
    smtp.refuse(emails[4], "552 5.2.2 mailbox full")

    outcome = await run_digest(rt, rt.config.channel("daily"),
                               now=datetime.now(UTC) - timedelta(minutes=1))
    assert outcome.state == "sent"
    assert sorted(smtp.recipients()) == sorted([emails[0], emails[1], emails[5]])
    assert outcome.stats["retried"] >= 2
    with rt.store.session() as session:
        sends = {s.subscriber_id: (s.state, s.detail) for s in session.scalars(select(EmailSend))}
        subs = {s.email: s for s in session.scalars(select(Subscriber))}
        assert sends[subs[emails[1]].id][0] == "sent"
        assert sends[subs[emails[2]].id][0] == "failed"
        assert "452" in str(sends[subs[emails[2]].id][1])
        assert sends[subs[emails[3]].id] == ("bounced", "550 5.1.1 no such user")
        assert subs[emails[3]].state == "bounced"
        assert subs[emails[4]].state == "confirmed" and subs[emails[4]].soft_bounces == 1
        assert subs[emails[2]].state == "confirmed"  # a 4xx is not a bounce

    add_articles(rt, 1, start=5, ago=timedelta(seconds=30))
    smtp.received.clear()
    smtp.script.clear()
    await run_digest(rt, rt.config.channel("daily"))
    assert emails[3] not in smtp.recipients() and emails[2] in smtp.recipients()


async def test_a_broken_connection_is_reopened_and_nobody_is_missed(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt()
    add_articles(rt, 1)
    emails = add_subscribers(rt, 30)
    smtp.drop_next(3)
    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent"
    assert sorted(smtp.recipients()) == sorted(emails)  # each exactly once
    assert outcome.stats["resent"] == 3
    assert smtp.connections >= 4 + 3


async def test_a_421_drops_the_connection_and_the_recipient_is_tried_again_on_a_new_one(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt("    concurrency: 1\n")
    add_articles(rt, 1)
    emails = add_subscribers(rt, 4)
    smtp.refuse(emails[1], "421 4.3.2 service shutting down")
    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent" and outcome.stats["retried"] == 1
    assert outcome.stats["resent"] == 0  # closed at once, never used again after the 421
    assert sorted(smtp.recipients()) == sorted(emails)  # each exactly once
    assert smtp.connections == 2


async def test_a_connection_is_renewed_after_max_messages_per_connection(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt("    concurrency: 1\n", smtp_extra="      max_messages_per_connection: 2\n")
    add_articles(rt, 1)
    emails = add_subscribers(rt, 5)
    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent"
    assert sorted(smtp.recipients()) == sorted(emails)
    assert smtp.connections == 3


async def test_a_sender_refused_for_now_waits_and_one_refused_for_good_fails_the_digest(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt("    concurrency: 1\n")
    add_articles(rt, 1)
    emails = add_subscribers(rt, 3)
    smtp.refuse_sender("451 4.3.0 try again later")
    outcome = await run_digest(rt, rt.config.channel("daily"),
                               now=datetime.now(UTC) - timedelta(minutes=1))
    assert outcome.state == "sent" and sorted(smtp.recipients()) == sorted(emails)
    assert smtp.connections == 2

    add_articles(rt, 1, start=1, ago=timedelta(seconds=30))
    smtp.received.clear()
    smtp.refuse_sender("550 5.7.1 sender not allowed")
    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "failed" and smtp.recipients() == []
    assert "refused the sender redaksi@rinews.example" in outcome.detail
    assert "check `from:`" in outcome.detail


async def test_an_interrupted_run_resumes_without_resending_accepted_mail(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt("    concurrency: 2\n")
    add_articles(rt, 2)
    emails = add_subscribers(rt, 120)
    smtp.delay = 0.005
    channel = rt.config.channel("daily")
    task = asyncio.create_task(run_digest(rt, channel))
    while smtp.count < 40 and not task.done():
        await asyncio.sleep(0.01)
    assert not task.done(), task.result()
    task.cancel()  # like Ctrl-C: the accepted mails of the last batch are still written
    with pytest.raises(asyncio.CancelledError):
        await task
    first = smtp.count
    with rt.store.session() as session:
        digest = session.scalars(select(Digest)).one()
        assert digest.state == "sending"
        recorded = session.scalar(select(func.count()).select_from(EmailSend))
    assert 0 < recorded <= first < len(emails)

    smtp.delay = 0
    outcome = await run_digest(rt, channel)  # resumes the same digest first
    assert outcome.state == "sent" and outcome.resumed
    received = smtp.recipients()
    assert sorted(set(received)) == sorted(emails)
    repeats = len(received) - len(set(received))
    assert repeats == first - recorded  # only what was accepted but not yet written
    assert repeats <= 2  # at most the mails in flight (concurrency 2)
    texts = {m.message()["Subject"] for m in smtp.received}
    assert len(texts) == 1  # the same mail before and after the interruption
    with rt.store.session() as session:
        assert session.scalars(select(Digest)).one().state == "sent"
    again = await run_digest(rt, channel)
    assert again.state in ("skipped", "exists") and len(smtp.recipients()) == len(received)


async def test_a_run_held_by_a_live_process_is_not_sent_twice(
        make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt()
    audience = Mailing(rt.store, rt.config, "daily", owner=rt.owner)
    run = audience.open_run("digest:x", {"subject": "s", "text": "t"})
    assert claim_run(rt.store, run.id, "other-host:1:abc")
    fanout = Fanout(audience, rt.config.channel("daily"), run)  # type: ignore[arg-type]
    with pytest.raises(FanoutBusy):
        await fanout.run()


async def test_login_refused_fails_the_digest_and_its_articles_go_into_the_next(
        make_rt: Callable[..., Runtime]) -> None:
    with SmtpServer(login=("news", "right")) as server:
        rt = make_rt(server=server, smtp_extra="      username: news\n      password: wrong\n")
        add_articles(rt, 1)
        add_subscribers(rt, 2)
        outcome = await run_digest(rt, rt.config.channel("daily"))
        assert outcome.state == "failed"
        assert "refused the login" in outcome.detail and "wrong" not in outcome.detail
        assert server.count == 0


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_starttls_or_tls_with_login(make_rt: Callable[..., Runtime], tmp_path: Path,
                                          security: str) -> None:
    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("openssl is not installed")
    context = server_context(*pair)
    kwargs: dict[str, Any] = {"starttls": context} if security == "starttls" else \
        {"tls": context}
    with SmtpServer(login=("news", "s3cret"), **kwargs) as server:
        rt = make_rt(server=server, security=security,
                     smtp_extra=f"      username: news\n      password: s3cret\n"
                                f"      ca_file: {pair[0]}\n")
        add_articles(rt, 1)
        emails = add_subscribers(rt, 4)
        outcome = await run_digest(rt, rt.config.channel("daily"))
        assert outcome.state == "sent", outcome.detail
        assert sorted(server.recipients()) == sorted(emails)


@pytest.mark.parametrize("verify", [True, False])
async def test_a_certificate_nobody_vouches_for_is_refused_unless_verify_is_off(
        make_rt: Callable[..., Runtime], tmp_path: Path, verify: bool) -> None:
    """The TLS settings are built once per process (smtp.py): a channel without ``ca_file``
    still checks the server's certificate against the system's authorities, and only
    ``verify: false`` sends to a server whose certificate nobody vouches for. A refused
    certificate fails the digest at once with what to do, as a refused login does."""
    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("openssl is not installed")
    with SmtpServer(starttls=server_context(*pair)) as server:
        rt = make_rt(server=server, security="starttls",
                     smtp_extra="" if verify else "      verify: false\n")
        add_articles(rt, 1)
        emails = add_subscribers(rt, 2)
        outcome = await run_digest(rt, rt.config.channel("daily"))
        if verify:
            assert outcome.state == "failed", outcome
            assert "does not trust (self-signed certificate)" in outcome.detail, outcome.detail
            assert "smtp.ca_file" in outcome.detail and "smtp.verify: false" in outcome.detail
            assert server.count == 0
            # not tried again and again (the same certificate would come back): one
            # connection per sender the fan-out opened, each refused at its first try
            assert server.connections <= rt.config.channel("daily").concurrency
        else:
            assert outcome.state == "sent", outcome.detail
            assert sorted(server.recipients()) == sorted(emails)


# --------------------------------------------------------------------------- instant email


async def test_an_instant_email_channel_sends_a_single_article_mail_through_the_ledger(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt(publish="instant")
    add_articles(rt, 1)
    emails = add_subscribers(rt, 5)

    report = await Dispatcher(rt).run_once()
    assert len(report.sent) == 1
    assert sorted(smtp.recipients()) == sorted(emails)
    mail = smtp.received[0].message()
    assert mail["Subject"] == "Berita nomor 0"
    with rt.store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        run = session.scalars(select(FanoutRun)).one()
        assert delivery.remote_id == f"fanout-run-{run.id}"
        assert (run.key, run.sent) == (f"delivery:{delivery.id}:1", 5)
        article_id = delivery.article_id
    assert (await Dispatcher(rt).run_once()).sent == [] and smtp.count == 5

    with rt.store.session() as session:  # an editor pushes it again: the same, no --force
        _, what = request_delivery(session, article_id, "daily")
    assert what == "already-sent" and smtp.count == 5
    with rt.store.session() as session:
        delivery, what = request_delivery(session, article_id, "daily", force=True)
        delivery_id = delivery.id
    assert what == "queued"
    await Dispatcher(rt).run_once(only=[delivery_id])
    assert smtp.count == 10  # --force: a second run, to everyone again
    with rt.store.session() as session:
        keys = sorted(session.scalars(select(FanoutRun.key)))
    assert keys == [f"delivery:{delivery_id}:1", f"delivery:{delivery_id}:2"]


async def test_an_instant_mail_that_reached_everyone_before_a_crash_is_reconciled_as_sent(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    """A new process reconciles it through the audience the core hands the channel first
    (``reconcile`` has no context): sent, nobody mailed again."""
    rt = make_rt(publish="instant")
    add_articles(rt, 1)
    add_subscribers(rt, 3)
    await Dispatcher(rt).run_once()
    assert smtp.count == 3
    with rt.store.session() as session:
        run_id = session.scalars(select(FanoutRun)).one().id
        # as if the process had died after the fan-out, before the delivery was recorded
        session.execute(delete(DeliveryPart))
        session.execute(update(Delivery).values(
            state="sending", remote_id=None, sent_at=None, lease_owner="gone-host:1:x",
            lease_until=datetime.now(UTC) - timedelta(minutes=1)))
    fresh = make_rt(publish="instant")  # a new process: its channel has seen no context yet
    report = await Dispatcher(fresh).recover()
    with fresh.store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.remote_id) == ("sent", f"fanout-run-{run_id}")
    assert report.sent == [delivery.id] and smtp.count == 3


async def test_an_instant_delivery_retried_after_an_outage_serves_only_the_rest(
        make_rt: Callable[..., Runtime], smtp: SmtpServer) -> None:
    rt = make_rt(publish="instant")
    add_articles(rt, 1)
    emails = add_subscribers(rt, 4)
    smtp.refuse(emails[0], "550 5.1.1 no such user")
    report = await Dispatcher(rt).run_once()
    assert len(report.sent) == 1
    with rt.store.session() as session:
        run = session.scalars(select(FanoutRun)).one()
        assert (run.sent, run.bounced) == (3, 1)
        # as if the run had stopped half-way (SMTP outage) and the dispatcher tries again:
        # the same run resumes, and the subscribers it reached are not mailed again
        session.execute(update(FanoutRun).values(state="sending"))
        session.execute(update(Delivery).values(state="pending", next_attempt_at=datetime.now(
            UTC)))
    await Dispatcher(rt).run_once()
    assert sorted(smtp.recipients()) == sorted(emails[1:])  # nobody twice
