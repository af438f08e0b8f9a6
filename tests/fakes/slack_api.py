"""A Slack double: a real HTTP server speaking Slack's incoming-webhook API, checking what
Slack checks.

``POST /services/{team}/{bot}/{secret}`` takes a JSON message and answers ``ok`` (text/html,
as Slack does), or 400 with Slack's error string: ``invalid_payload`` (not JSON),
``no_text`` (neither text nor blocks), ``invalid_blocks`` (more than 50 blocks, a section's
text over 3000 characters, a header's over 150 or not plain_text, an image without image_url
or with alt_text over 2000, an unknown block type, mrkdwn with a raw ``<`` that is not a
link), 403 ``invalid_token`` for a wrong secret and 404 ``no_service`` for an unknown hook.
:meth:`rate_limit` answers 429 ``rate_limited`` with Retry-After.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakes.http_double import Answer, HttpDouble, Seen

_HOOK = re.compile(r"^/services/(T\w+)/(B\w+)/(\w+)$")
_LINK = re.compile(r"<(https?://[^|>\s]+)\|([^>]*)>")


def mrkdwn_problem(text: str) -> str | None:
    """What Slack would refuse in a mrkdwn text: a ``<`` that opens no link."""
    rest = _LINK.sub("", text)
    if "<" in rest or ">" in rest:
        return f"raw angle bracket in {text[:60]!r}"
    return None


def block_problems(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return ["invalid_payload"]
    blocks = message.get("blocks") or []
    if not message.get("text") and not blocks:
        return ["no_text"]
    problems = []
    if len(blocks) > 50:
        problems.append("more than 50 blocks")
    if isinstance(message.get("text"), str) and mrkdwn_problem(message["text"]):
        problems.append("text: " + str(mrkdwn_problem(message["text"])))
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            text = (block.get("text") or {}).get("text") or ""
            if not text or len(text) > 3000:
                problems.append(f"section text of {len(text)} characters")
            elif mrkdwn_problem(text):
                problems.append(str(mrkdwn_problem(text)))
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 0 < len(text.get("text") or "") <= 150:
                problems.append("header must be plain_text of 1-150 characters")
        elif kind == "image":
            if not str(block.get("image_url") or "").startswith(("http://", "https://")):
                problems.append("image without image_url")
            if not 0 < len(block.get("alt_text") or "") <= 2000:
                problems.append("image alt_text of 1-2000 characters")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                problems.append("context holds 1-10 elements")
            for element in elements:
                if element.get("type") == "mrkdwn" and mrkdwn_problem(element.get("text", "")):
                    problems.append(str(mrkdwn_problem(element["text"])))
        else:
            problems.append(f"unknown block type {kind!r}")
    return problems


class FakeSlack(HttpDouble):
    path = "/services/T0RINEWS/B0NEWS01/sl4ck5ecretW3bhookT0ken"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    @property
    def secret(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def rate_limit(self, retry_after: int = 30) -> None:
        self.fail_next(429, "rate_limited", {"retry-after": str(retry_after)}, match="POST")

    def route(self, request: Seen) -> Answer:
        found = _HOOK.match(request.path)
        if request.method != "POST" or not found:
            return 404, "no_service", {}
        if request.path != self.path:
            same_hook = request.path.rsplit("/", 1)[0] == self.path.rsplit("/", 1)[0]
            return (403, "invalid_token", {}) if same_hook else (404, "no_service", {})
        try:
            message = json.loads(request.body)
        except ValueError:
            return 400, "invalid_payload", {}
        problems = block_problems(message)
        if problems in (["no_text"], ["invalid_payload"]):
            return 400, problems[0], {}
        if problems:
            return 400, "invalid_blocks", {"x-problems": "; ".join(problems)[:500]}
        with self.lock:
            self.messages.append(message)
        return 200, "ok", {"content-type": "text/html"}
