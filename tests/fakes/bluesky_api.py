"""A Bluesky double: a real HTTP server speaking the AT Protocol's XRPC (a PDS), checking what
a PDS checks.

    with FakeBluesky() as bsky:
        config = BlueskyConfig(name="bsky", handle=bsky.handle, app_password=bsky.password,
                               service=bsky.url)

``com.atproto.server.createSession`` (identifier + password; else 401 AuthenticationRequired;
the tokens are real JWTs that expire), ``refreshSession``, ``com.atproto.repo.uploadBlob``
(raw bytes, at most 1 000 000 for a thumbnail), ``createRecord`` of ``app.bsky.feed.post`` (the
lexicon's checks: text of at most 300 graphemes, facets within the text's UTF-8 bytes, an
external embed whose thumb is a blob this server holds, a reply to posts it has, a unique
record key; 400 InvalidRequest otherwise), ``getRecord`` (400 RecordNotFound) and
``deleteRecord`` (as the reference PDS: "delete a record, or ensure it doesn't exist": 200 with
the commit when it deleted the record, 200 without one when there was none; 400 InvalidRequest
for another repo). Each call needs ``Authorization: Bearer <access token>``;
:meth:`expire_sessions` makes the tokens issued so far expired (400 ExpiredToken).
:meth:`rate_limit` answers 429 with ``ratelimit-reset``. :attr:`deleted` holds the posts
deleted through deleteRecord, in order; :meth:`delete_by_hand` deletes one as the app would
(not through this API, not in :attr:`deleted`); :meth:`post` finds a post by its URI and
:meth:`replies_to` the replies under one.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import regex

from fakes.http_double import Answer, HttpDouble, Seen

XRPC = "/xrpc/"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


@dataclass
class Post:
    uri: str
    cid: str
    rkey: str
    record: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.record["text"])

    def linked(self) -> list[tuple[str, str]]:
        """(the text a facet covers, its link) for each link facet, by its byte offsets."""
        raw = self.text.encode("utf-8")
        return [(raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode("utf-8"),
                 feature["uri"]) for f in self.record.get("facets") or []
                for feature in f["features"]]


class FakeBluesky(HttpDouble):
    handle = "rinews.bsky.test"
    did = "did:plc:rinews0000000000000000"
    password = "abcd-efgh-ijkl-mnop"

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[Post] = []
        #: the posts deleteRecord deleted, in order
        self.deleted: list[Post] = []
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self.sessions = 0
        #: every token handed out (secrets: they must never be logged)
        self.issued: list[str] = []
        self._valid: set[str] = set()
        self._refresh: set[str] = set()
        self._ids = itertools.count(1)

    def _jwt(self, scope: str, lifetime: int) -> str:
        now = int(time.time())
        payload = {"scope": scope, "sub": self.did, "iat": now, "exp": now + lifetime,
                   "aud": "did:web:bsky.test", "jti": f"j{next(self._ids)}"}
        return f"{_b64({'alg': 'ES256K', 'typ': 'at+jwt'})}.{_b64(payload)}.c2ln"

    def expire_sessions(self) -> None:
        with self.lock:
            self._valid.clear()

    def rate_limit(self, reset_in: float = 300) -> None:
        self.fail_next(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                       {"ratelimit-limit": "5000", "ratelimit-remaining": "0",
                        "ratelimit-reset": str(int(time.time() + reset_in)),
                        "ratelimit-policy": "5000;w=3600"},
                       match="createRecord")

    def post(self, uri: str) -> Post | None:
        with self.lock:
            return next((p for p in self.posts if p.uri == uri), None)

    def replies_to(self, uri: str) -> list[Post]:
        """The posts whose ``reply.parent`` is ``uri``."""
        with self.lock:
            return [p for p in self.posts
                    if ((p.record.get("reply") or {}).get("parent") or {}).get("uri") == uri]

    def delete_by_hand(self, uri: str) -> None:
        """The post is deleted in the app (not through this API)."""
        with self.lock:
            self.posts = [p for p in self.posts if p.uri != uri]

    def _session(self) -> dict[str, Any]:
        access, refresh = self._jwt("com.atproto.appPass", 7200), self._jwt(
            "com.atproto.refresh", 86400 * 60)
        self._valid.add(access)
        self._refresh.add(refresh)
        self.issued += [access, refresh]
        self.sessions += 1
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle,
                "did": self.did, "active": True}

    def route(self, request: Seen) -> Answer:
        if not request.path.startswith(XRPC):
            return 404, {"error": "NotFound", "message": "Not Found"}, {}
        method = request.path[len(XRPC):]
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            if method == "com.atproto.server.createSession":
                body = json.loads(request.body or b"{}")
                if body.get("identifier") not in (self.handle, self.did) or \
                        body.get("password") != self.password:
                    return 401, {"error": "AuthenticationRequired",
                                 "message": "Invalid identifier or password"}, {}
                return 200, self._session(), {}
            if method == "com.atproto.server.refreshSession":
                if bearer not in self._refresh:
                    return 400, {"error": "ExpiredToken", "message": "Token has expired"}, {}
                return 200, self._session(), {}
            if bearer not in self._valid:
                return 400, {"error": "ExpiredToken", "message": "Token has expired"}, {}
            if method == "com.atproto.repo.uploadBlob":
                return self._upload(request)
            if method == "com.atproto.repo.createRecord":
                return self._create(json.loads(request.body))
            if method == "com.atproto.repo.deleteRecord":
                return self._delete(json.loads(request.body or b"{}"))
            if method == "com.atproto.repo.getRecord":
                q = request.query
                for post in self.posts:
                    if q.get("repo") in (self.did, self.handle) and q.get("rkey") == post.rkey \
                            and q.get("collection") == "app.bsky.feed.post":
                        return 200, {"uri": post.uri, "cid": post.cid,
                                     "value": post.record}, {}
                return 400, {"error": "RecordNotFound",
                             "message": f"Could not locate record: {q.get('rkey')}"}, {}
        return 501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, {}

    def _delete(self, body: dict[str, Any]) -> Answer:
        if body.get("repo") not in (self.did, self.handle):
            return 400, {"error": "InvalidRequest",
                         "message": f"Could not find repo: {body.get('repo')}"}, {}
        if body.get("collection") != "app.bsky.feed.post" or not body.get("rkey"):
            return 400, {"error": "InvalidRequest", "message": "Invalid collection or rkey"}, {}
        post = next((p for p in self.posts if p.rkey == body["rkey"]), None)
        if post is None:
            return 200, {}, {}  # no-op if the record already doesn't exist
        self.posts.remove(post)
        self.deleted.append(post)
        return 200, {"commit": {"cid": "bafyreicommit", "rev": f"3l{next(self._ids):011d}"}}, {}

    def _upload(self, request: Seen) -> Answer:
        data = request.body
        if len(data) > 1_000_000:
            return 400, {"error": "BlobTooLarge", "message": "This file is too large."}, {}
        cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:52]
        mime = request.headers.get("content-type", "application/octet-stream")
        self.blobs[cid] = (data, mime)
        return 200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime,
                              "size": len(data)}}, {}

    def _create(self, body: dict[str, Any]) -> Answer:
        def invalid(message: str) -> Answer:
            return 400, {"error": "InvalidRequest", "message": message}, {}

        record = body.get("record") or {}
        if body.get("repo") not in (self.did, self.handle):
            return invalid("Invalid repo")
        if body.get("collection") != "app.bsky.feed.post" or \
                record.get("$type") != "app.bsky.feed.post":
            return invalid("Invalid collection or $type")
        text = record.get("text")
        if not isinstance(text, str) or not record.get("createdAt"):
            return invalid("Record/text and createdAt are required")
        if graphemes(text) > 300 or len(text.encode()) > 3000:
            return invalid("Invalid app.bsky.feed.post record: Record/text must not be longer "
                           "than 300 graphemes")
        size = len(text.encode("utf-8"))
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end
                    <= size):
                return invalid("Invalid facet byte range")
            try:
                text.encode("utf-8")[start:end].decode("utf-8")
            except UnicodeDecodeError:
                return invalid("Facet splits a character")
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#link" and \
                        not str(feature.get("uri", "")).startswith(("http://", "https://")):
                    return invalid("Invalid link facet uri")
        embed = record.get("embed")
        if embed is not None:
            if embed.get("$type") != "app.bsky.embed.external":
                return invalid("Unsupported embed")
            external = embed.get("external") or {}
            if not external.get("uri") or "title" not in external or \
                    "description" not in external:
                return invalid("external needs uri, title and description")
            thumb = external.get("thumb")
            if thumb is not None and (thumb.get("ref") or {}).get("$link") not in self.blobs:
                return invalid("Could not find blob")
        reply = record.get("reply")
        if reply is not None:
            known = {(p.uri, p.cid) for p in self.posts}
            for ref in (reply.get("root") or {}, reply.get("parent") or {}):
                if (ref.get("uri"), ref.get("cid")) not in known:
                    return invalid("reply refers to a post that does not exist")
        rkey = body.get("rkey") or f"3l{next(self._ids):011d}"
        if any(p.rkey == rkey for p in self.posts):
            return invalid(f"Record already exists: {rkey}")
        uri = f"at://{self.did}/app.bsky.feed.post/{rkey}"
        cid = "bafyrei" + hashlib.sha256(json.dumps(record).encode()).hexdigest()[:52]
        self.posts.append(Post(uri, cid, rkey, record))
        return 200, {"uri": uri, "cid": cid,
                     "commit": {"cid": "bafyreicommit", "rev": "3l000000000"},
                     "validationStatus": "valid"}, {}
