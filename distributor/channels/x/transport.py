"""X's HTTP side as tweepy sees it: the transport that sends tweepy's requests to
``api_base_url`` (with a timeout, showing each answer to the adapter), and reading X's
answers: the posting-limit and Retry-After headers, X's own explanation of a refusal, and
whether a failed connection was ever made."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from distributor.plugin import retry_after_seconds

#: set by the adapter around a post: the transport appends when the post's request leaves
#: (time.time(); tweepy runs in a worker thread, which sees the caller's context)
POST_LEFT_AT: ContextVar[list[float] | None] = ContextVar("distributor_x_post_at", default=None)

#: the hosts tweepy (and the X docs) use; both are rerouted to api_base_url
_X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
#: (remaining, reset) header pairs of the posting limits, each reset in epoch seconds
_LIMIT_HEADERS = (
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)


class _Reroute(HTTPAdapter):
    """Sends tweepy's api.twitter.com requests to ``base_url``, with a timeout, and shows each
    response to ``observe`` (in the worker thread)."""

    def __init__(self, base_url: str, timeout: float,
                 observe: Callable[[requests.Response], None]):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.observe = observe

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: dict[str, str] | None = None) -> requests.Response:
        url = request.url or ""
        for host in _X_HOSTS:
            if (url == host or url.startswith(host + "/")) and self.base_url != host:
                request.url = self.base_url + url[len(host):]
                # the proxies were chosen for the public host; choose again for the real one
                proxies = get_environ_proxies(request.url)
                break
        stamps = POST_LEFT_AT.get()
        if stamps is not None and request.method == "POST" \
                and urlsplit(request.url or "").path.endswith("/2/tweets"):
            stamps.append(time.time())
        response = super().send(request, stream=stream,
                                timeout=self.timeout if timeout is None else timeout,
                                verify=verify, cert=cert, proxies=proxies)
        self.observe(response)
        return response


@contextmanager
def post_times() -> Iterator[list[float]]:
    """When the post requests made inside leave for X (time.time()), in order."""
    left: list[float] = []
    watching = POST_LEFT_AT.set(left)
    try:
        yield left
    finally:
        POST_LEFT_AT.reset(watching)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None


def _exhausted_until(headers: Mapping[str, str]) -> float | None:
    """The latest reset (epoch seconds) among the posting limits that have nothing left."""
    resets = []
    for remaining_name, reset_name in _LIMIT_HEADERS:
        remaining, reset = _number(headers, remaining_name), _number(headers, reset_name)
        if remaining is not None and remaining <= 0 and reset is not None:
            resets.append(reset)
    return max(resets) if resets else None


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    return retry_after_seconds(headers.get("retry-after"))


def _problem(exc: tweepy.HTTPException) -> tuple[str, str]:
    """X's own explanation of a refusal: (detail, problem type)."""
    response = exc.response
    status = getattr(response, "status_code", "")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = (getattr(response, "text", "") or "").strip()[:300]
        return f"{status} {getattr(response, 'reason', '')}".strip() + (f": {text}" if text
                                                                            else ""), ""
    detail = str(body.get("detail") or body.get("title") or "")
    messages = [str(e["message"]) for e in body.get("errors", []) or []
                if isinstance(e, dict) and e.get("message")]
    messages += [str(e) for e in body.get("errors", []) or [] if isinstance(e, str)]
    if messages and (not detail or detail.startswith("One or more parameters")):
        detail = f"{detail} ({'; '.join(messages)})" if detail else "; ".join(messages)
    return detail or f"{status} {getattr(response, 'reason', '')}".strip(), \
        str(body.get("type") or "")


def _before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """True if the connection was never made (refused, DNS, connect timeout)."""
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)
