"""Editors' picks for the next digest on a real SQLite file: an added article joins even when
it is older than the period, once; a removed one is left out; ``distributor digest add`` and
``digest remove`` set them; and ``distributor editors`` manages dashboard accounts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.smtp_server import SmtpServer, email_channel_yaml
from support.web import add_article, login

from distributor.configfile import load_config
from distributor.engine.digests import pick_article, plan_digest, run_digest, unpick_article
from distributor.runtime import Runtime
from distributor.store.models import Digest, DigestPick, Editor


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def config_path(write_config: Callable[..., Path], smtp: SmtpServer, tmp_path: Path) -> Path:
    return write_config("channels:\n" + email_channel_yaml(smtp) + f"""\
  - name: files
    type: outbox
    publish: manual
    path: {tmp_path / "outbox"}
""")


@pytest.fixture
def rt(config_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(config_path))
    yield runtime
    runtime.store.dispose()


def titles(rt: Runtime, now: datetime | None = None) -> list[str]:
    channel = rt.config.channel("daily")
    plan = plan_digest(rt, channel, until=now or datetime.now(UTC), period="preview")
    return [a.title for a in plan.articles]


def pick(rt: Runtime, article_id: int, include: bool) -> str:
    with rt.store.session() as session:
        return pick_article(session, "daily", article_id, include=include, by="test")


async def test_an_added_article_joins_the_next_digest_once(rt: Runtime,
                                                           smtp: SmtpServer) -> None:
    from distributor.ledger.subscribers import add_subscriber

    with rt.store.session() as session:
        add_subscriber(session, "daily", "ana@example.org", confirmed=True)
    old = add_article(rt, "Old but important", ago=timedelta(days=5))
    add_article(rt, "Fresh news", ago=timedelta(hours=2))
    assert titles(rt) == ["Fresh news"]

    assert pick(rt, old, True) == f"article {old} goes into the next digest of daily"
    assert titles(rt) == ["Old but important", "Fresh news"]  # oldest first, as always

    outcome = await run_digest(rt, rt.config.channel("daily"))
    assert outcome.state == "sent" and outcome.articles == 2
    assert "Old but important" in smtp.received[0].message().get_body(
        ("plain",)).get_content()  # type: ignore[union-attr]
    add_article(rt, "Newer news", ago=timedelta(seconds=0))
    assert titles(rt) == ["Newer news"]  # the pick was used up by the sent digest


async def test_a_digest_that_failed_does_not_use_the_pick_up(rt: Runtime) -> None:
    old = add_article(rt, "Old story", ago=timedelta(days=3))
    pick(rt, old, True)
    with rt.store.session() as session:
        session.add(Digest(channel="daily", period="p1", state="failed", article_ids=[old],
                           since=None, until=datetime.now(UTC) - timedelta(hours=1)))
    assert titles(rt) == ["Old story"]  # nobody received it: it is still wanted
    with rt.store.session() as session:
        session.add(Digest(channel="daily", period="p2", state="sending", article_ids=[old],
                           since=None, until=datetime.now(UTC) - timedelta(minutes=1)))
    assert titles(rt) == []  # being sent: not a second time


def test_a_pick_made_after_a_digest_carried_the_article_adds_it_again(rt: Runtime) -> None:
    story = add_article(rt, "Story worth repeating", ago=timedelta(days=2))
    with rt.store.session() as session:
        session.add(Digest(channel="daily", period="old", state="sent", article_ids=[story],
                           until=datetime.now(UTC) - timedelta(days=1),
                           created_at=datetime.now(UTC) - timedelta(days=1)))
    assert titles(rt) == []
    pick(rt, story, True)
    assert titles(rt) == ["Story worth repeating"]


def test_a_removed_article_is_left_out_and_undo_brings_it_back(rt: Runtime) -> None:
    first = add_article(rt, "First", ago=timedelta(hours=3))
    add_article(rt, "Second", ago=timedelta(hours=2))
    assert pick(rt, first, False) == f"article {first} is left out of the digests of daily"
    assert titles(rt) == ["Second"]
    pick(rt, first, True)  # changing one's mind replaces the pick (one per article)
    assert titles(rt) == ["First", "Second"]
    with rt.store.session() as session:
        assert len(session.scalars(select(DigestPick)).all()) == 1
        assert unpick_article(session, "daily", first)
        assert not unpick_article(session, "daily", first)
    assert titles(rt) == ["First", "Second"]
    with rt.store.session() as session, pytest.raises(LookupError):
        pick_article(session, "daily", 9999, include=True)


def test_picks_belong_to_one_channel(rt: Runtime) -> None:
    first = add_article(rt, "Only here", ago=timedelta(hours=1))
    with rt.store.session() as session:
        pick_article(session, "other", first, include=False)
    assert titles(rt) == ["Only here"]


# --------------------------------------------------------------------------- the CLI


def cli(config_path: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    from distributor.interfaces.cli import main
    from distributor.interfaces.cli.articles import digest
    from distributor.interfaces.cli.editors import digest_add, digest_remove

    # the lead registers these in cli.py; until then the test adds them the same way
    digest.commands.setdefault("add", digest_add)
    digest.commands.setdefault("remove", digest_remove)
    result = CliRunner().invoke(main, ["--config", str(config_path), *args], input=input)
    return result.exit_code, result.output


def test_digest_add_and_remove_commands(config_path: Path, rt: Runtime) -> None:
    old = add_article(rt, "Old for the CLI", ago=timedelta(days=4))
    code, out = cli(config_path, "digest", "add", str(old), "--channel", "daily")
    assert code == 0 and f"article {old} goes into the next digest of daily" in out
    assert titles(rt) == ["Old for the CLI"]
    code, out = cli(config_path, "digest", "remove", str(old), "--channel", "daily")
    assert code == 0 and "left out" in out
    assert titles(rt) == []
    code, out = cli(config_path, "digest", "remove", str(old), "--channel", "daily", "--undo")
    assert code == 0 and "usual rule" in out
    code, out = cli(config_path, "digest", "add", "424242", "--channel", "daily")
    assert code == 1 and "no stored article 424242" in out
    code, out = cli(config_path, "digest", "add", str(old), "--channel", "files")
    assert code == 1 and "does not send digests" in out


def test_editors_add_list_remove_and_the_password_works(
        config_path: Path, rt: Runtime, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    no_terminal = run_cli("--config", config_path, "editors", "add", "Rina", input="")
    assert no_terminal.returncode == 1 and no_terminal.stderr.strip() == (
        "error: no terminal to ask for a password on; pipe it in with --password-stdin")
    added = run_cli("--config", config_path, "editors", "add", "Rina", "--password-stdin",
                    input="s3cret passphrase\n")
    assert added.returncode == 0, added.stderr
    assert "editor rina: created" in added.stdout
    assert "s3cret" not in added.stdout + added.stderr
    with rt.store.session() as session:
        stored = session.scalars(select(Editor)).one()
        assert stored.password_hash.startswith("$argon2id$") and "s3cret" not in \
            stored.password_hash

    twice = run_cli("--config", config_path, "editors", "add", "rina", "--password-stdin",
                    input="another passphrase\n")
    assert twice.returncode == 1 and "exists already" in twice.stderr
    short = run_cli("--config", config_path, "editors", "add", "budi", "--password-stdin",
                    input="short\n")
    assert short.returncode == 1 and "too short" in short.stderr

    listed = run_cli("--config", config_path, "editors", "list")
    assert listed.returncode == 0 and "rina" in listed.stdout and "never" in listed.stdout

    removed = run_cli("--config", config_path, "editors", "remove", "rina")
    assert removed.returncode == 0 and "removed" in removed.stdout
    gone = run_cli("--config", config_path, "editors", "remove", "rina")
    assert gone.returncode == 1 and "no editor rina" in gone.stderr


async def test_an_editor_made_by_the_cli_can_log_in(config_path: Path, rt: Runtime) -> None:
    from distributor.interfaces.web import create_app

    code, out = cli(config_path, "editors", "add", "sari", "--password-stdin",
                    input="sari's long password\n")
    assert code == 0, out
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        assert (await login(c, "sari", "wrong password!")).status_code == 401
        ok = await login(c, "SARI", "sari's long password")
        assert ok.status_code == 303
        assert "sari" in (await c.get("/dashboard/")).text
        code, _ = cli(config_path, "editors", "add", "sari", "--update", "--password-stdin",
                      input="a brand new password\n")
        assert code == 0
        assert (await c.get("/dashboard/")).status_code == 303  # logged out everywhere
