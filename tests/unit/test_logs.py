"""Log lines never carry a subscriber's token, a webhook's secret path or a bot token, and
every line is one JSON object in JSON mode."""

from __future__ import annotations

import json
import logging

from distributor.logs import JsonFormatter, RedactingFilter, add_secret_paths


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
