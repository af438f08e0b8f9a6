"""Retractions and corrections survive a killed process: `distributor retract` / `correct` is
SIGKILLed while it waits on a platform's answer to a request the platform carried out, and the
next run finishes the work without repeating it (each X part deleted once, one correction
reply, one Telegram edit). The process, and its death, are the point: a real
`python -m distributor` against the HTTP doubles (tests/support/correction_site.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import DELETE_TWEET, POST_TWEETS, FakeX
from support.cli import process_env
from support.correction_site import (
    LEDE,
    TITLE,
    Cli,
    actions,
    published,
    write_article,
)

pytestmark = [pytest.mark.usefixtures("webhook_plugin"), pytest.mark.slow]


def start(site: dict[str, Any], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "distributor", "--config",
                             str(site["config"]), *args], env=process_env(site["plugin"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when(process: subprocess.Popen[str], condition: Callable[[], bool]) -> None:
    """SIGKILL the process as soon as ``condition`` holds (it waits on a request it sent)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_a_retraction_killed_in_the_middle_of_a_thread_resumes_and_deletes_each_part_once(
        run_cli: Cli, site: dict[str, Any], x: FakeX) -> None:
    published(run_cli, site, "x")
    thread = [t.id for t in x.tweets]
    assert len(thread) >= 2
    # the first DELETE (the last part) is carried out, but its answer never comes: the
    # process dies waiting, with the other parts still up
    x.no_answer(50, endpoints=(DELETE_TWEET,))
    process = start(site, "retract", str(site["article"]), "--reason", "Ditarik",
                    "--channel", "x")
    kill_when(process, lambda: len(x.posts_to(DELETE_TWEET)) == 1)
    [row] = actions(site["config"])
    assert row.state == "sending" and row.done == {}
    assert [t.id for t in x.tweets] == thread[:-1]

    result = run_cli("--config", site["config"], "retract", site["article"], "--reason",
                     "Ditarik", "--channel", "x")

    assert result.returncode == 0, result.stderr
    assert "x: retracted" in result.stdout
    assert x.tweets == []
    assert sorted(t.id for t in x.deleted) == sorted(thread)  # each part deleted once
    [row] = actions(site["config"])
    assert row.state == "sent"
    assert row.done == {thread[-1]: "gone"} | {t: "deleted" for t in thread[:-1]}


def test_a_correction_killed_after_x_took_the_reply_does_not_reply_twice(
        run_cli: Cli, site: dict[str, Any], x: FakeX) -> None:
    published(run_cli, site, "x")
    thread = [t.id for t in x.tweets]
    x.no_answer(50, endpoints=(POST_TWEETS,))  # the reply is posted; the answer never comes
    process = start(site, "correct", str(site["article"]), "--note", "judul diperbaiki",
                    "--channel", "x")
    kill_when(process, lambda: len(x.tweets) == len(thread) + 1)

    result = run_cli("--config", site["config"], "correct", site["article"], "--note",
                     "judul diperbaiki", "--channel", "x")

    assert result.returncode == 0, result.stderr
    replies = [t for t in x.tweets if t.in_reply_to == thread[-1]]
    assert len(replies) == 1 and replies[0].text.startswith("Ralat: judul diperbaiki")
    [row] = actions(site["config"])
    assert row.state == "sent" and row.done == {replies[0].id: "replied"}


def test_a_telegram_correction_killed_after_the_edit_edits_once(
        run_cli: Cli, site: dict[str, Any], tg: FakeTelegram) -> None:
    published(run_cli, site, "telegram")
    [post] = tg.messages
    write_article(site["article"], TITLE, LEDE.replace("3.400", "4.300"))
    tg.delay(50, methods=("editMessageText",))  # edited, but the answer never comes
    process = start(site, "correct", str(site["article"]), "--channel", "telegram")
    kill_when(process, lambda: len(tg.edits) == 1)

    result = run_cli("--config", site["config"], "correct", site["article"], "--channel",
                     "telegram")

    assert result.returncode == 0, result.stderr
    assert "telegram: corrected" in result.stdout
    assert [mid for mid, _ in tg.edits] == [post.message_id]  # edited once, in place
    assert "4.300 rumah" in tg.messages[0].plain_text
    [row] = actions(site["config"])
    assert row.state == "sent" and row.done == {str(post.message_id): "left"}
