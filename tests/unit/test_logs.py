"""Log lines never carry a subscriber's token, a webhook's secret path, a bot token or the
credentials in a feed's address, and
every line is one JSON object in JSON mode."""

from __future__ import annotations

import json
import logging

import pytest

from distributor.logs import JsonFormatter, RedactingFilter, add_secret_paths
from distributor.values import mask_secrets, url_secrets


def access_line(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it."""
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                             '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5000", "POST", path, "1.1", 200), None)


def test_tokens_in_signed_links_are_redacted() -> None:
    seen = RedactingFilter()
    for path, shown in [("/unsubscribe/12.abcDEF.sig-_x", "/unsubscribe/<redacted>"),
                        ("/confirm/12.abc.Zm9v?lang=en", "/confirm/<redacted>?lang=en")]:
        record = access_line(path)
        seen.filter(record)
        assert record.getMessage() == f'127.0.0.1:5000 - "POST {shown} HTTP/1.1" 200'


def test_a_webhook_secret_path_is_redacted_once_registered() -> None:
    add_secret_paths(["/hooks-for-bots/"])
    record = access_line("/hooks-for-bots/s3cr3t-path-value")
    RedactingFilter().filter(record)
    assert "s3cr3t" not in record.getMessage() and "/hooks-for-bots/<redacted>" in \
        record.getMessage()


def test_a_bot_token_in_a_url_is_redacted_and_the_line_is_json() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s",
                               ("POST https://api.example/bot123456:ABCdefGHIjklMNOpqrSTUvwx/x",),
                               None)
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "HTTP Request: POST https://api.example/bot<redacted>/x"


def test_a_text_log_line_carries_its_date_and_time_zone() -> None:
    """Issue 19.10: lines read "08:47:20 running" with no date and no zone."""
    import re

    from distributor.logs import TextFormatter

    record = logging.LogRecord("distributor", logging.INFO, __file__, 1, "running", None, None)
    line = TextFormatter().format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z][A-Za-z0-9+:-]* running", line), line


@pytest.mark.parametrize(("url", "secrets"), [
    ("https://reader:s3cret-pw@feeds.example/rss", ["s3cret-pw"]),
    ("https://feeds.example/rss?token=abcd1234&lang=id", ["abcd1234"]),
    ("https://feeds.example/rss?api_key=K%2Bey%2F99zz&page=2", ["K%2Bey%2F99zz", "K+ey/99zz"]),
    ("https://feeds.example/rss?sig=0123456789abcdef&format=rss", ["0123456789abcdef"]),
    ("https://feeds.example/rss?accessToken=0123456789abcdef", ["0123456789abcdef"]),
    ("https://ghp_0123456789abcdefXYZ@feeds.example/rss", ["ghp_0123456789abcdefXYZ"]),
    ("https://feeds.example/rss?lang=id&page=2", []),  # nothing secret-shaped
    ("https://user@feeds.example/rss", []),  # a short user name without a password
    # a credential's name: any value is one; a short one is redacted with its name, so that
    # "news" does not vanish from every log line
    ("https://feeds.example/rss?key=news&session=2024", ["key=news", "session=2024"]),
    ("https://feeds.example/rss?token=SECRETQ", ["token=SECRETQ"]),
    # a name that only ends like one (the looser rule): from 8 characters
    ("https://feeds.example/rss?monkey=news&hotkey=0123456789", ["0123456789"]),
])
def test_the_credentials_in_a_feeds_address_are_found(url: str, secrets: list[str]) -> None:
    assert sorted(url_secrets(url)) == sorted(secrets)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://feeds.example/rss?token=SECRETQ&lang=id",
     "https://feeds.example/rss?token=***&lang=id"),
    ("https://feeds.example/rss?lang=id&access_token=a1&accessToken=b2&api-key=c3&sig=d",
     "https://feeds.example/rss?lang=id&access_token=***&accessToken=***&api-key=***&sig=***"),
    ("https://feeds.example/rss?monkey=news&token=", "https://feeds.example/rss?monkey=news&token="),
])
def test_a_short_token_in_a_feeds_address_is_masked_in_full(url: str, shown: str) -> None:
    """A token of fewer than 8 characters was shown whole in errors and `sources list`."""
    message = f"feed {url} answered HTTP 503"
    assert mask_secrets(message, url_secrets(url)) == f"feed {shown} answered HTTP 503"
    assert mask_secrets(message, []) == f"feed {shown} answered HTTP 503"  # an older message
    assert RedactingFilter(url_secrets(url)).redact(url).count("SECRETQ") == 0


def test_a_feeds_password_and_token_are_in_no_log_line() -> None:
    url = "https://reader:s3cret-pw@feeds.example/rss?token=abcd1234&lang=id"
    seen = RedactingFilter(url_secrets(url))
    record = logging.LogRecord("distributor.ingest", logging.WARNING, __file__, 1,
                               "source %s: %s answered HTTP 404", ("desk", url), None)
    seen.filter(record)
    assert record.getMessage() == ("source desk: https://reader:***@feeds.example/rss"
                                   "?token=***&lang=id answered HTTP 404")
    assert mask_secrets(url, url_secrets(url)) == \
        "https://reader:***@feeds.example/rss?token=***&lang=id"
    # a password it was not told of (an old one, in a message stored before a change)
    assert mask_secrets("http://reader:old-pw@feeds.example/rss answered HTTP 401", []) == \
        "http://reader:***@feeds.example/rss answered HTTP 401"
