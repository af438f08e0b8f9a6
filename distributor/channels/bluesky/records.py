"""What the Bluesky channel's posting, retracting and correcting share about records: the
collection, record keys (TIDs), a post's AT URI taken apart, the SDK's record types, and
:class:`Repo`: the account's repository through the session (``getRecord``, ``createRecord``,
``deleteRecord``), with a post's CID (for a strong ref) from the channel's state, else read
again from the PDS.

The CID of each post is kept in the state as ``cid:<uri>`` for a while only (the channel's
per-post keys are forgotten after 90 days); a post's URI holds its record key for ever, so
``getRecord`` gives its CID back whenever a reply under it (a thread's next part, a
correction) needs it."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from distributor.plugin import ChannelError, PermanentError, StateStore

if TYPE_CHECKING:
    from distributor.channels.bluesky.session import Session

COLLECTION = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_tid(now: float | None = None) -> str:
    """A record key in the TID format: 53 bits of microseconds and 10 of a random clock id,
    as 13 sortable base32 characters."""
    micros = int((time.time() if now is None else now) * 1_000_000)
    value = (micros << 10) | random.getrandbits(10)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def split_uri(uri: str) -> tuple[str, str]:
    """``at://<did>/app.bsky.feed.post/<rkey>`` as (did, rkey); PermanentError for anything
    else (an id this channel never returned)."""
    did, _, rkey = uri.removeprefix("at://").partition(f"/{COLLECTION}/")
    if not uri.startswith("at://") or not did or "/" in did or not rkey or "/" in rkey:
        raise PermanentError(f"{uri!r} is not the AT URI of a Bluesky post")
    return did, rkey


def not_found(exc: ChannelError) -> bool:
    """The PDS's answer that the record does not exist (``getRecord``: 400 RecordNotFound)."""
    return "RecordNotFound" in exc.message or "Could not locate record" in exc.message


def models() -> Any:
    """The SDK's record types (imported by ``Session.ready`` before any is made)."""
    from atproto import models as sdk_models

    return sdk_models


def record_facets(facets: Any) -> Any:
    """A message's facets (JSON, as rendered) as the SDK's facet models."""
    if not facets:
        return None
    m = models()
    return [m.AppBskyRichtextFacet.Main(
        index=m.AppBskyRichtextFacet.ByteSlice(byte_start=f["index"]["byteStart"],
                                               byte_end=f["index"]["byteEnd"]),
        features=[m.AppBskyRichtextFacet.Link(uri=feature["uri"])
                  for feature in f["features"]]) for f in facets]


def strong_ref(uri: str, cid: str) -> Any:
    return models().ComAtprotoRepoStrongRef.Main(uri=uri, cid=cid)


def field(value: Any, name: str) -> Any:
    """``value.name`` of a record as the SDK gives it (a model, or a dict for a record type
    it does not know)."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def root_of(record: Any) -> Any:
    """The strong ref of the thread's root a post record replies under, None when it is not
    a reply (then it is the root of its own thread)."""
    root = field(field(record, "reply"), "root")
    uri, cid = field(root, "uri"), field(root, "cid")
    return strong_ref(str(uri), str(cid)) if uri and cid else None


class Repo:
    """The account's repository of posts, through the channel's :class:`Session`."""

    def __init__(self, session: Session):
        self.session = session

    async def did(self) -> str:
        await self.session.ready()
        return self.session.did

    async def own(self, uri: str) -> str:
        """The record key of ``uri``, a post of this account (PermanentError otherwise: a
        post of another account is not this channel's to delete)."""
        did, rkey = split_uri(uri)
        mine = await self.did()
        if did != mine:
            raise PermanentError(f"{uri} is a post of {did}, not of this channel's account "
                                 f"({mine}); log in as that account to change it")
        return rkey

    async def get(self, did: str, rkey: str) -> Any:
        """``getRecord`` of the post ``rkey`` in ``did``'s repository (its ``uri``, ``cid``,
        ``value``); None when there is none."""
        params = models().ComAtprotoRepoGetRecord.Params(repo=did, collection=COLLECTION,
                                                         rkey=rkey)
        try:
            return await self.session.call(
                lambda client: client.com.atproto.repo.get_record(params), sent=False,
                what="the lookup")
        except PermanentError as exc:
            if not_found(exc):
                return None
            raise

    async def mine(self, rkey: str, state: StateStore) -> Any:
        """``getRecord`` of this account's post ``rkey`` (None when there is none); its CID
        is kept in ``state``: a reply under it needs it."""
        found = await self.get(await self.did(), rkey)
        if found is not None and found.cid:
            state.put(f"cid:{found.uri}", str(found.cid))
        return found

    async def lookup(self, uri: str, state: StateStore) -> Any:
        """``getRecord`` of the post at ``uri`` (None when it is not there any more); its CID
        is kept in ``state`` again."""
        did, rkey = split_uri(uri)
        found = await self.get(did, rkey)
        if found is not None and found.cid:
            state.put(f"cid:{uri}", str(found.cid))
        return found

    async def cid(self, uri: str, state: StateStore) -> str | None:
        """The post's CID: from ``state``, else from the PDS; None when it is not there."""
        known = state.get(f"cid:{uri}")
        if known:
            return str(known)
        found = await self.lookup(uri, state)
        return str(found.cid) if found is not None and found.cid else None

    async def create(self, rkey: str, record: Any, state: StateStore, *,
                     what: str = "the post") -> str:
        """``createRecord`` of a post under ``rkey``; returns its URI (its CID kept)."""
        data = models().ComAtprotoRepoCreateRecord.Data(
            repo=await self.did(), collection=COLLECTION, rkey=rkey, record=record)
        created = await self.session.call(
            lambda client: client.com.atproto.repo.create_record(data), sent=True, what=what)
        state.put(f"cid:{created.uri}", str(created.cid))
        return str(created.uri)

    async def delete(self, rkey: str) -> bool:
        """``deleteRecord`` of this account's post ``rkey``: True when it was deleted now,
        False when it was not there. The PDS "deletes a record, or ensures it doesn't exist":
        for a record it does not have it answers 200 without a commit."""
        data = models().ComAtprotoRepoDeleteRecord.Data(repo=await self.did(),
                                                        collection=COLLECTION, rkey=rkey)
        try:
            answer = await self.session.call(
                lambda client: client.com.atproto.repo.delete_record(data), sent=False,
                what="the deletion")
        except PermanentError as exc:
            if not_found(exc):  # a server that says so instead
                return False
            raise
        return field(answer, "commit") is not None
