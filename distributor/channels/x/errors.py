"""What X's refusals and lost answers mean for a post: the channel error each becomes
(transient, permanent, ambiguous), with X's own explanation and what to do."""

from __future__ import annotations

import time
from collections.abc import Mapping

import requests
import tweepy

from distributor.channels.x.transport import (
    _before_sending,
    _exhausted_until,
    _number,
    _problem,
    _retry_after_header,
)
from distributor.plugin import AmbiguousError, ChannelError, PermanentError, TransientError

#: the channel's keys, not the variables of the example configuration: a newsroom may name its
#: own (${RINEWS_X_KEY}); every line that shows the hint names the channel
_CREDENTIALS_HINT = ("check the channel's consumer_key, consumer_secret, access_token and "
                     "access_token_secret in the configuration (and the ${...} variables they "
                     "name)")
#: 403 problem types that make every post fail until someone changes the app's settings
_APP_PROBLEMS = ("oauth1-permissions", "client-forbidden", "unsupported-authentication",
                 "client-not-enrolled")


class DuplicateContentError(PermanentError):
    """X refused a post as duplicate content: the account has a post with the same text."""


class ServerError(TransientError):
    """X answered 5xx. Usually nothing was published, but sometimes it was."""


def _explained(exc: tweepy.HTTPException) -> tuple[str, str]:
    """X's own explanation of a refusal (detail, problem type); a web page in its place (a
    proxy's error page, a web server at a wrong api_base_url) is named, never quoted."""
    response = exc.response
    head = (getattr(response, "content", b"") or b"")[:1024].lstrip().lower()
    if head[:1] != b"{" and (head.startswith((b"<!doctype html", b"<html"))
                             or b"<html" in head or b"<body" in head):
        status = f"{getattr(response, 'status_code', '')} {getattr(response, 'reason', '')}"
        return f"{status.strip()} with a web page, not the X API's answer", ""
    return _problem(exc)


def rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """When (epoch seconds) the limit a 429 is about resets, if X said."""
    return _exhausted_until(headers) or _number(headers, "x-rate-limit-reset")


def translate(exc: Exception, *, base_url: str, timeout: float, sent: bool,
              auxiliary: bool = False) -> ChannelError:
    """The channel error a failed tweepy call becomes.

    ``sent``: a lost answer means the request may have been carried out (ambiguous);
    ``auxiliary``: a lookup or an upload, whose refusal says nothing about the channel.
    """
    if isinstance(exc, tweepy.TooManyRequests):
        headers = exc.response.headers
        retry_at = rate_limit_reset(headers)
        retry_after = max(0.0, retry_at - time.time()) if retry_at is not None \
            else _retry_after_header(headers)
        detail, _ = _explained(exc)
        wait = f"retry in {retry_after:.0f} s" if retry_after is not None else "retry later"
        return TransientError(f"X rate limit reached ({detail}); {wait}",
                              retry_after=retry_after, channel_wide=True)
    if isinstance(exc, tweepy.Unauthorized):
        detail, _ = _explained(exc)
        return PermanentError(f"X rejected the credentials; {_CREDENTIALS_HINT}. "
                              f"X said: {detail}", pause_channel=True)
    if isinstance(exc, tweepy.Forbidden):
        detail, kind = _explained(exc)
        if auxiliary:  # a lookup or an upload the plan or the app does not allow
            return PermanentError(f"X refused the request: {detail}")
        if "duplicate" in detail.lower():
            return DuplicateContentError(f"X says duplicate content: {detail}")
        if any(p in kind for p in _APP_PROBLEMS) or "oauth1 app permissions" in detail:
            return PermanentError(
                f"X refused the app: {detail} Give the app Read and Write permission in the "
                "developer portal, then regenerate the access token and secret.",
                pause_channel=True)
        return PermanentError(f"X refused the post: {detail}")
    if isinstance(exc, tweepy.NotFound):
        detail, _ = _explained(exc)
        return PermanentError(f"X answered 404 ({detail}); check api_base_url "
                              f"{base_url!r}")
    if isinstance(exc, tweepy.TwitterServerError):
        detail, _ = _explained(exc)
        status = str(exc.response.status_code)
        return ServerError(
            f"X is unavailable: {detail if detail.startswith(status) else f'{status} {detail}'}",
            retry_after=_retry_after_header(exc.response.headers), channel_wide=True)
    if isinstance(exc, tweepy.HTTPException):  # 400 and any other refusal
        detail, _ = _explained(exc)
        return PermanentError(f"X refused the post: {detail}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransientError(f"cannot connect to X at {base_url} within "
                              f"{timeout:g} s", channel_wide=True)
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return TransientError(f"cannot reach X at {base_url}: {exc}",
                              channel_wide=True)
    if isinstance(exc, requests.exceptions.ConnectionError) and (
            not sent or _before_sending(exc)):
        return TransientError(f"cannot reach X at {base_url}: {exc}",
                              channel_wide=True)
    if not sent:
        return TransientError(f"X did not answer: {exc}", channel_wide=True)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return AmbiguousError(f"no answer from X within {timeout:g} s: the post may have "
                              "been published")
    if isinstance(exc, requests.RequestException):
        return AmbiguousError(f"the answer from X was lost ({exc}): the post may have been "
                              "published")
    return PermanentError(f"X error: {exc}")
