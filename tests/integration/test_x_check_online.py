"""`distributor check --online` for an X channel, as a user runs it: a real process, a config
pointing at the fake X API, the handle on stdout or one clear line on stderr."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes.x_api import USERS_ME, FakeX

Run = Callable[..., subprocess.CompletedProcess[str]]
CHANNEL = """\
channels:
  - name: x
    type: x
    consumer_key: ${X_API_KEY}
    consumer_secret: ${X_API_SECRET}
    access_token: ${X_ACCESS_TOKEN}
    access_token_secret: ${X_ACCESS_TOKEN_SECRET}
    api_base_url: {url}
    timeout: 5
"""


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


def environment(fx: FakeX, **override: str) -> dict[str, str]:
    env = {"X_API_KEY": fx.consumer_key, "X_API_SECRET": fx.consumer_secret,
           "X_ACCESS_TOKEN": fx.access_token, "X_ACCESS_TOKEN_SECRET": fx.access_token_secret}
    return env | override


def test_check_online_prints_the_x_accounts_handle(
        fx: FakeX, write_config: Callable[..., Path], run_cli: Run) -> None:
    config = write_config(CHANNEL.replace("{url}", fx.url))

    result = run_cli("--config", config, "check", "--online", env=environment(fx))

    assert result.returncode == 0, result.stderr
    assert "channel x: @rinewsportal" in result.stdout.splitlines()
    assert [r.endpoint for r in fx.requests] == [USERS_ME]
    assert fx.requests[0].status == 200  # signed with the four credentials from the env
    assert fx.tweets == []


def test_check_online_with_a_wrong_secret_fails_with_one_clear_line(
        fx: FakeX, write_config: Callable[..., Path], run_cli: Run) -> None:
    config = write_config(CHANNEL.replace("{url}", fx.url))
    wrong = "not-the-access-token-secret-4471"

    result = run_cli("--config", config, "check", "--online",
                     env=environment(fx, X_ACCESS_TOKEN_SECRET=wrong))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert errors[0].startswith("error: channel x: X rejected the credentials; check the "
                                "channel's consumer_key, consumer_secret, access_token and "
                                "access_token_secret in the configuration")
    for secret in [*fx.credentials.values(), wrong]:
        assert secret not in result.stdout + result.stderr
