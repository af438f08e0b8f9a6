"""The Mastodon channel: ``type: mastodon``.

    - name: masto
      type: mastodon
      instance: https://mastodon.social       # your server
      access_token: ${MASTODON_TOKEN}         # scopes write:statuses write:media (read:accounts)
      visibility: public                       # public | unlisted | private | direct
      language: id                             # optional (default: the article's)

A status is ``POST /api/v1/statuses`` with an ``Idempotency-Key`` header (the delivery's key:
Mastodon answers a repeat within its window with the status it made, never a second one). The
article's image is uploaded first through ``POST /api/v2/media`` with its alt text (waited for
while the server processes it; its id is kept in the channel's state so a retry does not upload
it again); if the image cannot be fetched or uploaded the status goes out without it. The
instance's limit is read from ``/api/v2/instance`` (``check --online`` and the first post learn
it; ``max_characters`` overrides it). 429 waits for ``X-RateLimit-Reset``; an accepted post
that used up the limit holds the channel until then. A lost answer is ambiguous;
:meth:`MastodonChannel.reconcile` looks for the status among the account's latest ones.

The channel's state: ``instance`` (the limits learned) and ``account`` (for the statuses'
addresses) are kept for good; ``media:<idempotency key>`` (an uploaded image's id) only a
while (:data:`MEDIA_RETENTION`): after a post, at most once an hour, the keys of
:data:`PER_POST_KEYS` older than their retention are forgotten (``StateStore.prune``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from distributor.channels.mastodon import transport
from distributor.channels.mastodon.lookup import find_status
from distributor.channels.mastodon.render import (
    DEFAULT_LIMIT,
    URL_LENGTH,
    mastodon_length,
    render_mastodon,
    render_mastodon_digest,
)
from distributor.plugin import (
    AmbiguousError,
    Article,
    Channel,
    ChannelConfig,
    ChannelEnv,
    DigestChannelConfig,
    ImageError,
    MemoryState,
    Message,
    PeriodicPrune,
    PermanentError,
    RenderContext,
    Seconds,
    SendContext,
    StateStore,
    TransientError,
    download_image,
    http_client,
)

#: Mastodon takes images up to 16 MB (10 MB before 4.2)
_MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: the pauses between looks at an uploaded image still being processed (most images are
#: ready within a second: looked at soon, then every second; 20 s in all)
_PROCESSING_POLLS = (0.25, 0.75) + (1.0,) * 19
#: how long an uploaded image's id (``media:<idempotency key>``) is kept: only a retry of the
#: same part of the same delivery reuses it (an editor's retry is a new idempotency key, so a
#: new upload). The core's retries end within hours (8 attempts, at most 6 h apart); a delivery
#: waits longer only while its channel is paused or held back; and Mastodon deletes media never
#: attached to a status after a day (its MediaCleanupScheduler). A week is generous, and an id
#: forgotten too early costs one more upload, never a second status.
MEDIA_RETENTION = timedelta(days=7)
#: the families of keys kept per status, by prefix, and how long: ``media:``, and ``url:`` (a
#: status's address, written for every status by the channel's first release and read by
#: nothing since: forgotten like the media ids). ``instance`` and ``account`` are not in any.
PER_POST_KEYS = {"media:": MEDIA_RETENTION, "url:": MEDIA_RETENTION}
#: the old per-status keys are forgotten after a post at most this often (seconds), per
#: channel and process
PRUNE_EVERY = 3600.0


class MastodonConfig(DigestChannelConfig):
    type: Literal["mastodon"] = "mastodon"
    instance: str = Field(description="the address of the Mastodon server (https://...)")
    access_token: SecretStr = Field(description="an access token of the posting account")
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = Field(default=None, description="ISO 639 code of the statuses "
                                 "(default: the article's)")
    image: bool = Field(default=True, description="attach the article's image")
    max_characters: int | None = Field(default=None, ge=100, description="the instance's "
                                       "limit, when it should not be read from the instance")
    timeout: Seconds = 20.0

    @field_validator("instance")
    @classmethod
    def _address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or not urlsplit(value).netloc:
            raise ValueError(f"{value!r} is not the https:// address of a Mastodon server")
        return value.rstrip("/")


class MastodonChannel(Channel):
    type_name = "mastodon"
    config_model = MastodonConfig
    preview_style = "thread"
    body_maxlen = DEFAULT_LIMIT
    rate_per_minute = 30       # Mastodon: 300 statuses in 3 hours; 429s say when to go on
    config: MastodonConfig

    @classmethod
    def measure(cls, text: str) -> int | None:
        return mastodon_length(text)

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self._state: StateStore = MemoryState()
        self.not_before = 0.0
        self._forget_old_state = PeriodicPrune(PER_POST_KEYS, every=PRUNE_EVERY,
                                               redact=transport.REDACTOR.redact)
        transport.REDACTOR.guard([self.config.access_token.get_secret_value()])

    def setup(self, env: ChannelEnv) -> None:
        self._state = env.state

    # -- limits learned from the instance ---------------------------------------------------
    def _limits(self) -> tuple[int, int]:
        learned = self._state.get("instance") or {}
        limit = self.config.max_characters or int(learned.get("max_characters") or DEFAULT_LIMIT)
        return limit, int(learned.get("url_length") or URL_LENGTH)

    async def _learn_instance(self, client: httpx.AsyncClient) -> dict[str, Any]:
        response = await transport.request(client, "GET", self._url("/api/v2/instance"),
                                           sent=False, timeout=self.config.timeout)
        if response.status_code != 200:
            raise transport.refusal(response, what="reading the instance", auxiliary=True)
        body = response.json()
        statuses = ((body.get("configuration") or {}).get("statuses") or {})
        learned = {"max_characters": int(statuses.get("max_characters") or DEFAULT_LIMIT),
                   "url_length": int(statuses.get("characters_reserved_per_url") or URL_LENGTH),
                   "title": str(body.get("title") or body.get("domain") or "")}
        self._state.put("instance", learned)
        return learned

    # -- rendering (pure: the limits are what the channel has learned) ----------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        limit, url_length = self._limits()
        return render_mastodon(article, ctx, limit=limit, url_length=url_length)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        limit, url_length = self._limits()
        return render_mastodon_digest(articles, ctx, limit=limit, url_length=url_length)

    @classmethod
    def preview_text(cls, message: Message) -> str:
        return str(message.get("status") or "")

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        files = super().outbox_files(messages)
        files[".txt"] = ("\n\n---\n\n".join(str(m.get("status") or "") for m in messages)
                         + "\n").encode()
        return files

    # -- sending ----------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.config.instance + path

    def _client(self) -> httpx.AsyncClient:
        token = self.config.access_token.get_secret_value()
        return http_client(self.config.timeout, headers={
            "Authorization": f"Bearer {token}", "User-Agent": transport.USER_AGENT})

    async def send(self, message: Message, ctx: SendContext) -> str:
        status_id = await self._post(message, ctx)
        await self._forget_old_state(self._state, ctx.log)  # at most once every hour
        return status_id

    async def _post(self, message: Message, ctx: SendContext) -> str:
        status = message.get("status")
        if not isinstance(status, str) or not status.strip():
            raise PermanentError("a Mastodon message needs a non-empty 'status'")
        wait = self.not_before - time.time()
        if wait > 0:
            raise TransientError(f"Mastodon rate limit used up; next status in {wait:.0f} s",
                                 retry_after=wait, channel_wide=True)
        async with self._client() as client:
            if self._state.get("instance") is None:
                try:
                    await self._learn_instance(client)
                except Exception as exc:  # the post does not depend on it
                    ctx.log.info("could not read the instance's limits: %s", exc)
            body: dict[str, Any] = {"status": status,
                                    "visibility": message.get("visibility", "public")}
            if message.get("language"):
                body["language"] = message["language"]
            media_id = await self._media(client, message, ctx)
            if media_id:
                body["media_ids"] = [media_id]
            response = await transport.request(
                client, "POST", self._url("/api/v1/statuses"), sent=True,
                timeout=self.config.timeout, json=body,
                headers={"Idempotency-Key": ctx.idempotency_key})
        if response.status_code != 200:
            raise transport.refusal(response)
        answer = response.json()
        status_id = answer.get("id") if isinstance(answer, dict) else None
        if not status_id:
            raise AmbiguousError("Mastodon accepted the status but returned no id")
        account = answer.get("account") or {}
        if account.get("acct"):
            self._state.put("account", {"id": str(account.get("id")),
                                        "acct": str(account["acct"])})
        exhausted = transport.exhausted_for(response.headers)
        if exhausted:
            self.not_before = time.time() + exhausted
        return str(status_id)

    async def _media(self, client: httpx.AsyncClient, message: Message,
                     ctx: SendContext) -> str | None:
        """The id of the message's image, uploaded (once per delivery) with its alt text;
        None without one or when it cannot be fetched or uploaded."""
        url = message.get("image")
        if not isinstance(url, str) or not url:
            return None
        key = f"media:{ctx.idempotency_key}"
        known = ctx.state.get(key)
        if known:
            return str(known)
        try:
            data, media_type = await download_image(
                url, max_bytes=_MAX_IMAGE_BYTES, timeout=self.config.timeout,
                user_agent="distributor (+image for a Mastodon status)",
                allow_hosts=self.site.image_allow_hosts if self.site else ())
        except ImageError as exc:
            ctx.log.warning("cannot fetch the image %s (%s); posting without it", url, exc)
            return None
        name = "image." + media_type.split("/")[-1]
        try:
            response = await transport.request(
                client, "POST", self._url("/api/v2/media"), sent=False,
                timeout=self.config.timeout, files={"file": (name, data, media_type)},
                data={"description": str(message.get("image_alt") or "")})
            if response.status_code not in (200, 202):
                raise transport.refusal(response, what="the image", auxiliary=True)
            media = response.json()
            media_id = str(media["id"])
            for pause in _PROCESSING_POLLS:
                if media.get("url") or response.status_code == 200:
                    break
                await asyncio.sleep(pause)
                response = await transport.request(
                    client, "GET", self._url(f"/api/v1/media/{media_id}"), sent=False,
                    timeout=self.config.timeout)
                if response.status_code not in (200, 206):
                    raise transport.refusal(response, what="the image", auxiliary=True)
                media = response.json()
            else:
                raise TransientError("the image is still being processed")
        except (PermanentError, TransientError, KeyError, ValueError) as exc:
            ctx.log.warning("uploading the image %s failed (%s); posting without it", url, exc)
            return None
        ctx.state.put(key, media_id)
        return media_id

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """The id of the first status not in ``sent_ids`` if the account has posted it (the
        same text among its latest statuses), else None."""
        if len(sent_ids) >= len(messages):
            return sent_ids[0] if sent_ids else None
        status = messages[len(sent_ids)].get("status")
        if not isinstance(status, str):
            return None
        async with self._client() as client:
            return await find_status(client, self.config.instance, status,
                                     timeout=self.config.timeout)

    def hold_until(self) -> datetime | None:
        if self.not_before <= time.time():
            return None
        return datetime.fromtimestamp(self.not_before, UTC)

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        account = self._state.get("account") or {}
        if account.get("acct") and remote_id.isdigit():
            return f"{self.config.instance}/@{account['acct']}/{remote_id}"
        return None

    async def check_online(self) -> str:
        """``GET /api/v1/accounts/verify_credentials`` and the instance's limits."""
        async with self._client() as client:
            response = await transport.request(
                client, "GET", self._url("/api/v1/accounts/verify_credentials"), sent=False,
                timeout=self.config.timeout)
            if response.status_code != 200:
                raise transport.refusal(response, what="the access token")
            account = response.json()
            learned = await self._learn_instance(client)
        self._state.put("account", {"id": str(account.get("id")),
                                    "acct": str(account.get("acct") or "")})
        limit = self.config.max_characters or learned["max_characters"]
        return (f"@{account.get('acct')} on {urlsplit(self.config.instance).netloc} "
                f"(statuses of up to {limit} characters)")
