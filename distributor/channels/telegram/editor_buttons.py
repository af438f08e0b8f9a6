"""The editor bot's buttons and their signatures.

A button's ``callback_data`` carries an HMAC over the action, the article, the time and the
chat, keyed by ``web.secret_key`` (else the bot token); a press acts only when the signature
is genuine and the button at most :data:`BUTTON_TTL` old, so a forwarded, replayed or forged
button cannot act.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from distributor.plugin import WebConfig

#: a button older than this does nothing (send the article again for fresh buttons)
BUTTON_TTL = timedelta(hours=1)


class ButtonRefused(Exception):
    """A button press that must not act; the message says why, for the person pressing."""


def button_secret(web: WebConfig, token: str) -> bytes:
    """The HMAC key of a bot's buttons: from ``web.secret_key``, else from the bot token."""
    secret = web.secret_key
    material = secret.get_secret_value() if secret is not None and \
        secret.get_secret_value() else token
    return hashlib.sha256(b"distributor editor bot\0" + material.encode()).digest()


def _signature(secret: bytes, body: str, chat_id: int) -> str:
    digest = hmac.new(secret, f"{body}.{chat_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def sign_button(secret: bytes, action: str, article_id: int, chat_id: int,
                when: datetime) -> str:
    """callback_data ``action.article.time.signature`` (at most 64 bytes, as Telegram wants)."""
    body = f"{action}.{article_id}.{int(when.timestamp()):x}"
    return f"{body}.{_signature(secret, body, chat_id)}"


def check_button(secret: bytes, data: str, chat_id: int, now: datetime,
                 ttl: timedelta = BUTTON_TTL) -> tuple[str, int]:
    """(action, article id) of a genuine, recent button; else :class:`ButtonRefused`."""
    parts = data.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        raise ButtonRefused("This button is not one of mine. Nothing was done.")
    action, article, stamp, signature = parts
    expected = _signature(secret, f"{action}.{article}.{stamp}", chat_id)
    if not hmac.compare_digest(signature, expected):
        raise ButtonRefused("This button is not one of mine (or belongs to another chat). "
                            "Nothing was done.")
    try:
        made = datetime.fromtimestamp(int(stamp, 16), UTC)
    except (ValueError, OverflowError):
        raise ButtonRefused("This button is not one of mine. Nothing was done.") from None
    if now - made > ttl or made - now > timedelta(minutes=5):
        minutes = int(ttl.total_seconds() // 60)
        raise ButtonRefused(f"This button is older than {minutes} minutes, so it does nothing. "
                            "Send me the article again for fresh buttons.")
    return action, int(article)
