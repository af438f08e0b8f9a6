"""A Discord double: a real HTTP server speaking Discord's webhook API (v10 paths), checking
what Discord checks.

    with FakeDiscord() as discord:
        config = DiscordConfig(name="disc", webhook_url=discord.webhook_url)
        ...
        assert [m["embeds"][0]["title"] for m in discord.messages] == [...]

``POST /api/webhooks/{id}/{token}`` (``?wait=true``: answers the message object, else 204)
refuses, like Discord, with 400 and its nested ``errors``: a message with neither content nor
embeds, content over 2000 characters, more than 10 embeds, an embed title over 256, a
description over 4096, a footer over 2048, all embeds together over 6000, an embed url or image
that is not http(s). A wrong token is 401 (code 50027), an unknown webhook 404 (code 10015).
``GET`` on the webhook answers the webhook object; ``DELETE .../messages/{id}`` deletes.
Rate limits: :meth:`rate_limit` answers 429 with Discord's JSON ``retry_after`` and headers.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from fakes.http_double import Answer, HttpDouble, Seen

_WEBHOOK = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([\w-]+)(/messages/(\d+))?$")


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeDiscord(HttpDouble):
    webhook_id = "1180000000000000001"
    token = "dWVh-secret-webhook-token_0123456789abcdefABCDEF"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self._ids = itertools.count(1250000000000000001)

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.webhook_id}/{self.token}"

    def rate_limit(self, retry_after: float = 1.5, *, is_global: bool = False) -> None:
        self.fail_next(429, {"message": "You are being rate limited.",
                             "retry_after": retry_after, "global": is_global},
                       {"retry-after": str(int(retry_after + 0.999)),
                        "x-ratelimit-reset-after": str(retry_after),
                        "x-ratelimit-scope": "shared"},
                       match="POST /api")

    def route(self, request: Seen) -> Answer:
        found = _WEBHOOK.match(request.path)
        if not found:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        webhook_id, token, _, message_id = found.groups()
        if webhook_id != self.webhook_id:
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        if token != self.token:
            return 401, {"message": "Invalid Webhook Token", "code": 50027}, {}
        if request.method == "GET" and not message_id:
            return 200, {"type": 1, "id": webhook_id, "name": "RI News", "avatar": None,
                         "channel_id": "1170000000000000002",
                         "guild_id": "1160000000000000003", "application_id": None,
                         "token": token}, {}
        if request.method == "DELETE" and message_id:
            with self.lock:
                if message_id in self.deleted or not any(
                        m["id"] == message_id for m in self.messages):
                    return 404, {"message": "Unknown Message", "code": 10008}, {}
                self.deleted.append(message_id)
            return 204, b"", {}
        if request.method != "POST" or message_id:
            return 405, {"message": "405: Method Not Allowed", "code": 0}, {}
        try:
            body = json.loads(request.body)
        except ValueError:
            return 400, {"message": "The request body contains invalid JSON.", "code": 50109}, {}
        errors = _problems(body)
        if errors:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}, {}
        with self.lock:
            message = {"id": str(next(self._ids)), "type": 0,
                       "channel_id": "1170000000000000002", "webhook_id": webhook_id,
                       "content": body.get("content", ""), "embeds": body.get("embeds", []),
                       "allowed_mentions": body.get("allowed_mentions"),
                       "username": body.get("username")}
            self.messages.append(message)
        if request.query.get("wait") != "true":
            return 204, b"", {}
        return 200, message, {"x-ratelimit-limit": "5", "x-ratelimit-remaining": "4",
                              "x-ratelimit-reset-after": "2.0"}


def _error(message: str, code: str = "BASE_TYPE_MAX_LENGTH") -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _problems(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return _error("Must be an object", "MODEL_TYPE_CONVERT")
    errors: dict[str, Any] = {}
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not content and not embeds:
        return {"content": _error("Cannot send an empty message", "BASE_TYPE_REQUIRED")}
    if _length(content) > 2000:
        errors["content"] = _error("Must be 2000 or fewer in length.")
    if len(embeds) > 10:
        errors["embeds"] = _error("Must be 10 or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        problems: dict[str, Any] = {}
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key) or ""
            total += _length(value)
            if _length(value) > limit:
                problems[key] = _error(f"Must be {limit} or fewer in length.")
        footer = (embed.get("footer") or {}).get("text") or ""
        total += _length(footer)
        if _length(footer) > 2048:
            problems["footer"] = {"text": _error("Must be 2048 or fewer in length.")}
        for key, value in (("url", embed.get("url")),
                           ("image", (embed.get("image") or {}).get("url"))):
            if value is not None and not str(value).startswith(("http://", "https://")):
                problems[key] = _error("Scheme must be one of ('http', 'https').",
                                       "URL_TYPE_INVALID_URL")
        if problems:
            errors.setdefault("embeds", {})[str(index)] = problems
    if total > 6000:
        errors.setdefault("embeds", {}).setdefault("_errors", []).append(
            {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size "
             "of 6000"})
    return errors
