"""Mastodon's HTTP side: one request with the access token, and what an answer means for a
post (transient, permanent, ambiguous), with Mastodon's own words and its rate-limit reset."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from distributor.plugin import (
    ChannelError,
    PermanentError,
    SecretFilter,
    TransientError,
    http_request,
    retry_after_seconds,
    utcnow,
)

USER_AGENT = "distributor (mastodon channel)"
REDACTOR = SecretFilter(("httpx", "httpcore", "distributor.channels.mastodon"))
_TOKEN_HINT = ("check MASTODON_TOKEN (access_token): create it under Preferences > Development "
               "with the scopes write:statuses and write:media (docs/channels/mastodon.md)")


def reset_in(headers: httpx.Headers) -> float | None:
    """Seconds until the rate limit resets: ``X-RateLimit-Reset`` (an ISO 8601 time), else
    ``Retry-After``."""
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (when - utcnow()).total_seconds())
    return retry_after_seconds(headers.get("retry-after"))


def exhausted_for(headers: httpx.Headers) -> float | None:
    """After an accepted post: seconds until the reset when nothing is left of the limit."""
    remaining = headers.get("x-ratelimit-remaining")
    if remaining is None:
        return None
    try:
        if int(remaining) > 0:
            return None
    except ValueError:
        return None
    return reset_in(headers)


def said(response: httpx.Response) -> str:
    """Mastodon's own explanation (``error``, ``error_description``), one line."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        text = str(body["error"])
        if body.get("error_description"):
            text += f" ({body['error_description']})"
    else:
        text = response.text.strip().replace("\n", " ")[:200] or f"HTTP {response.status_code}"
    return REDACTOR.redact(text)


def refusal(response: httpx.Response, *, what: str = "the post",
            auxiliary: bool = False) -> ChannelError:
    status = response.status_code
    reason = said(response)
    if status == 429:
        wait = reset_in(response.headers)
        shown = f"{wait:.0f} s" if wait is not None else "a while"
        return TransientError(f"Mastodon rate limit reached ({reason}); next try in {shown}",
                              retry_after=wait, channel_wide=True)
    if status >= 500:
        return TransientError(f"Mastodon is unavailable ({status}: {reason})",
                              retry_after=retry_after_seconds(response.headers.get("retry-after")))
    if status == 401 and not auxiliary:
        return PermanentError(f"Mastodon rejected the access token ({reason}); {_TOKEN_HINT}",
                              pause_channel=True)
    if status == 403 and not auxiliary:
        return PermanentError(f"Mastodon refused {what} ({reason}); {_TOKEN_HINT}",
                              pause_channel=True)
    if status == 404 and not auxiliary:
        return PermanentError(f"Mastodon answered 404 ({reason}): check instance (the "
                              "address of your Mastodon server)")
    return PermanentError(f"Mastodon refused {what} ({status}: {reason})")


async def request(client: httpx.AsyncClient, method: str, url: str, *, sent: bool,
                  timeout: float, **kwargs: Any) -> httpx.Response:
    """One request; a failure before an answer becomes transient, or ambiguous when the
    status may have been posted (``sent``)."""
    return await http_request(client, method, url, platform="Mastodon", sent=sent,
                              timeout=timeout, what="the status", clean=REDACTOR.redact,
                              **kwargs)
