"""A fake X API v2: a real HTTP server on 127.0.0.1 that checks what X checks.

    with FakeX() as x:
        config = XConfig(name="x", **x.credentials, api_base_url=x.url, timeout=1)
        ...
        assert [t.text for t in x.tweets] == ["first", "second"]

Endpoints: ``POST /2/tweets``, ``GET /2/users/me``, ``GET /2/users/:id/tweets`` (the account's
timeline, newest first, as X returns it: links shortened to t.co with ``entities.urls``, ``&<>``
HTML-escaped, a t.co link to attached media) and ``POST /2/media/upload`` (the v2 one-shot image
upload: JSON ``{"media": base64, "media_category": "tweet_image", "media_type": ...}``; the
images are kept in :attr:`FakeX.media`). Every request must carry a valid
OAuth 1.0a ``Authorization: OAuth ...`` header: the consumer key and access token of
:attr:`FakeX.credentials`, HMAC-SHA1, a fresh timestamp, an unused nonce and a signature that
verifies with the two secrets (over ``https://api.twitter.com``/``https://api.x.com`` + path, the
URL tweepy signs, or over the fake's own URL). Otherwise 401.

``POST /2/tweets`` refuses, like X: texts over 280 weighted characters (400), the same text
twice (403 duplicate content) and replies to a post it does not have (403, "deleted or not
visible") or with media ids it never issued (400). Accepted posts are recorded in
:attr:`FakeX.tweets`; every request in :attr:`FakeX.requests`, with the time it arrived. Each
post answer carries ``x-rate-limit-*`` headers (a 15-minute window of :attr:`FakeX.window_limit`
posts) and, when :attr:`FakeX.user_daily_limit` / :attr:`FakeX.app_daily_limit` are set,
``x-user-limit-24hour-*`` / ``x-app-limit-24hour-*``; a used-up limit answers 429.

Scriptable (for the next posts, or any endpoint with ``endpoints=None``): :meth:`rate_limit`,
:meth:`server_error` (``posted=True``: publish the post, then answer 5xx all the same, as X
sometimes does), :meth:`unauthorized`, :meth:`no_answer` (record the post, then answer too late)
and the general :meth:`fail_next`; ``skip=N`` lets N matching requests through first.
:meth:`publish` gives the account a post of its own (made by hand, or by an earlier run),
:meth:`start_new_day` starts the allowances again, :meth:`as_returned` shows a post as X does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

POST_TWEETS = "POST /2/tweets"
USERS_ME = "GET /2/users/me"
USER_TWEETS = "GET /2/users/:id/tweets"
MEDIA_UPLOAD = "POST /2/media/upload"
DELETE_TWEET = "DELETE /2/tweets/:id"
TEXT_TOO_LONG = ("Your Tweet text is too long. For more information on how Twitter determines "
                 "text length see https://github.com/twitter/twitter-text.")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_MISSING = "You attempted to reply to a Tweet that is deleted or not visible to you."
MEDIA_INVALID = "Your media IDs are invalid."
#: what the v2 one-shot upload takes (GIFs and videos need the chunked upload)
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
               b"BM": "image/bmp", b"II*\x00": "image/tiff", b"MM\x00*": "image/tiff"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_USER_TWEETS_PATH = re.compile(r"^/2/users/(\d+)/tweets$")
_TWEET_PATH = re.compile(r"^/2/tweets/(\d+)$")
_URL = re.compile(r"https?://\S+")
SIGNED_HOSTS = ("https://api.twitter.com", "https://api.x.com")


def weighted_length(text: str) -> int:
    """The length X counts: the X package's twitter-text weighting if it is there."""
    try:
        from distributor.channels.x.render import weighted_length as render_weighted_length

        return int(render_weighted_length(text))
    except Exception:  # not written yet, or broken mid-edit: a close approximation
        text = re.sub(r"https?://\S+", "x" * 23, text)
        return sum(1 if ord(c) <= 0x10FF or 0x2000 <= ord(c) <= 0x200D
                   or 0x2010 <= ord(c) <= 0x201F or 0x2032 <= ord(c) <= 0x2037 else 2
                   for c in text)


@dataclass
class Tweet:
    id: str
    text: str
    in_reply_to: str | None
    author_id: str
    created_at: float
    media_ids: list[str] = field(default_factory=list)


@dataclass
class Upload:
    id: str
    data: bytes
    media_type: str
    media_category: str


@dataclass
class XRequest:
    """Every request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    #: the parsed OAuth parameters of the Authorization header (empty if there was none)
    oauth: dict[str, str] = field(default_factory=dict)
    status: int = 0
    #: the headers of the fake's answer (rate-limit headers among them)
    answer_headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    #: when it arrived (epoch seconds)
    at: float = field(default_factory=time.time)

    @property
    def endpoint(self) -> str:
        """``METHOD /path``, with a user id in the path written ``:id`` as in X's docs."""
        if _USER_TWEETS_PATH.match(self.path):
            return f"{self.method} /2/users/:id/tweets"
        if _TWEET_PATH.match(self.path):
            return f"{self.method} /2/tweets/:id"
        return f"{self.method} {self.path}"


@dataclass
class _Script:
    status: int
    body: dict[str, Any]
    #: the answer's headers, or a function making them when the answer is given
    headers: dict[str, str] | Callable[[], dict[str, str]]
    times: int
    endpoints: frozenset[str] | None
    #: > 0: process normally (record the post) and answer this many seconds late
    delay: float = 0.0
    #: let this many matching requests through before the script applies
    skip: int = 0
    #: process normally (record the post), then answer with this script all the same
    posted: bool = False

    def matches(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints

    def answer_headers(self) -> dict[str, str]:
        return dict(self.headers() if callable(self.headers) else self.headers)


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    """An X API v2 problem body."""
    return {"title": title, "detail": detail, "type": kind, "status": status}


class FakeX:
    """An X API v2 server on 127.0.0.1 (start with ``with`` or :meth:`start`)."""

    def __init__(self, *, username: str = "rinewsportal", user_id: str = "1600000000000000001",
                 consumer_key: str = "fake-consumer-key-3rT9", consumer_secret: str =
                 "fake-consumer-secret-Qm27sLk", access_token: str =
                 "1600000000000000001-fakeAccessTokenZx81", access_token_secret: str =
                 "fake-access-token-secret-Hq55"):
        self.username = username
        self.user_id = user_id
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.tweets: list[Tweet] = []
        #: posts removed by DELETE /2/tweets/:id, in order
        self.deleted: list[Tweet] = []
        self.requests: list[XRequest] = []
        #: images received by POST /2/media/upload, by media id
        self.media: dict[str, Upload] = {}
        #: posts allowed per 15-minute window (x-rate-limit-*)
        self.window_limit = 100
        self.window_seconds = 900
        #: posts allowed per 24 hours for the user / the app (None: no such header)
        self.user_daily_limit: int | None = None
        self.app_daily_limit: int | None = None
        self.url = ""
        self._window_start = time.time()
        self._window_used = 0
        self._day_start = time.time()
        self._day_used = 0
        self._nonces: set[str] = set()
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._next_id = 1790000000000000000
        self._next_media_id = 1880000000000000000
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def credentials(self) -> dict[str, str]:
        """The four values an XConfig needs, by their config names."""
        return {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret,
                "access_token": self.access_token,
                "access_token_secret": self.access_token_secret}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeX:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting --------------------------------------------------------------------------
    def fail_next(self, status: int, body: dict[str, Any], *,
                  headers: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                  times: int = 1, endpoints: Collection[str] | None = (POST_TWEETS,),
                  skip: int = 0, posted: bool = False) -> None:
        """Answer the next ``times`` requests to ``endpoints`` (None: any) with this, after
        letting ``skip`` of them through; ``posted``: carry the request out all the same.
        ``headers`` may be a function, called when the answer is given."""
        with self._lock:
            self._scripts.append(_Script(status, body, headers or {}, times,
                                         None if endpoints is None else frozenset(endpoints),
                                         skip=skip, posted=posted))

    def rate_limit(self, reset_in: float, *, times: int = 1, daily: str | None = None,
                   endpoints: Collection[str] | None = (POST_TWEETS,), skip: int = 0) -> int:
        """429 whose x-rate-limit-reset is ``reset_in`` seconds away (``daily="user"|"app"``:
        the 24-hour limit is the one used up). Returns the reset, epoch seconds.

        With ``skip``, the reset is ``reset_in`` seconds after the 429 is actually given (the
        return value is then only an estimate: the request's ``answer_headers`` has it)."""
        def headers(now: float) -> dict[str, str]:
            reset = str(int(now + reset_in))
            if daily is None:
                return {"x-rate-limit-limit": str(self.window_limit),
                        "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
            return {"x-rate-limit-limit": str(self.window_limit),
                    "x-rate-limit-remaining": str(self.window_limit - 1),
                    "x-rate-limit-reset": str(int(now + 900)),
                    f"x-{daily}-limit-24hour-limit": "17",
                    f"x-{daily}-limit-24hour-remaining": "0",
                    f"x-{daily}-limit-24hour-reset": reset}

        now = time.time()
        self.fail_next(429, problem(429, "Too Many Requests", "Too Many Requests"),
                       headers=(lambda: headers(time.time())) if skip else headers(now),
                       times=times, endpoints=endpoints, skip=skip)
        return int(now + reset_in)

    def server_error(self, status: int = 503, *, times: int = 1, retry_after: int | None = None,
                     endpoints: Collection[str] | None = (POST_TWEETS,), skip: int = 0,
                     posted: bool = False) -> None:
        """5xx; ``posted=True``: the post is published anyway (X sometimes does that)."""
        title = {500: "Internal Server Error", 502: "Bad Gateway",
                 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Server Error")
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.fail_next(status, problem(status, title, title), headers=headers, times=times,
                       endpoints=endpoints, skip=skip, posted=posted)

    def unauthorized(self, *, times: int = 1,
                     endpoints: Collection[str] | None = (POST_TWEETS,), skip: int = 0) -> None:
        self.fail_next(401, problem(401, "Unauthorized", "Unauthorized"), times=times,
                       endpoints=endpoints, skip=skip)

    def no_answer(self, seconds: float, *, times: int = 1,
                  endpoints: Collection[str] | None = (POST_TWEETS,), skip: int = 0) -> None:
        """Accept (record) the next posts but answer only after ``seconds``: past the client's
        timeout the outcome is unknown to it."""
        with self._lock:
            self._scripts.append(_Script(0, {}, {}, times,
                                         None if endpoints is None else frozenset(endpoints),
                                         delay=seconds, skip=skip))

    def publish(self, text: str, *, in_reply_to: str | None = None) -> Tweet:
        """A post the account already has (made by hand, or by an earlier run)."""
        with self._lock:
            self._next_id += 1
            tweet = Tweet(id=str(self._next_id), text=text, in_reply_to=in_reply_to,
                          author_id=self.user_id, created_at=time.time())
            self.tweets.append(tweet)
        return tweet

    def start_new_day(self) -> None:
        """As if 24 hours had passed: the daily and 15-minute allowances start again."""
        with self._lock:
            self._day_start = self._window_start = time.time()
            self._day_used = self._window_used = 0

    def posts_to(self, endpoint: str) -> list[XRequest]:
        """The requests received for ``endpoint`` (e.g. :data:`POST_TWEETS`), in order."""
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def _take_script(self, endpoint: str) -> _Script | None:
        chosen = None
        with self._lock:
            for script in list(self._scripts):
                if not script.matches(endpoint):
                    continue
                if script.skip > 0:
                    script.skip -= 1
                elif chosen is None:
                    chosen = script
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
        return chosen

    # -- the API ----------------------------------------------------------------------------
    def handle(self, request: XRequest, query: dict[str, str],
               form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one request; runs in the server's threads."""
        request.query = dict(query)
        with self._lock:
            self.requests.append(request)
        if not self._authorized(request, query, form):
            return 401, problem(401, "Unauthorized", "Unauthorized"), {}
        endpoint = request.endpoint
        script = self._take_script(endpoint)
        if script is not None and not script.delay and not script.posted:
            return script.status, script.body, script.answer_headers()
        answer: tuple[int, dict[str, Any], dict[str, str]]
        if endpoint == USERS_ME:
            answer = 200, {"data": {"id": self.user_id, "name": "RI News Portal",
                                    "username": self.username}}, {}
        elif endpoint == POST_TWEETS:
            answer = self._post(request.body)
        elif endpoint == USER_TWEETS:
            match = _USER_TWEETS_PATH.match(request.path)
            assert match is not None
            answer = self._timeline(match.group(1), query)
        elif endpoint == MEDIA_UPLOAD:
            answer = self._upload(request.body)
        elif endpoint == DELETE_TWEET:
            match = _TWEET_PATH.match(request.path)
            assert match is not None
            answer = self._delete(match.group(1))
        else:
            answer = 404, {"errors": [{"message": "Sorry, that page does not exist",
                                       "code": 34}]}, {}
        if script is not None and script.posted:
            return script.status, script.body, script.answer_headers()
        if script is not None:
            self._closing.wait(script.delay)
        return answer

    def _authorized(self, request: XRequest, query: dict[str, str], form: dict[str, str]) -> bool:
        oauth = request.oauth
        if (oauth.get("oauth_consumer_key") != self.consumer_key
                or oauth.get("oauth_token") != self.access_token
                or oauth.get("oauth_signature_method") != "HMAC-SHA1"
                or oauth.get("oauth_version", "1.0") != "1.0"
                or not oauth.get("oauth_nonce") or not oauth.get("oauth_signature")):
            return False
        try:
            if abs(int(oauth.get("oauth_timestamp", "0")) - time.time()) > 300:
                return False
        except ValueError:
            return False
        params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        params += list(query.items()) + list(form.items())
        normalized = "&".join(f"{k}={v}" for k, v in sorted((_pct(k), _pct(v))
                                                             for k, v in params))
        key = f"{_pct(self.consumer_secret)}&{_pct(self.access_token_secret)}".encode()
        valid = False
        for base in (*SIGNED_HOSTS, self.url):
            base_string = "&".join((request.method.upper(), _pct(base + request.path),
                                    _pct(normalized)))
            digest = hmac.new(key, base_string.encode(), hashlib.sha1).digest()
            expected = base64.b64encode(digest).decode()
            valid = valid or hmac.compare_digest(expected, oauth["oauth_signature"])
        with self._lock:
            if not valid or oauth["oauth_nonce"] in self._nonces:
                return False
            self._nonces.add(oauth["oauth_nonce"])
        return True

    def _limit_headers(self) -> dict[str, str]:
        headers = {"x-rate-limit-limit": str(self.window_limit),
                   "x-rate-limit-remaining": str(max(0, self.window_limit - self._window_used)),
                   "x-rate-limit-reset": str(int(self._window_start + self.window_seconds))}
        day_reset = str(int(self._day_start + 86400))
        for scope, limit in (("user", self.user_daily_limit), ("app", self.app_daily_limit)):
            if limit is not None:
                headers |= {f"x-{scope}-limit-24hour-limit": str(limit),
                            f"x-{scope}-limit-24hour-remaining":
                                str(max(0, limit - self._day_used)),
                            f"x-{scope}-limit-24hour-reset": day_reset}
        return headers

    def _post(self, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            now = time.time()
            if now >= self._window_start + self.window_seconds:
                self._window_start, self._window_used = now, 0
            if now >= self._day_start + 86400:
                self._day_start, self._day_used = now, 0
            daily = [limit for limit in (self.user_daily_limit, self.app_daily_limit)
                     if limit is not None]
            if self._window_used >= self.window_limit or any(self._day_used >= d for d in daily):
                return 429, problem(429, "Too Many Requests", "Too Many Requests"), \
                    self._limit_headers()
            self._window_used += 1  # refused posts count against the limits too
            self._day_used += 1
            headers = self._limit_headers()

            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                return 400, {"errors": [{"message": "$.text: is missing but it is required"}],
                             "title": "Invalid Request",
                             "detail": "One or more parameters to your request was invalid.",
                             "type": "https://api.twitter.com/2/problems/invalid-request"}, headers
            text: str = body["text"]
            reply = body.get("reply")
            in_reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if weighted_length(text) > 280:
                return 400, problem(400, "Invalid Request", TEXT_TOO_LONG), headers
            if any(t.text == text for t in self.tweets):
                return 403, problem(403, "Forbidden", DUPLICATE), headers
            if in_reply_to is not None and not any(t.id == str(in_reply_to) for t in self.tweets):
                return 403, problem(403, "Forbidden", REPLY_MISSING), headers
            media = body.get("media")
            media_ids = media.get("media_ids") if isinstance(media, dict) else None
            if media is not None and (not isinstance(media_ids, list) or not media_ids
                                      or len(media_ids) > 4
                                      or any(str(m) not in self.media for m in media_ids)):
                return 400, {"errors": [{"parameters": {"media.media_ids": media_ids},
                                         "message": MEDIA_INVALID}],
                             "title": "Invalid Request",
                             "detail": "One or more parameters to your request was invalid.",
                             "type": "https://api.twitter.com/2/problems/invalid-request"}, \
                    headers
            self._next_id += 1
            tweet = Tweet(id=str(self._next_id), text=text,
                          in_reply_to=None if in_reply_to is None else str(in_reply_to),
                          author_id=self.user_id, created_at=now,
                          media_ids=[str(m) for m in media_ids or []])
            self.tweets.append(tweet)
        return 201, {"data": {"id": tweet.id, "text": text,
                              "edit_history_tweet_ids": [tweet.id]}}, headers


    def _delete(self, tweet_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """DELETE /2/tweets/:id: the account's own post is gone (kept in :attr:`deleted`); a
        post it does not have is 404 (X's resource-not-found problem)."""
        with self._lock:
            tweet = next((t for t in self.tweets if t.id == tweet_id), None)
            if tweet is None:
                return 404, problem(404, "Not Found Error",
                                    f"Could not find tweet with id: [{tweet_id}].",
                                    "https://api.twitter.com/2/problems/resource-not-found"), {}
            if tweet.author_id != self.user_id:
                return 403, problem(403, "Forbidden",
                                    "You are not allowed to delete a Tweet that is not yours."), {}
            self.tweets.remove(tweet)
            self.deleted.append(tweet)
        return 200, {"data": {"deleted": True}}, {}

    def _upload(self, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST /2/media/upload, the one-shot image upload (JSON, base64 ``media``)."""
        def invalid(detail: str) -> tuple[int, dict[str, Any], dict[str, str]]:
            return 400, problem(400, "Invalid Request", detail,
                                "https://api.twitter.com/2/problems/invalid-request"), {}

        if not isinstance(body, dict) or not isinstance(body.get("media"), str):
            return invalid("$.media: is missing but it is required")
        if body.get("media_category") not in ("tweet_image", "dm_image", "subtitles"):
            return invalid("$.media_category: does not have a value in the enumeration "
                           "[tweet_image, dm_image, subtitles]")
        try:
            data = base64.b64decode(body["media"], validate=True)
        except ValueError:
            return invalid("media: not valid base64")
        kind = next((mime for magic, mime in IMAGE_TYPES.items() if data.startswith(magic)),
                    "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None)
        if kind is None:
            return invalid("media type unrecognized.")
        if len(data) > MAX_IMAGE_BYTES:
            return invalid("File size exceeds 5242880 bytes.")
        with self._lock:
            self._next_media_id += 1
            media_id = str(self._next_media_id)
            self.media[media_id] = Upload(media_id, data, str(body.get("media_type") or kind),
                                          str(body["media_category"]))
        return 200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                              "expires_after_secs": 86400,
                              "image": {"image_type": kind, "w": 1, "h": 1}}}, {}

    def _timeline(self, user_id: str, query: dict[str, str],
                  ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """GET /2/users/:id/tweets: newest first, as X shows posts (see :meth:`as_returned`)."""
        try:
            max_results = int(query.get("max_results", "10"))
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            return 400, problem(400, "Invalid Request",
                                "The `max_results` query parameter value is not between 5 and "
                                "100", "https://api.twitter.com/2/problems/invalid-request"), {}
        fields = {f for f in query.get("tweet.fields", "").split(",") if f}
        with self._lock:
            tweets = [t for t in reversed(self.tweets) if t.author_id == user_id]
        if query.get("since_id"):
            tweets = [t for t in tweets if int(t.id) > int(query["since_id"])]
        if query.get("until_id"):
            tweets = [t for t in tweets if int(t.id) < int(query["until_id"])]
        token = query.get("pagination_token", "")
        offset = int(token[1:]) if token.startswith("p") and token[1:].isdigit() else 0
        page = tweets[offset:offset + max_results]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
        if offset + max_results < len(tweets):
            meta["next_token"] = f"p{offset + max_results}"
        if not page:
            return 200, {"meta": meta}, {}
        return 200, {"data": [self.as_returned(t, fields) for t in page], "meta": meta}, {}

    def as_returned(self, tweet: Tweet, fields: Collection[str] = ()) -> dict[str, Any]:
        """A post as X's v2 API shows it: each link replaced by a t.co link (the original in
        ``entities.urls``), ``& < >`` escaped, and a t.co link to the attached media at the
        end."""
        urls: list[dict[str, Any]] = []
        parts: list[str] = []
        last = 0
        for n, match in enumerate(_URL.finditer(tweet.text)):
            short = f"https://t.co/{_short(tweet.id, n)}"
            parts += [html.escape(tweet.text[last:match.start()], quote=False), short]
            last = match.end()
            urls.append({"url": short, "expanded_url": match.group(0),
                         "display_url": match.group(0).split("://", 1)[1][:26]})
        text = "".join([*parts, html.escape(tweet.text[last:], quote=False)])
        if tweet.media_ids:
            short = f"https://t.co/{_short(tweet.id, 99)}"
            text += " " + short
            urls.append({"url": short, "media_key": f"3_{tweet.media_ids[0]}",
                         "expanded_url": f"https://x.com/{self.username}/status/{tweet.id}"
                                         "/photo/1",
                         "display_url": f"pic.x.com/{_short(tweet.id, 98)}"})
        position = 0
        for url in urls:  # indices, in code points as X counts them
            start = text.index(url["url"], position)
            url |= {"start": start, "end": start + len(url["url"])}
            position = url["end"]
        data: dict[str, Any] = {"id": tweet.id, "text": text,
                                "edit_history_tweet_ids": [tweet.id]}
        if "created_at" in fields:
            data["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
                tweet.created_at)) + f".{int(tweet.created_at * 1000) % 1000:03d}Z"
        if "author_id" in fields:
            data["author_id"] = tweet.author_id
        if "conversation_id" in fields:
            root = tweet
            while root.in_reply_to is not None:
                parent = next((t for t in self.tweets if t.id == root.in_reply_to), None)
                if parent is None:
                    break
                root = parent
            data["conversation_id"] = root.id
        if "referenced_tweets" in fields and tweet.in_reply_to is not None:
            data["referenced_tweets"] = [{"type": "replied_to", "id": tweet.in_reply_to}]
        if "in_reply_to_user_id" in fields and tweet.in_reply_to is not None:
            data["in_reply_to_user_id"] = self.user_id
        if "entities" in fields and urls:
            data["entities"] = {"urls": urls}
        if "attachments" in fields and tweet.media_ids:
            data["attachments"] = {"media_keys": [f"3_{m}" for m in tweet.media_ids]}
        return data


def _short(tweet_id: str, n: int) -> str:
    digest = hashlib.sha1(f"{tweet_id}:{n}".encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(alphabet[b % 62] for b in digest[:10])


def _pct(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a wants it."""
    return quote(value, safe="~")


def _parse_oauth(header: str) -> dict[str, str]:
    if not header.startswith("OAuth "):
        return {}
    params = {}
    for part in header[len("OAuth "):].split(","):
        name, _, value = part.strip().partition("=")
        if name:
            params[unquote(name)] = unquote(value.strip().strip('"'))
    return params


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is expected (timeouts); keep stderr quiet


class _Handler(BaseHTTPRequestHandler):
    owner: FakeX
    protocol_version = "HTTP/1.1"
    timeout = 5

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            form: dict[str, str] = {}
            body: Any = None
            if kind == "application/x-www-form-urlencoded":
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                body = form
            elif raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
            request = XRequest(self.command, parts.path, {k.lower(): v for k, v in
                                                          self.headers.items()}, body,
                               oauth=_parse_oauth(self.headers.get("Authorization", "")),
                               at=time.time())
            try:
                status, payload_body, headers = self.owner.handle(
                    request, dict(parse_qsl(parts.query, keep_blank_values=True)), form)
            except Exception as exc:  # a bug in the fake: say so instead of hanging up
                status, headers = 500, {}
                payload_body = problem(500, "Internal Server Error", f"the fake failed: {exc!r}")
            request.status = status
            request.answer_headers = dict(headers)
            payload = json.dumps(payload_body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a timeout): nothing to answer
            self.close_connection = True
