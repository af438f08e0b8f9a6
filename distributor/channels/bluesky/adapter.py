"""The Bluesky channel: ``type: bluesky``, through the maintained ``atproto`` SDK.

    - name: bsky
      type: bluesky
      handle: rinews.bsky.social
      app_password: ${BSKY_APP_PASSWORD}
      service: https://bsky.social          # the account's PDS (or a local double in tests)

A post is ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with the link as a
facet (exact UTF-8 byte offsets) and an external embed card whose thumbnail is uploaded with
``com.atproto.repo.uploadBlob`` (without it when the image cannot be fetched or uploaded).

Exactly once: every post gets its record key (a TID) before the first attempt, kept in the
channel's state under the delivery's idempotency key. A retry first asks
``com.atproto.repo.getRecord`` for that key: a post an earlier attempt made (its answer lost)
is found and never made twice; :meth:`BlueskyChannel.reconcile` does the same for a delivery
left ``unknown``. 429 waits for ``ratelimit-reset``; a wrong handle or app password pauses the
channel. The app password and the session's tokens never reach a log or an error.

Retract and correct (``distributor retract`` / ``correct``; corrections.py): every part is
deleted with ``com.atproto.repo.deleteRecord``, the last first (one already gone counts as
done); a correction is a reply under the last part, "Ralat: <note>" and the link, posted once
(its record key is kept before it is sent, as a post's).

What the channel keeps per post in its state (``rkey:<idempotency key>``,
``rkey:action-<id>`` and ``post:<hash of the text>``: the record key; ``cid:<uri>``: the
post's CID, for a reply under it) is forgotten once older than :data:`POST_STATE_RETENTION`:
after a post, at most once an hour, by ``StateStore.prune`` (:data:`PER_POST_KEYS`). A reply
under a post whose CID was forgotten reads it again with ``getRecord``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from distributor.channels.bluesky.corrections import BlueskyCorrections
from distributor.channels.bluesky.records import (
    COLLECTION,
    Repo,
    models,
    new_tid,
    record_facets,
    split_uri,
    strong_ref,
)
from distributor.channels.bluesky.render import (
    GRAPHEME_LIMIT,
    graphemes,
    render_bluesky,
    render_bluesky_digest,
)
from distributor.channels.bluesky.session import INSTALL, REDACTOR, Session
from distributor.plugin import (
    Article,
    Channel,
    ChannelConfig,
    ChannelEnv,
    ChannelError,
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
    download_image,
    utcnow,
)

#: the lexicon's limit on an embed's thumbnail
_MAX_THUMB_BYTES = 1_000_000
_THUMB_TYPES = {"image/jpeg", "image/png", "image/webp"}
#: how long a post's keys are kept. In this release they serve the post's own retries (its
#: record key under the idempotency key: an editor's retry is a new key), the reconciling of a
#: delivery left ``unknown`` or cut off by a crash (the record key under the text's hash: the
#: core looks for 24 hours, and at a restart however long the process was away) and replies
#: under it (the CID: a digest's thread goes on from where it stopped, on its own within 24
#: hours, later when an editor sends it with ``digest send``). An editor may retract or
#: correct a post at any time (the ledger sets no limit), and a correction that replies under
#: the post needs its CID. 90 days covers all of these with room to spare; past that, the
#: post's URI still holds its record key and getRecord gives its CID.
POST_STATE_RETENTION = timedelta(days=90)
#: the families of keys kept per post, by prefix, and how long (a long-lived key of the
#: channel must start with none of them)
PER_POST_KEYS = {"rkey:": POST_STATE_RETENTION, "post:": POST_STATE_RETENTION,
                 "cid:": POST_STATE_RETENTION}
#: old per-post keys are forgotten after a post at most this often (seconds), per channel and
#: process
PRUNE_EVERY = 3600.0


class BlueskyConfig(DigestChannelConfig):
    type: Literal["bluesky"] = "bluesky"
    handle: str = Field(description="the account's handle (rinews.bsky.social) or DID")
    app_password: SecretStr = Field(description="an app password of the account")
    service: str = Field(default="https://bsky.social", description="the account's PDS")
    language: str | None = Field(default=None, description="the posts' language (default: "
                                 "the article's)")
    image: bool = Field(default=True, description="a thumbnail on the link card")
    timeout: Seconds = 20.0

    @field_validator("service")
    @classmethod
    def _address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an https:// address")
        return value.rstrip("/")

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        return value.strip().removeprefix("@")

    def check_with_site(self, site: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
        yield from super().check_with_site(site)
        if not _installed("atproto"):  # imported at the first post only
            yield (("type",), f"the Bluesky channel needs the atproto package; {INSTALL}")


class BlueskyChannel(BlueskyCorrections, Channel):
    type_name = "bluesky"
    config_model = BlueskyConfig
    preview_style = "thread"
    body_maxlen = GRAPHEME_LIMIT
    rate_per_minute = 30     # createRecord: 1 666 an hour; 429s say when to go on
    config: BlueskyConfig

    @classmethod
    def measure(cls, text: str) -> int | None:
        return graphemes(text)

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        c = self.config
        self._session = Session(c.service, c.handle, c.app_password.get_secret_value(),
                                c.timeout)
        self._repo = Repo(self._session)
        self._state: StateStore = MemoryState()
        self._forget_old_state = PeriodicPrune(PER_POST_KEYS, every=PRUNE_EVERY,
                                               redact=REDACTOR.redact)

    def setup(self, env: ChannelEnv) -> None:
        self._state = env.state

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return render_bluesky(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        return render_bluesky_digest(articles, ctx)

    @classmethod
    def preview_image(cls, message: Message) -> str | None:
        thumb = (message.get("embed") or {}).get("thumb")
        return thumb if isinstance(thumb, str) else None

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        uri = await self._post(message, ctx)
        await self._forget_old_state(self._state, ctx.log)  # at most once every hour
        return uri

    async def _post(self, message: Message, ctx: SendContext) -> str:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PermanentError("a Bluesky post needs a non-empty 'text'")
        if graphemes(text) > GRAPHEME_LIMIT:
            raise PermanentError(f"the post has {graphemes(text)} graphemes; Bluesky takes "
                                 f"{GRAPHEME_LIMIT}")
        key = f"rkey:{ctx.idempotency_key}"
        rkey = ctx.state.get(key)
        if rkey:  # an earlier attempt: did it post?
            found = await self._existing(str(rkey), ctx)
            if found is not None:
                ctx.log.info("the post was made by an earlier attempt: %s", found)
                return found
        else:
            rkey = new_tid()
            ctx.state.put(key, rkey)
        self._state.put(_post_key(text), rkey)
        record = models().AppBskyFeedPost.Record(
            text=text, created_at=utcnow().isoformat().replace("+00:00", "Z"),
            langs=message.get("langs"), facets=record_facets(message.get("facets")),
            embed=await self._card(message.get("embed"), ctx),
            reply=await self._reply(ctx))
        ctx.request_sent()  # after the login, the lookups and the image: the post leaves now
        return await self._repo.create(str(rkey), record, ctx.state)

    async def _existing(self, rkey: str, ctx: SendContext) -> str | None:
        """The URI of this account's post with record key ``rkey``, None if there is none."""
        found = await self._repo.mine(rkey, ctx.state)
        return str(found.uri) if found is not None else None

    async def _reply(self, ctx: SendContext) -> Any:
        """Replies to the previous part (a digest's second post on), under the first. A CID
        the state forgot (older than it keeps) is read again from the PDS; a post that is not
        there any more leaves this one outside the thread."""
        if not ctx.previous_id or not ctx.remote_ids:
            return None
        root, parent = ctx.remote_ids[0], ctx.previous_id
        root_cid = await self._repo.cid(root, ctx.state)
        parent_cid = root_cid if parent == root else await self._repo.cid(parent, ctx.state)
        if not root_cid or not parent_cid:
            ctx.log.warning("the post this one replies to (%s) is not on Bluesky any more; "
                            "it goes out outside the thread", parent if root_cid else root)
            return None
        return models().AppBskyFeedPost.ReplyRef(root=strong_ref(root, root_cid),
                                                 parent=strong_ref(parent, parent_cid))

    async def _card(self, card: Any, ctx: SendContext) -> Any:
        if not isinstance(card, dict) or not card.get("uri"):
            return None
        thumb = None
        url = card.get("thumb")
        if isinstance(url, str) and url:
            thumb = await self._thumb(url, ctx)
        sdk = models()
        return sdk.AppBskyEmbedExternal.Main(external=sdk.AppBskyEmbedExternal.External(
            uri=str(card["uri"]), title=str(card.get("title") or ""),
            description=str(card.get("description") or ""), thumb=thumb))

    async def _thumb(self, url: str, ctx: SendContext) -> Any:
        try:
            data, media_type = await download_image(
                url, max_bytes=_MAX_THUMB_BYTES, timeout=self.config.timeout,
                accept=_THUMB_TYPES, user_agent="distributor (+image for a Bluesky card)",
                allow_hosts=self.site.image_allow_hosts if self.site else ())
        except ImageError as exc:
            ctx.log.warning("cannot fetch the image %s (%s); the card goes without it", url,
                            exc)
            return None
        try:
            uploaded = await self._session.call(
                lambda client: client.com.atproto.repo.upload_blob(
                    data, headers={"Content-Type": media_type}),
                sent=False, what="the image")
        except ChannelError as exc:
            ctx.log.warning("uploading the image %s failed (%s); the card goes without it",
                            url, exc.message)
            return None
        return uploaded.blob

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """The URI of the first post not in ``sent_ids`` if the account has it (looked up by
        the record key it was given before it was sent), else None."""
        if len(sent_ids) >= len(messages):
            return sent_ids[0] if sent_ids else None
        text = messages[len(sent_ids)].get("text")
        rkey = self._state.get(_post_key(str(text))) if isinstance(text, str) else None
        if not rkey:
            return None
        found = await self._repo.get(await self._repo.did(), str(rkey))
        return str(found.uri) if found is not None else None

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        try:
            did, rkey = split_uri(remote_id)
        except PermanentError:  # not a post's AT URI: no page to link to
            return None
        return f"https://bsky.app/profile/{did}/post/{rkey}"

    async def check_online(self) -> str:
        """createSession: the account's handle and DID."""
        did = await self._repo.did()
        return f"@{self.config.handle} ({did}) on {self.config.service}"

    async def close(self) -> None:
        await self._session.close()


def _post_key(text: str) -> str:
    return "post:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


__all__ = ["COLLECTION", "BlueskyChannel", "BlueskyConfig", "new_tid"]


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False
