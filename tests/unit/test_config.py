"""channels.yaml: interpolation, unknown keys, and errors that name file, line and key."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from distributor.config import ConfigErrors, parse_duration
from distributor.configfile import load_config

CHANNELS = """\
sources:
  - name: portal
    type: feed
    url: https://rinews.example/rss.xml
    every: 5m
channels:
  - name: telegram
    type: telegram
    chat_id: "@rinewsportal"
    token: ${TELEGRAM_BOT_TOKEN}
  - name: daily
    type: email
    publish: digest
    schedule: "0 6 * * *"
    from: "RI News Portal <redaksi@rinews.example>"
    smtp:
      host: ${SMTP_HOST:-localhost}
      port: ${SMTP_PORT:-2525}
"""


def errors_of(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return [str(e) for e in info.value.errors]


def test_env_variables_and_defaults_are_interpolated(write_config: Callable[..., Path]) -> None:
    path = write_config(CHANNELS)
    config = load_config(path, env={"TELEGRAM_BOT_TOKEN": "123:abc"})
    telegram = config.channel("telegram")
    assert telegram.token.get_secret_value() == "123:abc"  # type: ignore[attr-defined]
    daily = config.channel("daily")
    assert daily.smtp.host == "localhost"  # type: ignore[attr-defined]
    assert daily.smtp.port == 2525  # type: ignore[attr-defined]
    assert config.sources[0].every == timedelta(minutes=5)
    assert "123:abc" in config.secrets()


def test_three_mistakes_give_three_errors_with_their_lines(
    write_config: Callable[..., Path],
) -> None:
    broken = (CHANNELS.replace("    every: 5m", "    evry: 5m")
              .replace('"0 6 * * *"', '"0 25 * * *"'))
    path = write_config(broken)
    lines = path.read_text().splitlines()
    errors = errors_of(path, env={})
    assert len(errors) == 3, errors
    typo_line = next(i for i, line in enumerate(lines, 1) if "evry" in line)
    var_line = next(i for i, line in enumerate(lines, 1) if "TELEGRAM_BOT_TOKEN" in line)
    cron_line = next(i for i, line in enumerate(lines, 1) if "0 25" in line)
    assert errors[0].startswith(f"{path}:{typo_line}: sources[0].evry: unknown key 'evry'")
    assert "Did you mean 'every'?" in errors[0]
    assert errors[1].startswith(f"{path}:{var_line}: channels[0].token: environment variable "
                                "TELEGRAM_BOT_TOKEN is not set")
    assert errors[2].startswith(f"{path}:{cron_line}: channels[1].schedule:")
    assert "the hour '25' is not valid" in errors[2]


def test_dry_run_accepts_missing_channel_credentials(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(CHANNELS), dry_run=True, env={})
    assert config.missing_credentials == {"telegram": ["TELEGRAM_BOT_TOKEN"]}


def test_dry_run_still_requires_variables_outside_channels(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(CHANNELS, database="${DB_URL}")
    errors = errors_of(path, dry_run=True, env={})
    assert len(errors) == 1 and "DB_URL is not set" in errors[0]


def test_unknown_channel_type_suggests_the_installed_one(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(CHANNELS.replace("type: telegram", "type: telegrm"))
    (error,) = errors_of(path, env={"TELEGRAM_BOT_TOKEN": "x"})
    assert "channels[0].type: no channel type 'telegrm'; did you mean 'telegram'?" in error


def test_unknown_top_level_key_and_duplicate_names_are_errors(
    write_config: Callable[..., Path],
) -> None:
    body = CHANNELS.replace("name: daily", "name: telegram") + "chanels: []\n"
    errors = errors_of(write_config(body), env={"TELEGRAM_BOT_TOKEN": "x"})
    assert any("chanels: unknown key 'chanels'. Did you mean 'channels'?" in e for e in errors)
    assert any("the name 'telegram' is already used by channels[0]" in e for e in errors)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("site:\n  name: RI\n  url: [oops\nchannels: []\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:") and "not valid YAML" in error


def test_a_yaml_alias_bomb_is_one_clear_error_not_a_hang(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, "
              f"*a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]  # 10**9 values if expanded
    path = tmp_path / "channels.yaml"
    path.write_text("\n".join(lines) + "\nsite: *a8\n")
    (error,) = errors_of(path)
    assert "expands to more than 10,000 values" in error and "aliases" in error


def test_a_feed_over_another_scheme_than_http_is_refused(write_config: Callable[..., Path]
                                                         ) -> None:
    body = "sources:\n  - {name: f, type: feed, url: 'ftp://rinews.example/rss.xml'}\n"
    errors = errors_of(write_config(body))
    assert any("sources[0].url" in e and "not ftp://" in e for e in errors), errors


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    (error,) = errors_of(tmp_path / "nope.yaml")
    assert "no such configuration file; pass --config PATH" in error


def test_digest_channel_without_schedule_is_an_error(write_config: Callable[..., Path]) -> None:
    path = write_config(CHANNELS.replace('    schedule: "0 6 * * *"\n', ""))
    errors = errors_of(path, env={"TELEGRAM_BOT_TOKEN": "x"})
    assert len(errors) == 1 and "a digest channel needs schedule:" in errors[0]


def test_relative_paths_are_relative_to_the_config_file(
    write_config: Callable[..., Path], tmp_path: Path,
) -> None:
    path = write_config("""\
        sources:
          - name: newsroom
            type: directory
            path: articles/
            url_template: https://rinews.example/berita/{slug}
        channels:
          - name: files
            type: outbox
            path: out/
        """, database="sqlite:///local.db")
    config = load_config(path)
    assert config.sources[0].path == tmp_path / "articles"
    assert config.channel("files").path == tmp_path / "out"  # type: ignore[attr-defined]
    assert config.database == f"sqlite:///{tmp_path / 'local.db'}"


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), (45, 45), ("120", 120),
])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "", "1x"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="write it like 30s, 5m"):
        parse_duration(text)


def test_the_shipped_configurations_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {name: "x" for name in ("DISTRIBUTOR_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "X_API_KEY",
                                  "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET",
                                  "SMTP_HOST")}
    portal = load_config(root / "channels.yaml", env=env)
    assert [c.name for c in portal.channels] == ["telegram", "x", "daily"]
    demo = load_config(root / "examples" / "demo.yaml", dry_run=True, env={})
    assert demo.outbox == root / "outbox"


def test_timeouts_take_durations_or_seconds(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(textwrap.dedent("""\
        site: {name: RI News Portal, url: "https://rinews.example"}
        channels:
          - {name: tg, type: telegram, chat_id: "@x", token: "1:a", timeout: 10s,
             reconcile_wait: 2s}
          - {name: tg2, type: telegram, chat_id: "@y", token: "1:a", timeout: 7.5}
        """), encoding="utf-8")
    tg, tg2 = load_config(path).channels
    assert (tg.timeout, tg.reconcile_wait) == (10.0, 2.0)
    assert tg2.timeout == 7.5


@pytest.mark.parametrize(("expr", "weekdays"), [
    ("0 6 * * 0", {"Sunday"}), ("0 6 * * 7", {"Sunday"}), ("0 6 * * 6", {"Saturday"}),
    ("0 6 * * 1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
    ("0 6 * * 0-6", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                     "Sunday"}),
    ("0 6 * * sat,sun", {"Saturday", "Sunday"}),
])
def test_schedules_read_weekdays_as_cron_does(expr: str, weekdays: set[str]) -> None:
    from datetime import UTC, datetime

    from distributor.config import cron_trigger

    trigger, at = cron_trigger(expr, "Asia/Jakarta"), datetime(2026, 11, 23, tzinfo=UTC)
    seen = set()
    for _ in range(14):
        at = trigger.get_next_fire_time(None, at)
        seen.add(at.strftime("%A"))
        at = at.replace(minute=1)
    assert seen == weekdays


def test_a_bad_cron_field_is_named() -> None:
    from distributor.config import validate_cron

    with pytest.raises(ValueError, match="the hour '25' is not valid"):
        validate_cron("0 25 * * *")
    with pytest.raises(ValueError, match="has 4 fields"):
        validate_cron("0 6 * *")


def test_check_names_a_bare_site_url_a_language_name_a_bad_port_and_a_from_without_address_at_once(
    write_config: Callable[..., Path],
) -> None:
    """Issue 19.9: these four passed `check`, then failed at the first send or link."""
    broken = (CHANNELS.replace('"RI News Portal <redaksi@rinews.example>"', '"RI News Portal"')
              .replace("${SMTP_PORT:-2525}", "99999"))
    path = write_config(broken)
    path.write_text(path.read_text().replace("url: https://rinews.example\n",
                                             "url: rinews.example\n", 1)
                    .replace("language: id\n", "language: indonesian\n", 1))
    errors = errors_of(path, env={"TELEGRAM_BOT_TOKEN": "1:a"})
    assert len(errors) == 4, errors
    assert "site.url: 'rinews.example' is not a full web address" in errors[0]
    assert "such as https://rinews.example" in errors[0]
    assert "site.language: 'indonesian' is not a language code" in errors[1]
    assert "channels[1].from: 'RI News Portal' has no email address" in errors[2]
    assert "channels[1].smtp.port:" in errors[3] and "65535" in errors[3]


@pytest.mark.parametrize("language", ["id", "en", "id-ID", "pt_BR", "zh-Hant"])
def test_language_codes_babel_knows_are_accepted(write_config: Callable[..., Path],
                                                 language: str) -> None:
    path = write_config(CHANNELS)
    path.write_text(path.read_text().replace("language: id\n", f"language: {language}\n", 1))
    assert load_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"}).site.language == language


@pytest.mark.parametrize("sender", ["redaksi@rinews.example", "Redaksi <redaksi@rinews.example>",
                                    "root@localhost"])
def test_senders_with_an_address_are_accepted(write_config: Callable[..., Path],
                                              sender: str) -> None:
    path = write_config(CHANNELS.replace('"RI News Portal <redaksi@rinews.example>"',
                                         f'"{sender}"'))
    config = load_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"})
    assert config.channel("daily").from_ == sender  # type: ignore[attr-defined]


def test_a_channel_after_an_invalid_one_is_named_by_its_own_place_and_line(
    write_config: Callable[..., Path],
) -> None:
    """A site-level problem of channel 2 was reported as channels[1] (with channel 1's line)
    when channel 1 was invalid."""
    path = write_config(CHANNELS.replace('    chat_id: "@rinewsportal"\n', "    chat_id: 12\n"
                                         "    colour: red\n")
                        .replace('    schedule: "0 6 * * *"\n', ""))
    lines = path.read_text().splitlines()
    errors = errors_of(path, env={"TELEGRAM_BOT_TOKEN": "1:a"})
    digest = next(e for e in errors if "needs schedule" in e)
    publish_line = next(i for i, line in enumerate(lines, 1) if "publish: digest" in line)
    assert f":{publish_line}: channels[1].publish:" in digest, errors
