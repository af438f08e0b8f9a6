"""channels.yaml keeps no secret: a secret written in the file (or as the default of its
${VAR}) is one warning line with file, line and the variable to write, never the value; a
missing secret variable is not told to take a default; one typo is one error; the internal
fields of the configuration are no keys of the file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from distributor.config import ConfigErrors
from distributor.configfile import load_config

ROOT = Path(__file__).resolve().parents[2]

PLAIN = """\
channels:
  - name: telegram
    type: telegram
    chat_id: "@rinewsportal"
    token: 123456789:AAHplainTokenWrittenInTheFile0123456
  - name: x
    type: x
    consumer_key: ${X_API_KEY}
    consumer_secret: abcSecretOfTheConsumer
    access_token: ${X_ACCESS_TOKEN}
    access_token_secret: ${X_ACCESS_TOKEN_SECRET:-}
  - name: daily
    type: email
    publish: instant
    from: "RI News Portal <redaksi@rinews.example>"
    smtp:
      host: ${SMTP_HOST:-localhost}
      password: hunter2
  - name: breaking
    type: telegram
    chat_id: "@rinewsbreaking"
    token: ${TELEGRAM_BOT_TOKEN:-987654321:AAHdefaultTokenInTheFile654321}
"""
SECRETS = ("123456789:AAHplainTokenWrittenInTheFile0123456", "abcSecretOfTheConsumer",
           "hunter2", "987654321:AAHdefaultTokenInTheFile654321", "test-secret-key")
ENV = {"X_API_KEY": "k-from-env", "X_ACCESS_TOKEN": "t-from-env",
       "TELEGRAM_BOT_TOKEN": "1:from-env"}


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def from_env(path: Path) -> Path:
    """The file with web.secret_key from the environment (write_config writes a literal)."""
    path.write_text(path.read_text().replace("secret_key: test-secret-key",
                                             "secret_key: ${DISTRIBUTOR_SECRET_KEY}"))
    return path


def test_each_secret_written_in_the_file_is_one_warning_naming_its_line_and_a_variable(
    write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture,
) -> None:
    path = write_config(PLAIN)
    with caplog.at_level(logging.WARNING, logger="distributor.config"):
        config = load_config(path, env=ENV)  # it loads: a warning, not an error
    put = "a secret written in the file; put it in the environment and write"
    expected = [
        f"{path}:{line_of(path, 'secret_key:')}: web.secret_key: {put} "
        "${DISTRIBUTOR_SECRET_KEY}",
        f"{path}:{line_of(path, 'token: 123456789')}: channels[0].token: {put} "
        "${TELEGRAM_TOKEN}",
        f"{path}:{line_of(path, 'consumer_secret:')}: channels[1].consumer_secret: {put} "
        "${X_CONSUMER_SECRET}",
        f"{path}:{line_of(path, 'password: hunter2')}: channels[2].smtp.password: {put} "
        "${DAILY_SMTP_PASSWORD}",
        f"{path}:{line_of(path, 'TELEGRAM_BOT_TOKEN:-')}: channels[3].token: a secret written "
        "in the file as the default of ${TELEGRAM_BOT_TOKEN:-...}; put it in the environment "
        "only and write ${TELEGRAM_BOT_TOKEN} without a default",
    ]
    assert [str(w) for w in config.warnings] == expected
    # said by the interface, once (the command line's `warning: FILE:LINE: ...` lines), not
    # by every read of the file
    assert caplog.records == []
    said = "\n".join(expected)
    assert not any(secret in said for secret in SECRETS)


def test_secrets_from_the_environment_give_no_warning(write_config: Callable[..., Path]) -> None:
    body = (PLAIN.replace("123456789:AAHplainTokenWrittenInTheFile0123456", "${TG_TOKEN}")
            .replace("abcSecretOfTheConsumer", "${X_API_SECRET}")
            .replace("hunter2", "${SMTP_PASSWORD:-}")
            .replace(":-987654321:AAHdefaultTokenInTheFile654321", ""))
    path = from_env(write_config(body, database="postgresql://news:${DB_PASSWORD}@db/news"))
    env = {**ENV, "TG_TOKEN": "1:a", "X_API_SECRET": "s", "DISTRIBUTOR_SECRET_KEY": "k",
           "DB_PASSWORD": "pw"}
    assert load_config(path, env=env).warnings == []


def test_the_shipped_configurations_write_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    env = {name: "x" for name in ("DISTRIBUTOR_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "X_API_KEY",
                                  "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET",
                                  "SMTP_HOST")}
    with caplog.at_level(logging.WARNING, logger="distributor.config"):
        assert load_config(ROOT / "channels.yaml", env=env).warnings == []
        # the demo runs under --dry-run only: its stand-ins (${DISTRIBUTOR_SECRET_KEY:-demo-...})
        # sign nothing sent, and a dry run is never warned about them
        assert load_config(ROOT / "examples" / "demo.yaml", dry_run=True, env={}).warnings == []
    assert caplog.records == []


def test_a_dry_run_warns_of_nothing(write_config: Callable[..., Path]) -> None:
    assert load_config(write_config(PLAIN), dry_run=True, env={}).warnings == []


@pytest.mark.parametrize(("database", "variable"), [
    ("postgresql://news:s3cretDbPw@127.0.0.1:5432/news", "${DISTRIBUTOR_DATABASE_URL}"),
    ("postgresql://news@127.0.0.1:5432/news?password=s3cretDbPw", "${DISTRIBUTOR_DATABASE_URL}"),
    ("${DATABASE_URL:-postgresql://news:s3cretDbPw@127.0.0.1/news}", "${DATABASE_URL}"),
])
def test_a_password_in_the_database_address_is_a_warning(
    write_config: Callable[..., Path], database: str, variable: str,
) -> None:
    path = from_env(write_config("", database=database))
    [warning] = load_config(path, env={"DISTRIBUTOR_SECRET_KEY": "k"}).warnings
    assert str(warning).startswith(f"{path}:{line_of(path, 'database:')}: database: a password "
                                   "written in the file")
    assert "put the database address in the environment" in str(warning)
    assert variable in str(warning) and "s3cretDbPw" not in str(warning)


def test_a_plugin_channels_secret_is_found_by_its_own_model(
    write_config: Callable[..., Path], webhook_plugin: Path,
) -> None:
    path = from_env(write_config("""\
        channels:
          - {name: hook, type: webhook, url: "https://cms.example/hooks/news",
             secret: hmac-key-in-the-file}
        """))
    [warning] = load_config(path, env={"DISTRIBUTOR_SECRET_KEY": "k"}).warnings
    assert str(warning) == (f"{path}:{line_of(path, 'secret: hmac')}: channels[0].secret: a "
                            "secret written in the file; put it in the environment and write "
                            "${HOOK_SECRET}")


def test_a_missing_secret_variable_is_not_told_to_take_a_default(
    write_config: Callable[..., Path],
) -> None:
    path = write_config("""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "@rinewsportal"
            token: ${TELEGRAM_BOT_TOKEN}
          - name: daily
            type: email
            publish: instant
            from: "RI News Portal <redaksi@rinews.example>"
            smtp: {host: "${SMTP_HOST}"}
        """)
    with pytest.raises(ConfigErrors) as info:
        load_config(path, env={})
    assert [str(e) for e in info.value.errors] == [
        f"{path}:{line_of(path, 'token:')}: channels[0].token: environment variable "
        "TELEGRAM_BOT_TOKEN is not set; export TELEGRAM_BOT_TOKEN=...",
        f"{path}:{line_of(path, 'smtp:')}: channels[1].smtp.host: environment variable "
        "SMTP_HOST is not set; export SMTP_HOST=... or write ${SMTP_HOST:-default} to give a "
        "default",
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_misspelt_section_is_one_error_not_one_per_variable_in_it(
        write_config: Callable[..., Path], dry_run: bool) -> None:
    """`channel:` for `channels:` also said each unset ${VAR} in it, advising a default for
    a secret (user audit)."""
    path = write_config("""\
        channel:
          - name: x
            type: x
            consumer_key: ${X_API_KEY}
            consumer_secret: ${X_API_SECRET}
        """)
    with pytest.raises(ConfigErrors) as info:
        load_config(path, env={}, dry_run=dry_run)
    [error] = info.value.errors
    assert str(error).startswith(f"{path}:{line_of(path, 'channel:')}: channel: unknown key "
                                 "'channel'. Did you mean 'channels'?"), str(error)


def test_a_typo_in_a_required_key_is_one_error(write_config: Callable[..., Path]) -> None:
    path = write_config("""\
        channels:
          - name: telegram
            type: telegram
            chatid: "@rinewsportal"
            token: ${TELEGRAM_BOT_TOKEN}
        """)
    with pytest.raises(ConfigErrors) as info:
        load_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"})
    [error] = [str(e) for e in info.value.errors]
    assert error.startswith(f"{path}:{line_of(path, 'chatid')}: channels[0].chatid: unknown key "
                            "'chatid'. Did you mean 'chat_id'?"), error


@pytest.mark.parametrize(("key", "value"), [("path", "/etc"),
                                            ("missing_credentials", "{telegram: [FOO]}")])
def test_the_internal_fields_of_a_configuration_are_no_keys_of_the_file(
    write_config: Callable[..., Path], key: str, value: str,
) -> None:
    path = write_config(f"{key}: {value}\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    [error] = [str(e) for e in info.value.errors]
    assert error.startswith(f"{path}:{line_of(path, key + ':')}: {key}: unknown key {key!r}. "
                            "Known keys here: channels, database, execution, outbox, site, "
                            "sources, templates, web."), error
    fine = write_config("channels: []\n")
    config = load_config(fine)  # still set by load_config, and read as before
    assert config.path == fine and config.missing_credentials == {}


def test_an_invalid_secret_is_an_error_that_does_not_show_it(
    write_config: Callable[..., Path],
) -> None:
    """A secret field whose name says no "secret", "token" or "password" (X's consumer_key)
    had its value shown: "input should be a valid string (got 7391046)"."""
    path = write_config("""\
        channels:
          - {name: x, type: x, consumer_key: 7391046, consumer_secret: "${A}",
             access_token: "${A}", access_token_secret: "${A}"}
        """)
    with pytest.raises(ConfigErrors) as info:
        load_config(path, env={"A": "a"})
    [error] = [str(e) for e in info.value.errors]
    assert error == (f"{path}:{line_of(path, 'consumer_key')}: channels[0].consumer_key: input "
                     "should be a valid string")
