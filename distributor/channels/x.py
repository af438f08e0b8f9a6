"""X (Twitter) channel adapter: threads through tweepy's Client (OAuth 1.0a user context).

tweepy always calls ``https://api.twitter.com``; ``api_base_url`` is honoured by a requests
transport adapter mounted on the client's session that sends every call to that server instead
(the OAuth signature still covers the public URL, as a forwarding gateway expects). The same
transport applies ``timeout`` and reads the rate-limit headers of each post, so a channel whose
15-minute or 24-hour posting allowance is used up waits without asking X again.

Outcomes: 429, 5xx and connection failures are *transient* (channel-wide); 400/401/403 are
*permanent* with X's own ``detail`` (401 pauses the channel); a read timeout after the request
went out is *ambiguous*. The four credentials never appear in errors or in library logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
import tweepy
from pydantic import Field, SecretStr
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from distributor.articles import Article
from distributor.channels.base import (
    Adapter,
    AmbiguousError,
    ChannelError,
    Message,
    PermanentError,
    RenderContext,
    TransientError,
)
from distributor.config import ChannelConfig

log = logging.getLogger(__name__)


class XConfig(ChannelConfig):
    type: Literal["x"] = "x"
    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr
    api_base_url: str = "https://api.twitter.com"
    max_posts: int = Field(default=4, ge=1, le=25)
    link_position: Literal["first", "last"] = "last"
    numbering: bool = False
    hashtags: bool = False
    image: bool = False
    timeout: float = 20.0


#: the hosts tweepy (and the X docs) use; both are rerouted to api_base_url
_X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
#: (remaining, reset) header pairs of the posting limits, each reset in epoch seconds
_LIMIT_HEADERS = (
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)
_CREDENTIALS_HINT = ("check X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET "
                     "(the consumer_key, consumer_secret, access_token and access_token_secret "
                     "of the channel)")
#: 403 problem types that make every post fail until someone changes the app's settings
_APP_PROBLEMS = ("oauth1-permissions", "client-forbidden", "unsupported-authentication",
                 "client-not-enrolled")


# --------------------------------------------------------------------------- secrets in logs

#: loggers that print requests: the OAuth header and signature base string (consumer key and
#: access token), or anything else the credentials could end up in
_SECRET_LOGGERS = ("tweepy", "requests_oauthlib", "oauthlib", "urllib3", "requests", __name__)


class _RedactSecrets(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            clean = self.redact(text)
            if clean != text:
                record.exc_text = clean
        return True


_REDACTOR = _RedactSecrets()


def _guard_logs(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` in the loggers that see requests (idempotent; a logger's filter only
    sees the records of that very logger, so it goes on every logger below the prefixes)."""
    _REDACTOR.secrets.update(s for s in secrets if len(s) >= 4)
    prefixes = tuple(p.split(".")[0] for p in _SECRET_LOGGERS)
    names = set(_SECRET_LOGGERS) | {
        name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in prefixes
    }
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _clean_chain(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current!s} {current.args!r}"
        if _REDACTOR.redact(text) != text:
            return False
        current = current.__cause__ or current.__context__
    return True


# --------------------------------------------------------------------------- transport


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
        response = super().send(request, stream=stream,
                                timeout=self.timeout if timeout is None else timeout,
                                verify=verify, cert=cert, proxies=proxies)
        self.observe(response)
        return response


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
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


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


# --------------------------------------------------------------------------- the adapter


class XAdapter(Adapter):
    type_name = "x"
    config_model = XConfig
    body_maxlen = 280
    rate_per_minute = 30
    config: XConfig

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self._client: tweepy.Client | None = None
        #: epoch seconds before which X will refuse posts (a posting limit is used up)
        self.not_before: float = 0.0
        _guard_logs(self._secrets())

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.x import render_x

        return render_x(article, ctx)

    # -- plumbing ---------------------------------------------------------------------------
    def _secrets(self) -> list[str]:
        c = self.config
        return [s.get_secret_value() for s in (c.consumer_key, c.consumer_secret,
                                               c.access_token, c.access_token_secret)]

    def _client_ready(self) -> tweepy.Client:
        if self._client is None:
            c = self.config
            client = tweepy.Client(
                consumer_key=c.consumer_key.get_secret_value(),
                consumer_secret=c.consumer_secret.get_secret_value(),
                access_token=c.access_token.get_secret_value(),
                access_token_secret=c.access_token_secret.get_secret_value(),
            )
            transport = _Reroute(c.api_base_url, c.timeout, self._observe)
            for host in _X_HOSTS:
                client.session.mount(host + "/", transport)
            _guard_logs(self._secrets())
            self._client = client
        return self._client

    def _observe(self, response: requests.Response) -> None:
        """After a post: if a posting limit has nothing left, wait for its reset."""
        request = response.request
        if request is None or request.method != "POST" \
                or not urlsplit(request.url or "").path.endswith("/2/tweets"):
            return
        if 200 <= response.status_code < 300:
            until = _exhausted_until(response.headers)
            if until is not None and until > self.not_before:
                self.not_before = until
                log.info("X channel %s: posting limit used up; next post after %s",
                         self.config.name, time.strftime("%Y-%m-%d %H:%M:%S %Z",
                                                         time.localtime(until)))

    async def _run(self, call: Callable[..., Any], *, sent: bool, **kwargs: Any) -> Any:
        """Run one blocking tweepy call in a thread; map its failure to a channel error."""
        try:
            return await asyncio.to_thread(call, **kwargs)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            failure: Exception = exc
        error = self._translate(failure, sent=sent)
        error.message = _REDACTOR.redact(error.message)
        error.args = (error.message,)
        if _clean_chain(failure):
            error.__cause__ = failure
        raise error

    def _translate(self, exc: Exception, *, sent: bool) -> ChannelError:
        timeout = self.config.timeout
        if isinstance(exc, tweepy.TooManyRequests):
            headers = exc.response.headers
            retry_at = _exhausted_until(headers) or _number(headers, "x-rate-limit-reset")
            retry_after = max(0.0, retry_at - time.time()) if retry_at is not None \
                else _retry_after_header(headers)
            if retry_at is not None:
                self.not_before = max(self.not_before, retry_at)
            detail, _ = _problem(exc)
            wait = f"retry in {retry_after:.0f} s" if retry_after is not None else "retry later"
            return TransientError(f"X rate limit reached ({detail}); {wait}",
                                  retry_after=retry_after, channel_wide=True)
        if isinstance(exc, tweepy.Unauthorized):
            detail, _ = _problem(exc)
            return PermanentError(f"X rejected the credentials; {_CREDENTIALS_HINT}. "
                                  f"X said: {detail}", pause_channel=True)
        if isinstance(exc, tweepy.Forbidden):
            detail, kind = _problem(exc)
            if "duplicate" in detail.lower():
                return PermanentError(f"X says duplicate content: {detail}")
            if any(p in kind for p in _APP_PROBLEMS) or "oauth1 app permissions" in detail:
                return PermanentError(
                    f"X refused the app: {detail} Give the app Read and Write permission in the "
                    "developer portal, then regenerate the access token and secret.",
                    pause_channel=True)
            return PermanentError(f"X refused the post: {detail}")
        if isinstance(exc, tweepy.NotFound):
            detail, _ = _problem(exc)
            return PermanentError(f"X answered 404 ({detail}); check api_base_url "
                                  f"{self.config.api_base_url!r}")
        if isinstance(exc, tweepy.TwitterServerError):
            detail, _ = _problem(exc)
            return TransientError(
                f"X is unavailable: {exc.response.status_code} {detail}",
                retry_after=_retry_after_header(exc.response.headers), channel_wide=True)
        if isinstance(exc, tweepy.HTTPException):  # 400 and any other refusal
            detail, _ = _problem(exc)
            return PermanentError(f"X refused the post: {detail}")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TransientError(f"cannot connect to X at {self.config.api_base_url} within "
                                  f"{timeout:g} s", channel_wide=True)
        if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
            return TransientError(f"cannot reach X at {self.config.api_base_url}: {exc}",
                                  channel_wide=True)
        if isinstance(exc, requests.exceptions.ConnectionError) and (
                not sent or _before_sending(exc)):
            return TransientError(f"cannot reach X at {self.config.api_base_url}: {exc}",
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

    # -- the adapter interface --------------------------------------------------------------
    async def send(self, message: Message, *, previous_id: str | None = None) -> str:
        """Publish one post; a reply to ``previous_id`` (the thread's previous post) if given."""
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PermanentError("an X post needs a non-empty 'text' string")
        wait = self.not_before - time.time()
        if wait > 0:
            raise TransientError(f"X posting limit used up; next post in {wait:.0f} s",
                                 retry_after=wait, channel_wide=True)
        client = self._client_ready()
        response = await self._run(client.create_tweet, sent=True, text=text,
                                   in_reply_to_tweet_id=previous_id, user_auth=True)
        data = getattr(response, "data", None)
        tweet_id = data.get("id") if isinstance(data, dict) else None
        if not tweet_id:
            raise AmbiguousError(f"X accepted the post but returned no id ({response!r})")
        return str(tweet_id)

    async def check_online(self) -> str:
        """GET /2/users/me: "@handle" of the account the access token belongs to."""
        client = self._client_ready()
        response = await self._run(client.get_me, sent=False, user_auth=True)
        user = getattr(response, "data", None)
        username = getattr(user, "username", None)
        if username is None and isinstance(user, dict):
            username = user.get("username")
        if not username:
            raise PermanentError(f"X answered /2/users/me without a username ({response!r})")
        return f"@{username}"

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.session.close()
