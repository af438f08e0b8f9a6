"""Subscribers on SQLite and PostgreSQL: validation, case-insensitive uniqueness, states,
signed tokens, bounces, import (twice changes nothing), export and erasure; and the
`distributor subscribers ...` commands as real processes."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.ledger.subscribers import (
    SubscriberError,
    add_subscriber,
    confirm_subscriber,
    confirm_token,
    export_csv,
    export_person,
    import_csv,
    import_rows,
    normalize_email,
    read_csv,
    record_bounce,
    remove_subscriber,
    subscriber_for_confirm,
    subscriber_for_unsubscribe,
    unsubscribe,
    unsubscribe_token,
)
from distributor.store import Store, open_store
from distributor.store.models import EmailSend, FanoutRun, Subscriber, SubscriberEvent

SECRET = "test-secret-key"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.dispose()


def add(store: Store, email: str, channel: str = "daily", **kw: bool) -> Subscriber:
    with store.session() as session:
        return add_subscriber(session, channel, email, **kw).subscriber


def state_of(store: Store, email: str, channel: str = "daily") -> str | None:
    with store.session() as session:
        return session.scalar(select(Subscriber.state).where(
            Subscriber.channel == channel, Subscriber.email_key == email.lower()))


# --------------------------------------------------------------------------- the store


def test_addresses_are_validated_without_dns_and_unique_without_regard_to_case(
        store: Store) -> None:
    assert normalize_email(" Ana.Maria@EXAMPLE.org ") == ("Ana.Maria@example.org",
                                                          "ana.maria@example.org")
    for bad in ("", "ana", "ana@", "@example.org", "ana@@example.org", "ana maria@example.org"):
        with pytest.raises(SubscriberError):
            normalize_email(bad)
    first = add(store, "Ana@Example.org")
    with store.session() as session:
        again = add_subscriber(session, "daily", "ANA@example.ORG")
    assert again.subscriber.id == first.id and again.what == "already-pending"
    other = add(store, "ana@example.org", channel="weekly")  # another channel: its own row
    assert other.id != first.id
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 2


def test_states_double_opt_in_unsubscribe_and_coming_back(store: Store) -> None:
    row = add(store, "budi@example.org")
    assert row.state == "pending"
    with store.session() as session:
        sub = session.get_one(Subscriber, row.id)
        assert confirm_subscriber(session, sub) and sub.state == "confirmed"
        assert not confirm_subscriber(session, sub)
        assert unsubscribe(session, sub, detail="test") and sub.state == "unsubscribed"
        old_key = sub.token_key
    with store.session() as session:
        back = add_subscriber(session, "daily", "budi@example.org")
    assert (back.what, back.subscriber.state, back.needs_confirmation) == \
        ("resubscribed", "pending", True)
    assert back.subscriber.token_key != old_key  # the old links die with the old subscription
    with store.session() as session:
        kinds = list(session.scalars(select(SubscriberEvent.kind).where(
            SubscriberEvent.subscriber_id == row.id).order_by(SubscriberEvent.id)))
    assert kinds == ["subscribed", "confirmed", "unsubscribed", "subscribed"]


def test_tokens_are_signed_per_subscriber_and_channel_and_cannot_be_forged(store: Store) -> None:
    ana = add(store, "ana@example.org", confirmed=True)
    budi = add(store, "budi@example.org", confirmed=True)
    weekly = add(store, "ana@example.org", channel="weekly", confirmed=True)
    token = unsubscribe_token(SECRET, "daily", ana.id, ana.token_key)
    with store.session() as session:
        found = subscriber_for_unsubscribe(session, SECRET, token)
        assert found is not None and found.id == ana.id
        sid, key, signature = token.split(".")
        forged = [
            f"{budi.id}.{key}.{signature}",  # another subscriber's id
            f"{sid}.{key}.{signature[:-2]}xx",  # tampered signature
            f"{sid}.{budi.token_key}.{signature}",
            unsubscribe_token("another-secret", "daily", ana.id, ana.token_key),
            # a valid signature for the wrong channel
            unsubscribe_token(SECRET, "daily", weekly.id, weekly.token_key),
            f"{sid}.{key}", "", "x.y.z", "99999999.abc.def",
        ]
        for bad in forged:
            assert subscriber_for_unsubscribe(session, SECRET, bad) is None, bad
        # a confirmation token is no unsubscribe token, and the other way round
        confirm = confirm_token(SECRET, ana.id, ana.token_key)
        assert subscriber_for_unsubscribe(session, SECRET, confirm) is None
        assert subscriber_for_confirm(session, SECRET, token) == (None, "invalid")
        row, why = subscriber_for_confirm(session, SECRET, confirm)
        assert row is not None and row.id == ana.id and why == ""
        old = TimestampSigner(SECRET, salt="distributor.confirm", digest_method=__import__(
            "hashlib").sha256)
        stale = old.sign(f"{ana.id}.{ana.token_key}").decode()
        assert subscriber_for_confirm(session, SECRET, stale, max_age=timedelta(seconds=-1)) \
            == (None, "expired")


def test_bounces_and_complaints_stop_all_sending_to_the_address(store: Store) -> None:
    add(store, "cici@example.org", confirmed=True)
    add(store, "Cici@example.org", channel="weekly", confirmed=True)
    add(store, "dedi@example.org", confirmed=True)
    with store.session() as session:
        for _ in range(2):
            record_bounce(session, "dedi@example.org", "soft", channel="daily")
    assert state_of(store, "dedi@example.org") == "confirmed"
    with store.session() as session:
        record_bounce(session, "dedi@example.org", "soft", channel="daily")
        record_bounce(session, "CICI@example.org", "hard", detail="550 5.1.1")
        assert record_bounce(session, "nobody@example.org", "hard") == []
    assert state_of(store, "dedi@example.org") == "bounced"  # the third soft bounce
    assert state_of(store, "cici@example.org") == state_of(store, "cici@example.org",
                                                           "weekly") == "bounced"
    with store.session() as session, pytest.raises(SubscriberError, match="bounced"):
        add_subscriber(session, "daily", "cici@example.org", confirmed=True)
    with store.session() as session, pytest.raises(SubscriberError, match="another channel"):
        add_subscriber(session, "monthly", "cici@example.org")
    with store.session() as session:
        record_bounce(session, "dedi@example.org", "complaint")
    assert state_of(store, "dedi@example.org") == "complained"


def test_import_reports_bad_rows_by_line_and_twice_changes_nothing(store: Store) -> None:
    text = ("Name;E-Mail\nAna;ana@example.org\nBad;not-an-address\n\nNo address;\n"
            "Budi;BUDI@example.org\nAna again;Ana@Example.org\n")
    rows = list(read_csv(text))
    assert [(line, raw) for line, raw, _ in rows] == [
        (2, "ana@example.org"), (3, "not-an-address"), (5, None), (6, "BUDI@example.org"),
        (7, "Ana@Example.org")]
    first = import_rows(store.session, "daily", read_csv(text), confirmed=True)
    assert (first.added, first.existing) == (2, 1)
    assert [line for line, _ in first.bad] == [3, 5]
    with store.session() as session:
        before = sorted((s.email, s.state, s.token_key) for s in session.scalars(
            select(Subscriber)))
    second = import_rows(store.session, "daily", read_csv(text), confirmed=True)
    assert (second.added, second.existing, len(second.bad)) == (0, 3, 2)
    with store.session() as session:
        after = sorted((s.email, s.state, s.token_key) for s in session.scalars(
            select(Subscriber)))
    assert before == after
    # without a header: the first column; a pending import needs confirmation mails
    plain = list(read_csv("cici@example.org,Cici\ndedi@example.org,Dedi\n"))
    assert [raw for _, raw, _ in plain] == ["cici@example.org", "dedi@example.org"]
    pending = import_rows(store.session, "daily", iter(plain))
    assert pending.added == 2 and len(pending.pending_ids) == 2
    # an unsubscribed address is not re-subscribed by an old list
    with store.session() as session:
        ana = session.scalars(select(Subscriber).where(Subscriber.email_key == "ana@example.org")
                              ).one()
        unsubscribe(session, ana)
    import_rows(store.session, "daily", read_csv(text), confirmed=True)
    assert state_of(store, "ana@example.org") == "unsubscribed"


@pytest.mark.parametrize(("content", "said"), [
    (bytes(range(256)) * 8, "is not a CSV file (it holds binary data)"),
    (b"", "no address in it"),
    (b"nama,telepon\n", "no address in it"),
])
def test_a_file_without_addresses_is_one_error_not_zero_added(
        store: Store, tmp_path: Path, content: bytes, said: str) -> None:
    """A binary file imported as a list said "0 added, 0 already there, 0 bad rows" and
    exited 0 (user audit)."""
    path = tmp_path / "subs.csv"
    path.write_bytes(content)
    with pytest.raises(SubscriberError, match=re.escape(said)):
        import_csv(store, path, "daily")
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_an_unclosed_quote_is_one_bad_line_and_the_lines_after_it_still_count() -> None:
    text = ('email,name\nana@example.org,Ana\n"broken,x\ndave@example.org,Dave\n'
            'ALICE@example.org,Alice\n')
    rows = list(read_csv(text))
    assert [(line, email) for line, email, _ in rows] == [
        (2, "ana@example.org"), (3, None), (4, "dave@example.org"), (5, "ALICE@example.org")]
    assert "unclosed quote" in rows[1][2]


def test_a_large_import_is_done_in_chunks(store: Store) -> None:
    lines = "email\n" + "".join(f"user{i}@example.org\n" for i in range(1200))
    report = import_rows(store.session, "daily", read_csv(lines), confirmed=True, chunk=500)
    assert report.added == 1200 and not report.bad


def test_an_export_never_hands_a_spreadsheet_a_formula(store: Store) -> None:
    add(store, "=cmd+1@example.org", confirmed=True)
    add(store, "budi@example.org", confirmed=True)
    out = io.StringIO()
    assert export_csv(store, out, channel="daily") == 2
    emails = [row["email"] for row in csv.DictReader(io.StringIO(out.getvalue()))]
    assert emails == ["'=cmd+1@example.org", "budi@example.org"]


def test_export_of_one_person_and_erasure(store: Store) -> None:
    ana = add(store, "ana@example.org", confirmed=True)
    add(store, "ana@example.org", channel="weekly")
    add(store, "budi@example.org", confirmed=True)
    with store.session() as session:
        run = FanoutRun(channel="daily", key="digest:1", message_hash="x", message={},
                        nonce="n", state="done")
        session.add(run)
        session.flush()
        session.add(EmailSend(run_id=run.id, subscriber_id=ana.id, state="sent"))
    with store.session() as session:
        data = export_person(session, "ANA@example.org")
    assert data["email"] == "ANA@example.org" or data["email"].lower() == "ana@example.org"
    assert [s["channel"] for s in data["subscriptions"]] == ["daily", "weekly"]
    assert data["subscriptions"][0]["mails"][0]["mail"] == "digest:1"
    assert [e["event"] for e in data["subscriptions"][0]["history"]] == ["subscribed",
                                                                        "confirmed"]
    with store.session() as session:
        assert remove_subscriber(session, "Ana@example.org") == 2
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EmailSend)) == 0
        assert session.scalar(select(func.count()).select_from(SubscriberEvent).where(
            SubscriberEvent.subscriber_id == ana.id)) == 0
        assert [s.email for s in session.scalars(select(Subscriber))] == ["budi@example.org"]
        assert remove_subscriber(session, "ana@example.org") == 0


# --------------------------------------------------------------------------- the commands


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def config(write_config: Callable[..., Path], smtp: SmtpServer) -> Path:
    return write_config("channels:\n" + email_channel_yaml(smtp) + """\
  - name: files
    type: outbox
    path: out/
""")


def test_subscribers_commands(config: Path, tmp_path: Path, smtp: SmtpServer) -> None:
    from click.testing import CliRunner

    from distributor.interfaces.cli import main

    def cli(*args: str) -> Any:  # in-process (fast); the CLI's real processes are tested too
        result = CliRunner().invoke(main, ["--config", str(config), "subscribers", *args])
        result.returncode = result.exit_code
        return result

    result = cli("add", "Ana@Example.org", "--channel", "daily", "--confirmed")
    assert result.returncode == 0, result.stderr
    assert "subscribed and confirmed" in result.stdout and smtp.count == 0

    result = cli("add", "budi@example.org", "--channel", "daily")  # double opt-in
    assert result.returncode == 0, result.stderr
    assert "confirmation mail sent" in result.stdout
    assert smtp.recipients() == ["budi@example.org"]
    mail = smtp.received[0].message()
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "http://localhost:8000/confirm/" in body.replace("=\n", "")

    result = cli("add", "not an address", "--channel", "daily")
    assert result.returncode == 1 and "not a valid email address" in result.stderr
    result = cli("add", "x@example.org", "--channel", "files")
    assert result.returncode == 1 and "email channels (daily)" in result.stderr

    listing = tmp_path / "list.csv"
    listing.write_text("email,name\ncici@example.org,Cici\nwrong,W\nANA@example.org,A\n",
                       encoding="utf-8")
    result = cli("import", str(listing), "--channel", "daily", "--confirmed")
    assert result.returncode == 1  # a bad row: reported, the rest imported
    assert f"{listing}:3:" in result.stderr and "1 added (confirmed), 1 already there" in \
        result.stdout
    again = cli("import", str(listing), "--channel", "daily", "--confirmed")
    assert "0 added (confirmed), 2 already there, 1 bad rows" in again.stdout

    listed = cli("list", "--json")
    rows = json.loads(listed.stdout)
    assert {(r["email"], r["state"]) for r in rows} == {
        ("Ana@example.org", "confirmed"), ("budi@example.org", "pending"),
        ("cici@example.org", "confirmed")}
    assert "daily: 2 confirmed, 1 pending" in cli("list").stdout

    exported = cli("export", "--state", "confirmed")
    assert exported.returncode == 0
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(r["email"] for r in table) == ["Ana@example.org", "cici@example.org"]
    person = json.loads(cli("export", "--email", "ana@EXAMPLE.org").stdout)
    assert person["subscriptions"][0]["state"] == "confirmed"

    soft = cli("bounce", "Ana@example.org", "--soft")
    assert soft.returncode == 0, soft.stderr
    assert "daily: soft bounce 1 of 3 recorded; still confirmed" in soft.stdout
    both = cli("bounce", "cici@example.org", "--hard", "--soft")
    assert both.returncode == 2 and "choose one of --hard, --soft or --complaint" in both.stderr
    bounced = cli("bounce", "cici@example.org", "--hard")
    assert bounced.returncode == 0 and "daily: bounced" in bounced.stdout
    assert cli("bounce", "cici@example.org").returncode == 2  # says which kind

    removed = cli("remove", "ana@example.org")
    assert removed.returncode == 0 and "erased" in removed.stdout
    assert cli("remove", "ana@example.org").returncode == 1
    assert cli("export", "--email", "ana@example.org").returncode == 1

    store = open_store(load_config(config).database)
    with store.session() as session:
        assert sorted(session.scalars(select(Subscriber.email))) == ["budi@example.org",
                                                                     "cici@example.org"]
    store.dispose()


def test_a_missing_secret_key_says_how_to_set_it(
        write_config: Callable[..., Path], smtp: SmtpServer,
        run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    config = write_config("channels:\n" + email_channel_yaml(smtp))
    text = config.read_text(encoding="utf-8").replace("  secret_key: test-secret-key\n", "")
    config.write_text(text, encoding="utf-8")
    result = run_cli("--config", config, "subscribers", "add", "ana@example.org",
                     "--channel", "daily")
    assert result.returncode == 1
    assert "DISTRIBUTOR_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
    assert smtp.count == 0
