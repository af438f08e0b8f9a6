"""A Mastodon double: a real HTTP server speaking Mastodon's REST API, checking what Mastodon
checks.

    with FakeMastodon() as masto:
        config = MastodonConfig(name="masto", instance=masto.url, access_token=masto.token)

Endpoints: ``GET /api/v2/instance`` (``configuration.statuses.max_characters`` =
:attr:`FakeMastodon.max_characters`, links reserved 23), ``GET
/api/v1/accounts/verify_credentials``, ``POST /api/v2/media`` (multipart ``file`` and
``description``; answers 202 while :attr:`processing_polls` > 0, then ``GET /api/v1/media/:id``
answers 206 that many times before 200), ``POST /api/v1/statuses`` (JSON; 422 over the limit
counted as Mastodon does: grapheme clusters, every link 23; unknown or unprocessed media; an
``Idempotency-Key`` seen before answers the status it made, never a second one) and ``GET
/api/v1/accounts/:id/statuses`` (newest first, content as Mastodon's HTML). Every call needs
``Authorization: Bearer <token>`` (else 401). Answers to posts carry ``X-RateLimit-*``;
:meth:`rate_limit` answers 429 with ``X-RateLimit-Reset``.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import regex

from fakes.http_double import Answer, HttpDouble, Seen

_URL = re.compile(r"https?://[^\s<>\"]+")
_STATUSES_OF = re.compile(r"^/api/v1/accounts/(\d+)/statuses$")
_MEDIA = re.compile(r"^/api/v1/media/(\d+)$")


def counted(text: str) -> int:
    """Mastodon's count: links 23 each, then grapheme clusters."""
    return len(regex.findall(r"\X", _URL.sub("x" * 23, text)))


def as_html(text: str) -> str:
    """A status's text as Mastodon shows it: paragraphs, line breaks, shortened links."""
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        scheme, rest = url.split("://", 1)
        shown, hidden = rest[:30], rest[30:]
        return (f'<a href="{html.escape(url)}" rel="nofollow noopener" target="_blank">'
                f'<span class="invisible">{scheme}://</span><span class="'
                f'{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>')

    paragraphs = []
    for paragraph in text.split("\n\n"):
        parts = []
        last = 0
        for match in _URL.finditer(paragraph):
            parts.append(html.escape(paragraph[last:match.start()]))
            parts.append(link(match))
            last = match.end()
        parts.append(html.escape(paragraph[last:]))
        paragraphs.append("<p>" + "".join(parts).replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


@dataclass
class Media:
    id: str
    data: bytes
    content_type: str
    description: str
    polls_left: int


@dataclass
class Status:
    id: str
    text: str
    visibility: str
    language: str | None
    media: list[Media] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeMastodon(HttpDouble):
    token = "m4st0d0n-access-token-0123456789abcdefXYZ"
    account: ClassVar[dict[str, str]] = {
        "id": "109000000000000001", "username": "rinews", "acct": "rinews",
        "display_name": "RI News Portal"}

    def __init__(self, max_characters: int = 500) -> None:
        super().__init__()
        self.max_characters = max_characters
        self.statuses: list[Status] = []
        self.media: dict[str, Media] = {}
        self.processing_polls = 0
        self.keys: dict[str, str] = {}
        self._ids = itertools.count(110000000000000001)

    def rate_limit(self, reset_in: float = 60.0) -> None:
        reset = (datetime.now(UTC) + timedelta(seconds=reset_in)).isoformat()
        self.fail_next(429, {"error": "Too many requests"},
                       {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": reset}, match="POST /api/v1/statuses")

    def _status_json(self, status: Status) -> dict[str, Any]:
        return {"id": status.id, "created_at": status.created_at.isoformat(),
                "visibility": status.visibility, "language": status.language,
                "content": as_html(status.text),
                "url": f"{self.url}/@{self.account['acct']}/{status.id}",
                "account": self.account,
                "media_attachments": [{"id": m.id, "type": "image",
                                       "description": m.description} for m in status.media]}

    def route(self, request: Seen) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "The access token is invalid"}, {}
        endpoint = f"{request.method} {request.path}"
        if endpoint == "GET /api/v2/instance":
            return 200, {"domain": "masto.test", "title": "Masto Test", "configuration": {
                "statuses": {"max_characters": self.max_characters,
                             "max_media_attachments": 4, "characters_reserved_per_url": 23},
                "media_attachments": {"image_size_limit": 16777216}}}, {}
        if endpoint == "GET /api/v1/accounts/verify_credentials":
            return 200, self.account, {}
        if endpoint == "POST /api/v2/media":
            return self._upload(request)
        if request.method == "GET" and _MEDIA.match(request.path):
            media = self.media.get(_MEDIA.match(request.path).group(1))  # type: ignore[union-attr]
            if media is None:
                return 404, {"error": "Record not found"}, {}
            if media.polls_left > 0:
                media.polls_left -= 1
                return 206, {"id": media.id, "type": "image", "url": None}, {}
            return 200, {"id": media.id, "type": "image", "url": f"{self.url}/m/{media.id}"}, {}
        if endpoint == "POST /api/v1/statuses":
            return self._post(request)
        if request.method == "GET" and _STATUSES_OF.match(request.path):
            with self.lock:
                mine = sorted(self.statuses, key=lambda s: int(s.id), reverse=True)
            if "max_id" in request.query:
                mine = [s for s in mine if int(s.id) < int(request.query["max_id"])]
            limit = int(request.query.get("limit", "20"))
            return 200, [self._status_json(s) for s in mine[:limit]], {}
        return 404, {"error": "Record not found"}, {}

    def _upload(self, request: Seen) -> Answer:
        head = f"Content-Type: {request.headers.get('content-type')}\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            head + request.body)
        fields: dict[str, Any] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part
        if "file" not in fields:
            return 422, {"error": "Validation failed: File can't be blank"}, {}
        description = fields["description"].get_content() if "description" in fields else ""
        if len(description) > 1500:
            return 422, {"error": "Validation failed: Description is too long"}, {}
        file = fields["file"]
        with self.lock:
            media = Media(str(next(self._ids)), file.get_payload(decode=True),
                          file.get_content_type(), description, self.processing_polls)
            self.media[media.id] = media
        if media.polls_left:
            return 202, {"id": media.id, "type": "image", "url": None,
                         "description": description}, {}
        return 200, {"id": media.id, "type": "image", "url": f"{self.url}/m/{media.id}",
                     "description": description}, {}

    def _post(self, request: Seen) -> Answer:
        try:
            body = json.loads(request.body)
        except ValueError:
            return 422, {"error": "Validation failed: Text can't be blank"}, {}
        key = request.headers.get("idempotency-key")
        headers = {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "299",
                   "x-ratelimit-reset": (datetime.now(UTC) + timedelta(hours=3)).isoformat()}
        with self.lock:
            if key and key in self.keys:
                [again] = [s for s in self.statuses if s.id == self.keys[key]]
                return 200, self._status_json(again), headers
            text = str(body.get("status") or "")
            if not text.strip():
                return 422, {"error": "Validation failed: Text can't be blank"}, {}
            if counted(text) > self.max_characters:
                return 422, {"error": "Validation failed: Text character limit of "
                             f"{self.max_characters} exceeded"}, {}
            if body.get("visibility", "public") not in ("public", "unlisted", "private",
                                                         "direct"):
                return 422, {"error": "Validation failed: Visibility is not included"}, {}
            media = []
            for media_id in body.get("media_ids") or []:
                found = self.media.get(str(media_id))
                if found is None:
                    return 422, {"error": "Validation failed: media not found"}, {}
                if found.polls_left > 0:
                    return 422, {"error": "Cannot attach files that have not finished "
                                 "processing. Try again in a moment!"}, {}
                media.append(found)
            status = Status(str(next(self._ids)), text, body.get("visibility", "public"),
                            body.get("language"), media)
            self.statuses.append(status)
            if key:
                self.keys[key] = status.id
        return 200, self._status_json(status), headers

    def publish(self, text: str) -> Status:
        """A status the account posted (by hand, or by an attempt whose answer was lost)."""
        with self.lock:
            status = Status(str(next(self._ids)), text, "public", None)
            self.statuses.append(status)
            return status
