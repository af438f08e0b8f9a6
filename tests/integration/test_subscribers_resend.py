"""A confirmation mail that could not be sent is sent by the same command again (user audit):
`subscribers add` with the mail server down said so and exited 1, and the same command with the
server back said "already subscribed, waiting for confirmation" and sent nothing for ten
minutes (its claim on the mail was kept though the mail never went out); `subscribers import`
sent nothing at all to the addresses of a second import. The CLI in process, a real SQLite
file and the real PostgreSQL, a real SMTP server (aiosmtpd) that is down first, then up on
the same port."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.store import open_store
from distributor.store.models import Subscriber, SubscriberEvent

Run = Callable[..., subprocess.CompletedProcess[str]]


class _Down:
    """Where the SMTP server will be: a free port nobody listens on yet."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]


@pytest.fixture
def down() -> _Down:
    return _Down()


@pytest.fixture
def config(write_config: Callable[..., Path], down: _Down, db_url: str) -> Path:
    """On a SQLite file and on PostgreSQL (``db_url``)."""
    return write_config("channels:\n" + email_channel_yaml(down),  # type: ignore[arg-type]
                        database=db_url)


@pytest.fixture
def smtp_up(down: _Down) -> Iterator[Callable[[], SmtpServer]]:
    """Start the mail server on the port the configuration names."""
    started: list[SmtpServer] = []

    def start() -> SmtpServer:
        server = SmtpServer()
        server.controller.port = down.port
        started.append(server.start())
        assert server.port == down.port
        return server

    yield start
    for server in started:
        server.stop()


def subscribers(config: Path) -> dict[str, tuple[str, bool, int]]:
    """Each address: its state, whether a confirmation mail is claimed, mails recorded."""
    store = open_store(load_config(config).database)
    try:
        with store.session() as session:
            return {s.email: (s.state, s.confirmation_sent_at is not None, len(session.scalars(
                select(SubscriberEvent).where(SubscriberEvent.subscriber_id == s.id,
                                              SubscriberEvent.kind == "confirmation-sent"))
                .all())) for s in session.scalars(select(Subscriber))}
    finally:
        store.dispose()


def test_add_sends_the_confirmation_mail_again_once_the_mail_server_answers(
        config: Path, run_cli: Run, smtp_up: Callable[[], SmtpServer]) -> None:
    first = run_cli("--config", config, "subscribers", "add", "ana@example.org",
                    "--channel", "daily")
    assert first.returncode == 1
    assert "ana@example.org: subscribed (pending until confirmed) on daily" in first.stdout
    [error] = first.stderr.strip().splitlines()
    assert error.startswith("error: the confirmation mail could not be sent: ana@example.org")
    assert "Connect call failed" in error
    assert error.endswith("ana@example.org is stored, pending: run the same command again to "
                          "send it")
    assert subscribers(config) == {"ana@example.org": ("pending", False, 0)}  # claim released

    smtp = smtp_up()
    again = run_cli("--config", config, "subscribers", "add", "ana@example.org",
                    "--channel", "daily")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "ana@example.org: already subscribed, waiting for confirmation on daily",
        "ana@example.org: confirmation mail sent"]
    assert smtp.recipients() == ["ana@example.org"]
    body = smtp.received[0].message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "http://localhost:8000/confirm/" in body.replace("=\n", "")
    assert subscribers(config) == {"ana@example.org": ("pending", True, 1)}

    # a third time within ten minutes: no second mail, and the line says when one may go
    third = run_cli("--config", config, "subscribers", "add", "ana@example.org",
                    "--channel", "daily")
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[0] == (
        "ana@example.org: already subscribed, waiting for confirmation on daily")
    assert "ana@example.org: its confirmation mail went out at " in third.stdout
    assert "; run this again after " in third.stdout and " WIB to send another" in third.stdout
    assert smtp.recipients() == ["ana@example.org"]


def test_import_sends_the_mails_that_failed_when_the_same_file_is_imported_again(
        config: Path, run_cli: Run, smtp_up: Callable[[], SmtpServer], tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("email\nana@example.org\nbudi@example.org\n", encoding="utf-8")
    first = run_cli("--config", config, "subscribers", "import", listing, "--channel", "daily")
    assert first.returncode == 1
    assert first.stdout.splitlines() == ["daily: 2 added (pending), 0 already there, 0 bad rows",
                                         "daily: 0 confirmation mails sent"]
    errors = first.stderr.strip().splitlines()
    assert len(errors) == 3 and all("Connect call failed" in e for e in errors[:2])
    assert errors[2] == ("error: 2 confirmation mails could not be sent; the addresses are "
                         "stored, pending: run the same command again to send them")
    assert subscribers(config) == {"ana@example.org": ("pending", False, 0),
                                   "budi@example.org": ("pending", False, 0)}

    smtp = smtp_up()
    # an address subscribed meanwhile, with its mail sent, gets no second one from the import
    run_cli("--config", config, "subscribers", "add", "cici@example.org", "--channel", "daily")
    listing.write_text("email\nana@example.org\nbudi@example.org\ncici@example.org\n"
                       "dedi@example.org\n", encoding="utf-8")
    again = run_cli("--config", config, "subscribers", "import", listing, "--channel", "daily")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "daily: 1 added (pending), 3 already there, 0 bad rows",
        "daily: 3 confirmation mails sent (2 of them to addresses already there, whose mail "
        "had not gone out)"]
    assert sorted(smtp.recipients()) == ["ana@example.org", "budi@example.org",
                                         "cici@example.org", "dedi@example.org"]
    assert smtp.recipients().count("cici@example.org") == 1
    assert {a: s[2] for a, s in subscribers(config).items()} == {
        "ana@example.org": 1, "budi@example.org": 1, "cici@example.org": 1,
        "dedi@example.org": 1}

    # importing it once more changes nothing and sends nothing
    third = run_cli("--config", config, "subscribers", "import", listing, "--channel", "daily")
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines() == ["daily: 0 added (pending), 4 already there, 0 bad rows"]
    assert len(smtp.recipients()) == 4


def test_import_releases_only_the_mails_the_server_refused(
        config: Path, run_cli: Run, smtp_up: Callable[[], SmtpServer], tmp_path: Path) -> None:
    smtp = smtp_up()
    smtp.refuse("budi@example.org", "550 5.1.1 mailbox unavailable")
    listing = tmp_path / "list.csv"
    listing.write_text("email\nana@example.org\nbudi@example.org\n", encoding="utf-8")
    first = run_cli("--config", config, "subscribers", "import", listing, "--channel", "daily")
    assert first.returncode == 1
    assert "daily: 1 confirmation mails sent" in first.stdout
    assert "error: confirmation mail: budi@example.org" in first.stderr
    assert "error: 1 confirmation mail could not be sent;" in first.stderr
    assert subscribers(config) == {"ana@example.org": ("pending", True, 1),
                                   "budi@example.org": ("pending", False, 0)}
    again = run_cli("--config", config, "subscribers", "import", listing, "--channel", "daily")
    assert again.returncode == 0, again.stderr
    assert "daily: 1 confirmation mails sent (1 of them to addresses already there" in \
        again.stdout
    assert smtp.recipients() == ["ana@example.org", "budi@example.org"]
