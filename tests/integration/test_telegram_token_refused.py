"""An invalid Telegram bot token, as a user sees it on the command line (user audit).

The Bot API answers 401 Unauthorized; the channel pauses (every post would fail alike) and
the command exits 1. `push` and `run --once` said it twice: the log of the send ("channel
paused: delivery 1 (...): the bot token is invalid; ... then run `distributor channels
resume`") and the command's verdict, which wrapped the same message, resume hint and all,
in its own ("the channel is paused (...); fix it, then `distributor channels resume`").
Now the verdict alone, one line: what (Telegram refused the bot token), where (the channel,
its `token:` in the configuration file, the variable it names), what to do (the token
@BotFather gave the bot; then resume), never the token. `deliveries retry` likewise, and it
says the channel is paused instead of "the retry failed again; it is tried again at ...".

The CLI in process (``run_cli``), a real SQLite file, the Telegram double (tests/fakes), which
answers 401 to a token it does not know."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fakes.telegram_api import FakeTelegram
from support.channel_runs import add_articles, deliveries, open_runtime
from support.timeouts import ANSWERED

import distributor.engine.dispatcher as dispatcher_module
from distributor.ledger.deliveries import plan_deliveries
from distributor.runtime import Runtime
from distributor.store.models import ChannelState

Run = Callable[..., subprocess.CompletedProcess[str]]
#: shaped like BotFather's, but not the double's
WRONG = "7012345678:AAwrongwrongwrongwrongwrongwrong01"
ENV = {"RINEWS_TG_TOKEN": WRONG, "DISTRIBUTOR_SECRET_KEY": "test-secret-key"}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "PACING_WAIT_MAX", 0.5)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def config(write_config: Callable[..., Path], tg: FakeTelegram) -> Path:
    path = write_config(f"""\
channels:
  - name: breaking
    type: telegram
    chat_id: "{tg.channel.handle}"
    token: ${{RINEWS_TG_TOKEN}}
    api_base_url: {tg.url}
    timeout: {ANSWERED}
    reconcile_wait: 0
""")
    # web.secret_key from the environment too: stderr holds nothing but the token's line
    path.write_text(path.read_text().replace("secret_key: test-secret-key",
                                             "secret_key: ${DISTRIBUTOR_SECRET_KEY}"))
    return path


@pytest.fixture
def rt(config: Path) -> Iterator[Runtime]:
    runtime = open_runtime(config)
    yield runtime
    runtime.store.dispose()


def refused(config: Path) -> str:
    return ("Telegram refused the bot token of channel breaking with 401 Unauthorized: check "
            f"its `token:` in {config}, or the ${{...}} variable it names, against the token "
            "@BotFather gave the bot")


def paused_reason(rt: Runtime) -> str | None:
    with rt.store.session() as session:
        state = session.get(ChannelState, "breaking")
        return state.paused_reason if state is not None else None


def never_the_token(result: subprocess.CompletedProcess[str]) -> None:
    shown = result.stdout + result.stderr
    assert WRONG not in shown and quote(WRONG, safe="") not in shown
    assert WRONG.split(":")[1] not in shown
    assert "Traceback" not in shown


def resume(run_cli: Run, config: Path) -> None:
    resumed = run_cli("--config", config, "channels", "resume", "breaking", env=ENV)
    assert resumed.returncode == 0, resumed.stderr


def test_push_with_a_refused_token_says_it_in_one_line_and_pauses_the_channel(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    first, second = add_articles(rt, 2)

    pushed = run_cli("--config", config, "push", str(first), "--channel", "breaking", env=ENV)

    assert pushed.returncode == 1
    assert pushed.stdout == ""
    assert pushed.stderr.splitlines() == [
        f"error: breaking: not published: the channel is paused ({refused(config)}); fix it, "
        "then `distributor channels resume breaking` sends it (delivery 1)"]
    never_the_token(pushed)
    assert paused_reason(rt) == refused(config)  # paused, as before
    assert [d.state for d in deliveries(rt, "breaking")] == ["retry"]
    assert tg.messages == [] and [c.method for c in tg.calls] == ["getMe"]

    # resumed with the token still wrong, with JSON logs: the same, one object
    resume(run_cli, config)
    as_json = run_cli("--log-format", "json", "--config", config, "push", str(second),
                      "--channel", "breaking", env=ENV)
    assert as_json.returncode == 1 and as_json.stdout == ""
    assert [(r["level"], r["message"]) for r in map(json.loads, as_json.stderr.splitlines())
            ] == [("error", f"breaking: not published: the channel is paused "
                            f"({refused(config)}); fix it, then `distributor channels resume "
                            "breaking` sends it (delivery 2)")]
    never_the_token(as_json)
    assert paused_reason(rt) == refused(config)


def test_run_once_with_a_refused_token_says_it_in_one_line_and_exits_1(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    add_articles(rt, 2)
    plan_deliveries(rt)  # (the pass's "planned 2 new deliveries" is not what this is about)

    ran = run_cli("--config", config, "run", "--once", env=ENV)

    assert ran.returncode == 1
    # the one it tried waits for the channel, not for a later try
    assert "sent 0, retry later 0, failed 0, unknown 0, held by a paused channel 1" in \
        ran.stdout.splitlines()
    assert ran.stderr.splitlines() == [
        f"error: breaking: 2 waiting: the channel is paused ({refused(config)}); fix it, then "
        "`distributor channels resume breaking`"]
    never_the_token(ran)
    assert paused_reason(rt) == refused(config)
    assert sorted(d.state for d in deliveries(rt, "breaking")) == ["pending", "retry"]
    assert tg.messages == []


def test_deliveries_retry_with_a_refused_token_says_the_channel_is_paused_in_one_line(
        config: Path, rt: Runtime, tg: FakeTelegram, run_cli: Run) -> None:
    [article] = add_articles(rt, 1)
    assert run_cli("--config", config, "push", str(article), "--channel", "breaking",
                   env=ENV).returncode == 1
    resume(run_cli, config)  # the token still wrong

    retried = run_cli("--config", config, "deliveries", "retry", "1", env=ENV)

    assert retried.returncode == 1
    assert retried.stdout == "delivery 1 (breaking) is queued already\n"
    assert retried.stderr.splitlines() == [
        f"error: delivery 1 (breaking): not published: the channel is paused "
        f"({refused(config)}); fix it, then `distributor channels resume breaking` sends it"]
    never_the_token(retried)
    assert paused_reason(rt) == refused(config)
