"""`distributor digest send` as a user sees it (user audit): a list channel with no confirmed
subscriber sends nothing and does not use its articles up (they go into the digest its first
subscribers get), saying so in one line; `--dry-run` renders the digest into the outbox and
says who would get it, sending nothing and recording nothing, with no credential.

The CLI in process, a real SQLite ledger, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.ledger.subscribers import add_subscriber
from distributor.runtime import Runtime
from distributor.store.models import Digest

Run = Callable[..., subprocess.CompletedProcess[str]]
TITLES = ["Gempa guncang Cianjur", "Harga cabai naik lagi"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def config(write_config: Callable[..., Path], smtp: SmtpServer) -> Path:
    return write_config("channels:\n" + email_channel_yaml(smtp))


@pytest.fixture
def rt(config: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(config))
    now = datetime.now(UTC)
    with runtime.store.session() as session:
        for i, title in enumerate(TITLES):
            when = now - timedelta(minutes=30 - i)
            store_article(session, Article(
                source="test", key=f"a{i}", url=f"https://rinews.example/berita/a{i}",
                title=title, lede=f"{title}, kata pejabat setempat.", published=when),
                now=when)
    yield runtime
    runtime.store.dispose()


def subscribe(rt: Runtime, *emails: str, confirmed: bool = True) -> None:
    with rt.store.session() as session:
        for email in emails:
            add_subscriber(session, "daily", email, confirmed=confirmed)


def digests(rt: Runtime) -> int:
    with rt.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Digest)) or 0)


def test_a_digest_to_nobody_is_not_sent_and_keeps_its_articles_for_the_first_subscribers(
        config: Path, rt: Runtime, smtp: SmtpServer, run_cli: Run) -> None:
    subscribe(rt, "belum@example.org", confirmed=False)  # pending: gets no digest
    nobody = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert nobody.returncode == 0, nobody.stderr
    assert nobody.stdout == (
        "digest daily: waiting (2 articles): no confirmed subscribers yet, so no mail was sent; "
        "its 2 articles go into the next digest once there are (`distributor subscribers add "
        "EMAIL --channel daily`)\n")
    assert digests(rt) == 0 and smtp.received == []  # nothing recorded, nothing used up

    subscribe(rt, "pembaca@example.org")
    sent = run_cli("--config", config, "digest", "send", "--channel", "daily")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("digest daily: sent (2 articles): 1 mail accepted"), sent.stdout
    assert smtp.recipients() == ["pembaca@example.org"]
    mail = smtp.received[0].message().get_body(("plain",))
    assert mail is not None and all(title in mail.get_content() for title in TITLES)


def test_a_dry_run_says_who_would_get_what_and_sends_and_uses_up_nothing(
        write_config: Callable[..., Path], rt: Runtime, smtp: SmtpServer, run_cli: Run,
        tmp_path: Path) -> None:
    # the SMTP password from the environment, not set: a dry run needs no credential
    config = write_config("channels:\n" + email_channel_yaml(
        smtp, smtp_extra="      username: redaksi\n      password: ${SMTP_PASSWORD}\n"),
        name="site.yaml")
    subscribe(rt, "satu@example.org", "dua@example.org")

    dry = run_cli("--config", config, "digest", "send", "--channel", "daily", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    first, last = dry.stdout.splitlines()
    assert re.fullmatch(r"digest daily \(dry run\): 2 articles to 2 confirmed subscribers, one "
                        r"mail each; written to (\S+)", first), first
    written = Path(first.rsplit(" ", 1)[1])
    written = written if written.is_absolute() else Path.cwd() / written
    assert written.parent == tmp_path / "outbox" / "daily" and written.suffix == ".eml"
    assert all(title in written.read_text() for title in TITLES)
    assert last.startswith("dry run: nothing was sent and nothing used up; see ")
    assert digests(rt) == 0 and smtp.received == []

    # a second dry run sees the same digest: nothing was used up
    again = run_cli("--config", config, "digest", "send", "--channel", "daily", "--dry-run")
    assert again.stdout.splitlines()[0].startswith(
        "digest daily (dry run): 2 articles to 2 confirmed subscribers")


def test_an_instant_channels_subscribers_get_no_digest_from_digest_send_or_preview(
        write_config: Callable[..., Path], smtp: SmtpServer, run_cli: Run) -> None:
    """`digest send --channel breaking` (publish: instant) mailed its subscribers a digest of
    every stored article (user audit); `digest add` already refused such a channel."""
    config = write_config("channels:\n" + email_channel_yaml(smtp, name="breaking",
                                                             publish="instant"))
    rt = Runtime.open(load_config(config))
    try:
        with rt.store.session() as session:
            add_subscriber(session, "breaking", "pembaca@example.org", confirmed=True)
            store_article(session, Article(
                source="test", key="a0", url="https://rinews.example/berita/a0",
                title=TITLES[0], lede="Lede.", published=datetime.now(UTC)),
                now=datetime.now(UTC))
    finally:
        rt.store.dispose()
    refusal = "error: channel breaking (email, publish: instant) does not send digests\n"

    for args in (["send"], ["send", "--dry-run"], ["preview"]):
        said = run_cli("--config", config, "digest", *args, "--channel", "breaking")
        assert (said.returncode, said.stdout, said.stderr) == (1, "", refusal), args

    assert smtp.received == []
