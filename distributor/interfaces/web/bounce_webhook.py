"""``POST /webhooks/bounce``: bounces and complaints from the mail provider.

JSON ``{"email": ..., "kind": "hard"|"soft"|"complaint", "detail": ..., "channel": ...}`` (or a
list of at most ``BOUNCE_ITEMS``), with ``Authorization: Bearer <bounce_secret>`` of an email
channel (or ``X-Bounce-Secret``). A JSON nested deeper than the parser goes is a 400, not a
crash."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from distributor.interfaces.web.lists import email_channels
from distributor.ledger.subscribers import record_bounce
from distributor.runtime import Runtime

#: bounces in one request at most
BOUNCE_ITEMS = 1000


def bounce_webhook(rt: Runtime) -> Callable[[Request], Awaitable[Response]]:
    """The webhook's endpoint for this runtime's email channels."""

    async def webhook(request: Request) -> Response:
        secrets = [(c.name, c.bounce_secret.get_secret_value()) for c in email_channels(rt)
                   if c.bounce_secret is not None and c.bounce_secret.get_secret_value()]
        if not secrets:
            return JSONResponse({"error": "the bounce webhook is off: set bounce_secret on an "
                                          "email channel"}, status_code=404)
        given = request.headers.get("authorization", "")
        given = given[7:].strip() if given.lower().startswith("bearer ") else \
            request.headers.get("x-bounce-secret", "")
        allowed = [name for name, secret in secrets
                   if given and hmac.compare_digest(given.encode(), secret.encode())]
        if not allowed:
            return JSONResponse({"error": "wrong or missing secret (Authorization: Bearer ...)"},
                                status_code=401)
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        except RecursionError:  # [[[[...: nested deeper than the parser goes
            return JSONResponse({"error": "the JSON is nested too deeply: send an object or "
                                          "a list of objects"}, status_code=400)
        items = payload if isinstance(payload, list) else [payload]
        if len(items) > BOUNCE_ITEMS:
            return JSONResponse({"error": f"{len(items)} items; at most {BOUNCE_ITEMS} a "
                                          "request"}, status_code=413)
        problems = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("email"), str) or \
                    item.get("kind") not in ("hard", "soft", "complaint"):
                problems.append(f"item {i}: needs email and kind (hard, soft or complaint)")
        if problems:
            return JSONResponse({"error": "; ".join(problems)}, status_code=400)

        def apply() -> tuple[int, list[str]]:
            changed, unknown = 0, []
            with rt.store.session() as session:
                for item in items:
                    channel = item.get("channel")
                    rows = record_bounce(
                        session, item["email"], item["kind"],
                        channel=channel if channel in allowed else None,
                        detail=str(item.get("detail") or f"{item['kind']} (webhook)")[:2000])
                    changed += len(rows)
                    if not rows:
                        unknown.append(item["email"])
            return changed, unknown

        changed, unknown = await run_in_threadpool(apply)
        return JSONResponse({"ok": True, "updated": changed, "unknown": unknown})

    return webhook
