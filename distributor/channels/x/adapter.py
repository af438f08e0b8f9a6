"""X (Twitter) channel adapter: threads through tweepy's Client (OAuth 1.0a user context).

tweepy always calls ``https://api.twitter.com``; ``api_base_url`` is honoured by a requests
transport adapter mounted on the client's session that sends every call to that server instead
(the OAuth signature still covers the public URL, as a forwarding gateway expects). The same
transport applies ``timeout`` and reads the rate-limit headers of each post, so a channel whose
15-minute or 24-hour posting allowance is used up waits without asking X again.

Outcomes: 429, 5xx and connection failures are *transient* (channel-wide); 400/401/403 are
*permanent* with X's own ``detail`` (401 pauses the channel); a read timeout after the request
went out is *ambiguous*. The four credentials never appear in errors or in library logs.

X sometimes publishes a post and still answers 5xx; the retry of that part is then refused as
"duplicate content". A duplicate of a part whose earlier attempt got no clear answer (5xx, no
answer), or of a reply, is looked up among the account's latest posts (``GET
/2/users/:id/tweets``): found with the same text (and replying to the previous part), its id is
the answer and the thread goes on; not found, the outcome is *ambiguous*. Any other duplicate is
permanent. :meth:`XAdapter.reconcile` uses the same lookup for a delivery a dead process left
half-sent.

With ``image: true`` a message's ``"image"`` (a URL; the renderer puts the article's image on the
head post) is downloaded (the plugin API's ``download_image``), uploaded with ``POST
/2/media/upload`` and attached to the post; if either step fails the post goes out without it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import Field, SecretStr

from distributor.channels.x.corrections import XCorrections
from distributor.channels.x.errors import (
    DuplicateContentError,
    ServerError,
    rate_limit_reset,
    translate,
)
from distributor.channels.x.posts import _as_posted, _comparable, _created, _replied_to
from distributor.channels.x.transport import _X_HOSTS, _exhausted_until, _Reroute, post_times
from distributor.plugin import (
    AmbiguousError,
    Article,
    Channel,
    ChannelConfig,
    ChannelError,
    ImageError,
    Message,
    PermanentError,
    RenderContext,
    Seconds,
    SecretFilter,
    SendContext,
    TransientError,
    download_image,
)

__all__ = ["DuplicateContentError", "XAdapter", "XConfig"]

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
    timeout: Seconds = 20.0


#: looking for a post: this many pages of the account's latest posts, 100 a page
_LOOKUP_PAGES = 3
_LOOKUP_FIELDS = ["created_at", "referenced_tweets", "entities"]
#: a post found by its text must be this recent, relative to the attempt that may have made it
_CLOCK_SLACK = 120.0
#: uncertain attempts are remembered this long (seconds)
_REMEMBER = 2 * 86400.0
#: X takes images up to 5 MB
_MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: the image types the one-shot upload takes (media_type of POST /2/media/upload)
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/bmp", "image/tiff", "image/webp"}


# --------------------------------------------------------------------------- secrets in logs

#: loggers that print requests: the OAuth header and signature base string (consumer key and
#: access token), or anything else the credentials could end up in
_SECRET_LOGGERS = ("tweepy", "requests_oauthlib", "oauthlib", "urllib3", "requests", __name__)


_REDACTOR = SecretFilter(_SECRET_LOGGERS)
_guard_logs = _REDACTOR.guard
_clean_chain = _REDACTOR.clean_chain


# --------------------------------------------------------------------------- the adapter


class XAdapter(XCorrections, Channel):
    type_name = "x"
    config_model = XConfig
    preview_style = "thread"
    body_maxlen = 280
    rate_per_minute = 30
    config: XConfig

    @classmethod
    def measure(cls, text: str) -> int | None:
        from distributor.channels.x.weight import weighted_length

        return weighted_length(text)

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self._client: tweepy.Client | None = None
        #: epoch seconds before which X will refuse posts (a posting limit is used up)
        self.not_before: float = 0.0
        #: the account's user id (from /2/users/me), once known
        self._user_id: str | None = None
        #: (text, previous id) of posts whose last attempt got no clear answer -> its time
        self._uncertain: dict[tuple[str, str | None], float] = {}
        _guard_logs(self._secrets())

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.channels.x.render import render_x

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

    async def _run(self, call: Callable[..., Any], *, sent: bool, posting: bool = False,
                   auxiliary: bool = False, **kwargs: Any) -> Any:
        """Run one blocking tweepy call in a thread; map its failure to a channel error.

        ``sent``: a lost answer means the request may have been carried out (ambiguous);
        ``posting``: a 429 is about the posting allowance (later posts wait for its reset);
        ``auxiliary``: a lookup or an upload, whose refusal says nothing about the channel.
        """
        try:
            return await asyncio.to_thread(call, **kwargs)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            failure: Exception = exc
        error = translate(failure, base_url=self.config.api_base_url,
                          timeout=self.config.timeout, sent=sent, auxiliary=auxiliary)
        if posting and isinstance(failure, tweepy.TooManyRequests):
            retry_at = rate_limit_reset(failure.response.headers)
            if retry_at is not None:
                self.not_before = max(self.not_before, retry_at)
        error.message = _REDACTOR.redact(error.message)
        error.args = (error.message,)
        if _clean_chain(failure):
            error.__cause__ = failure
        raise error

    # -- the adapter interface --------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        """Publish one post; a reply to ``ctx.previous_id`` (the thread's previous post) if
        there is one."""
        previous_id = ctx.previous_id
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PermanentError("an X post needs a non-empty 'text' string")
        self._check_allowance()
        client = self._client_ready()
        media_ids = await self._image(message) if self.config.image else None
        self._check_allowance()  # the upload took a while
        key = (text, previous_id)
        started = time.time()
        with post_times() as left:  # the core paces the next post from the request
            try:
                response = await self._run(client.create_tweet, sent=True, posting=True,
                                           text=text, in_reply_to_tweet_id=previous_id,
                                           media_ids=media_ids, user_auth=True)
            except DuplicateContentError as duplicate:
                return await self._after_duplicate(duplicate, text, previous_id)
            except (ServerError, AmbiguousError):
                self._remember_uncertain(key, started)
                raise
        ctx.request_sent(datetime.fromtimestamp(left[0], UTC) if left else None)
        self._uncertain.pop(key, None)
        data = getattr(response, "data", None)
        tweet_id = data.get("id") if isinstance(data, dict) else None
        if not tweet_id:
            raise AmbiguousError(f"X accepted the post but returned no id ({response!r})")
        return str(tweet_id)

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """The id of the first part not in ``sent_ids`` if the account has published it (same
        text, replying to the last sent part; a head: replying to nothing), else None. When
        every part is in ``sent_ids``, the head's id."""
        if not messages:
            return None
        if len(sent_ids) >= len(messages):
            return sent_ids[0] if sent_ids else None
        text = messages[len(sent_ids)].get("text")
        if not isinstance(text, str) or not text.strip():
            return None
        return await self._find_post(text, sent_ids[-1] if sent_ids else None)

    # -- limits, duplicates and lookups -----------------------------------------------------
    def _check_allowance(self) -> None:
        wait = self.not_before - time.time()
        if wait > 0:
            raise TransientError(f"X posting limit used up; next post in {wait:.0f} s",
                                 retry_after=wait, channel_wide=True)

    def _remember_uncertain(self, key: tuple[str, str | None], started: float) -> None:
        now = time.time()
        for old in [k for k, at in self._uncertain.items() if at < now - _REMEMBER]:
            del self._uncertain[old]
        self._uncertain.setdefault(key, started)

    async def _after_duplicate(self, duplicate: DuplicateContentError, text: str,
                               previous_id: str | None) -> str:
        """X refused a post as a duplicate: is it this very post, published by an earlier
        attempt that got no clear answer? Returns its id; raises otherwise."""
        earlier = self._uncertain.get((text, previous_id))
        if earlier is None and previous_id is None:
            raise duplicate  # a head that nothing says we published: a real duplicate
        since = None if earlier is None else earlier - _CLOCK_SLACK
        try:
            found = await self._find_post(text, previous_id, since=since)
        except ChannelError as exc:
            raise AmbiguousError(
                f"{duplicate.message} The post may be this thread's own from an earlier "
                f"attempt, but looking for it failed ({exc.message}); check the account."
            ) from None
        if found is not None:
            self._uncertain.pop((text, previous_id), None)
            log.info("X channel %s: the post was published by an earlier attempt that got no "
                     "clear answer; found it as %s", self.config.name, found)
            return found
        if earlier is not None:
            raise AmbiguousError(
                f"{duplicate.message} An earlier attempt got no clear answer, so it was "
                "probably published, but it is not among the account's latest posts; check "
                "the account.")
        raise duplicate

    async def _account_id(self) -> str:
        if self._user_id is None:
            client = self._client_ready()
            response = await self._run(client.get_me, sent=False, user_auth=True)
            user = getattr(response, "data", None)
            user_id = getattr(user, "id", None)
            if user_id is None and isinstance(user, dict):
                user_id = user.get("id")
            if not user_id:
                raise PermanentError(f"X answered /2/users/me without an id ({response!r})")
            self._user_id = str(user_id)
        return self._user_id

    async def _find_post(self, text: str, reply_to: str | None, *,
                         since: float | None = None) -> str | None:
        """Among the account's latest posts, the id of the one with ``text`` that replies to
        ``reply_to`` (None: replies to nothing) and, given ``since``, was created after it."""
        user_id = await self._account_id()
        client = self._client_ready()
        wanted = _comparable(text)
        token: str | None = None
        for _ in range(_LOOKUP_PAGES):
            params: dict[str, Any] = {"max_results": 100, "tweet_fields": _LOOKUP_FIELDS}
            if reply_to is not None:
                params["since_id"] = reply_to  # a reply is newer than what it replies to
            if token:
                params["pagination_token"] = token
            response = await self._run(client.get_users_tweets, sent=False, auxiliary=True,
                                       id=user_id, user_auth=True, **params)
            for tweet in getattr(response, "data", None) or []:
                data = getattr(tweet, "data", tweet)
                if not isinstance(data, dict) or _replied_to(data) != reply_to:
                    continue
                if since is not None and (_created(data) or since) < since:
                    continue
                if _comparable(_as_posted(data)) == wanted:
                    return str(data["id"])
            meta = getattr(response, "meta", None) or {}
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not token:
                break
        return None

    # -- images -----------------------------------------------------------------------------
    async def _image(self, message: Message) -> list[str] | None:
        """The media id of the message's ``image``, uploaded; None without one or on failure
        (the post then goes out without it)."""
        url = message.get("image")
        if not url:
            return None
        name = self.config.name
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            log.warning("X channel %s: the image %r is not an http(s) URL; posting without it",
                        name, url)
            return None
        try:
            data, media_type = await download_image(
                url, max_bytes=_MAX_IMAGE_BYTES, timeout=self.config.timeout,
                accept=_IMAGE_TYPES, user_agent="distributor (+image for an X post)",
                allow_hosts=self.site.image_allow_hosts if self.site else ())
        except ImageError as exc:
            log.warning("X channel %s: cannot fetch the image %s (%s); posting without it",
                        name, url, exc)
            return None
        client = self._client_ready()
        body = {"media": base64.b64encode(data).decode("ascii"),
                "media_category": "tweet_image", "media_type": media_type}
        try:
            response = await self._run(client.request, sent=False, auxiliary=True,
                                       method="POST", route="/2/media/upload", json=body,
                                       user_auth=True)
            media = response.json()["data"]
            media_id = str(media["id"])
            if (media.get("processing_info") or {}).get("state") == "failed":
                raise ValueError("X could not process it")
        except (ChannelError, ValueError, KeyError, TypeError) as exc:
            log.warning("X channel %s: uploading the image %s failed (%s); posting without it",
                        name, url, exc)
            return None
        return [media_id]

    def hold_until(self) -> datetime | None:
        """The reset of a posting allowance the last answer said is used up."""
        if self.not_before <= time.time():
            return None
        return datetime.fromtimestamp(self.not_before, UTC)

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        return f"https://x.com/i/web/status/{remote_id}" if remote_id.isdigit() else None

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
        user_id = getattr(user, "id", None)
        if user_id is None and isinstance(user, dict):
            user_id = user.get("id")
        if user_id:
            self._user_id = str(user_id)
        return f"@{username}"

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.session.close()
