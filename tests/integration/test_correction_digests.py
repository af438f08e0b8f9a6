"""Retract and correct on an email digest channel, against a real SMTP server (aiosmtpd) and
a real SQLite ledger: before its digest went out, a retracted article leaves the digest; after,
the next digest opens with a notice box naming the article and the reason (once: the digest
after that has none)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.digests import bind_adapters, run_digest
from distributor.ledger.ingest import store_article
from distributor.ledger.subscribers import add_subscriber
from distributor.plugin import ActionKind
from distributor.runtime import Runtime
from distributor.services import corrections

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(write_config("channels:\n" + email_channel_yaml(smtp))))
    bind_adapters(runtime)
    with runtime.store.session() as session:
        add_subscriber(session, "daily", "pembaca@example.org", confirmed=True)
    yield runtime
    runtime.store.dispose()


def add_article(rt: Runtime, key: str, title: str, ago: timedelta) -> int:
    when = datetime.now(UTC) - ago
    with rt.store.session() as session:
        row, _ = store_article(session, Article(
            source="test", key=key, url=f"https://rinews.example/berita/{key}", title=title,
            lede=f"{title}, kata pejabat setempat.", published=when), now=when)
        return row.id


def last_mail(smtp: SmtpServer) -> tuple[str, str]:
    mail = smtp.received[-1].message()
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


async def test_an_article_retracted_before_its_digest_leaves_the_digest(
        rt: Runtime, smtp: SmtpServer) -> None:
    keep = add_article(rt, "gempa", "Gempa guncang Cianjur", timedelta(minutes=30))
    pulled = add_article(rt, "hoaks", "Kabar keliru soal vaksin", timedelta(minutes=20))

    [outcome] = await corrections.retract(rt, pulled, reason="Sumber tidak dapat dipercaya")
    again = await corrections.retract(rt, pulled, reason="Sumber tidak dapat dipercaya")
    digest = await run_digest(rt, rt.config.channel("daily"))

    assert (outcome.kind, outcome.detail) == (ActionKind.DONE, "left out of the next digest")
    assert again[0].kind is ActionKind.ALREADY_DONE
    assert digest.state == "sent" and digest.articles == 1
    text, page = last_mail(smtp)
    assert "Gempa guncang Cianjur" in text and "Kabar keliru" not in text + page
    assert keep != pulled


async def test_after_its_digest_went_out_the_next_digest_opens_with_the_notice_once(
        rt: Runtime, smtp: SmtpServer) -> None:
    pulled = add_article(rt, "hoaks", "Kabar keliru soal vaksin", timedelta(hours=3))
    first = await run_digest(rt, rt.config.channel("daily"),
                             now=datetime.now(UTC) - timedelta(hours=2))
    assert first.state == "sent"

    [outcome] = await corrections.retract(rt, pulled, reason="Sumber <b>tidak</b> valid")
    add_article(rt, "banjir", "Banjir di Bandung", timedelta(hours=1))
    second = await run_digest(rt, rt.config.channel("daily"),
                              now=datetime.now(UTC) - timedelta(minutes=30))
    text, page = last_mail(smtp)
    add_article(rt, "pasar", "Harga beras turun", timedelta(minutes=10))
    third = await run_digest(rt, rt.config.channel("daily"))
    later_text, later_page = last_mail(smtp)

    assert outcome.kind is ActionKind.QUEUED
    assert outcome.detail == "the next digest opens with a notice"
    assert second.state == "sent" and third.state == "sent"
    box = text.index("[Dicabut] Kabar keliru soal vaksin: Sumber <b>tidak</b> valid")
    assert box < text.index("Banjir di Bandung")  # the digest opens with it
    assert "Dicabut:</strong> Kabar keliru soal vaksin &mdash; Sumber &lt;b&gt;tidak" in page \
        or "Dicabut:</strong> Kabar keliru soal vaksin — Sumber &lt;b&gt;tidak" in page
    assert "Dicabut" not in later_text + later_page  # once
    again = await corrections.retract(rt, pulled, reason="Sumber <b>tidak</b> valid")
    assert again[0].kind is ActionKind.ALREADY_DONE


async def test_a_correction_after_the_digest_went_out_is_noticed_in_the_next_one(
        rt: Runtime, smtp: SmtpServer) -> None:
    fixed = add_article(rt, "angka", "Korban banjir 12 orang", timedelta(hours=3))
    await run_digest(rt, rt.config.channel("daily"), now=datetime.now(UTC) - timedelta(hours=2))

    [outcome] = await corrections.correct(rt, fixed, note="korban 21 orang, bukan 12")
    add_article(rt, "baru", "Jalan tol dibuka", timedelta(minutes=30))
    await run_digest(rt, rt.config.channel("daily"))
    text, _ = last_mail(smtp)

    assert outcome.kind is ActionKind.QUEUED
    assert "[Ralat] Korban banjir 12 orang: korban 21 orang, bukan 12" in text
    assert "https://rinews.example/berita/angka" in text


async def test_an_article_updated_at_its_source_is_noticed_in_the_next_digest_once(
        write_config: Callable[..., Path], smtp: SmtpServer, tmp_path: Path) -> None:
    import os
    import time

    from distributor.ledger.ingest import poll_all

    folder = tmp_path / "articles"
    folder.mkdir()
    story = folder / "korban.md"

    def write(lede: str) -> None:
        story.write_text("---\ntitle: Korban banjir 12 orang\nurl: https://rinews.example/b/k"
                         f"\n---\n\n{lede}\n", encoding="utf-8")
        past = time.time() - 600
        os.utime(story, (past, past))

    write("Korban banjir di Bandung mencapai 12 orang, kata BPBD.")
    config = write_config(
        f"sources:\n  - {{name: newsroom, type: directory, path: {folder}, settle: 0s}}\n"
        "channels:\n" + email_channel_yaml(smtp, extra="    on_update: note\n"))
    rt = Runtime.open(load_config(config))
    bind_adapters(rt)
    try:
        with rt.store.session() as session:
            add_subscriber(session, "daily", "pembaca@example.org", confirmed=True)
        await poll_all(rt, now=datetime.now(UTC) - timedelta(hours=3))
        await run_digest(rt, rt.config.channel("daily"),
                         now=datetime.now(UTC) - timedelta(hours=2))
        write("Korban banjir di Bandung mencapai 21 orang, kata BPBD.")
        await poll_all(rt)
        await poll_all(rt)  # read again, unchanged: nothing more
        add_article(rt, "baru", "Jalan tol dibuka", timedelta(minutes=30))
        await run_digest(rt, rt.config.channel("daily"))
        text, _ = last_mail(smtp)
    finally:
        rt.store.dispose()

    assert text.count("[Ralat] Korban banjir 12 orang: artikel diperbarui") == 1


def test_a_dry_run_says_what_the_next_digest_does_for_a_retraction_and_a_correction(
        rt: Runtime, run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """A dry run's correction said the retraction's words ("left out of it") (user audit)."""
    article_id = add_article(rt, "banjir", "Banjir surut", timedelta(minutes=30))
    said = {action: run_cli("--config", rt.config.path, action, str(article_id), flag, "Uji",
                            "--dry-run").stdout
            for action, flag in (("retract", "--reason"), ("correct", "--note"))}

    assert said == {
        "retract": "daily: would be retracted; the next digest leaves it out, or opens with a "
                   "notice if a digest carried it\ndry run: nothing was sent\n",
        "correct": "daily: would be corrected; the next digest carries it as it is now, or "
                   "opens with a notice if a digest carried it\ndry run: nothing was sent\n"}
