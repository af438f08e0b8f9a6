"""The signed links of a subscription: confirmation (double opt-in, expires) and unsubscribe
(never expires, so old mails keep a working link).

Links carry a token signed with ``web.secret_key`` (itsdangerous, HMAC-SHA256) over the
subscriber's id and a random ``token_key`` of the row: a token cannot be guessed or forged,
names exactly one (subscriber, channel), and dies with the row (erasure) or a new key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from itsdangerous import BadData, BadSignature, SignatureExpired, Signer, TimestampSigner
from sqlalchemy.orm import Session

from distributor.ledger.subscribers.addresses import SubscriberError
from distributor.store.models import Subscriber

if TYPE_CHECKING:
    from distributor.config import Config

CONFIRM_TTL = timedelta(days=7)
SECRET_HELP = ("web.secret_key is not set: subscriber links (confirmation, unsubscribe) and "
               "dashboard sessions are signed with it. Add `secret_key: "
               "${DISTRIBUTOR_SECRET_KEY}` under web: in the configuration and `export "
               "DISTRIBUTOR_SECRET_KEY=$(python3 -c 'import secrets; "
               "print(secrets.token_urlsafe(32))')`; keep it: changing it breaks the "
               "unsubscribe links of mails already sent")


class MissingSecret(SubscriberError):
    def __init__(self) -> None:
        super().__init__(SECRET_HELP)


def secret_of(config: Config) -> str:
    """``web.secret_key``, or :class:`MissingSecret` with the fix."""
    secret = config.web.secret_key
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise MissingSecret()
    return value


def new_token_key() -> str:
    return secrets.token_urlsafe(9)


@lru_cache(maxsize=64)
def _unsubscribe_signer(secret: str, channel: str) -> Signer:
    return Signer(secret, salt=f"distributor.unsubscribe:{channel}", digest_method=_sha256())


@lru_cache(maxsize=8)
def _confirm_signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt="distributor.confirm", digest_method=_sha256())


def _sha256() -> Any:
    return hashlib.sha256


def unsubscribe_token(secret: str, channel: str, subscriber_id: int, token_key: str) -> str:
    """``ID.KEY.SIGNATURE``, URL-safe; the signature binds it to the channel. The same as
    itsdangerous' ``Signer.sign`` (HMAC-SHA256 with a key derived from the secret and the
    channel), with the derived key computed once per channel rather than per token."""
    value = f"{subscriber_id}.{token_key}"
    mac = hmac.new(_unsubscribe_key(secret, channel), value.encode(), hashlib.sha256).digest()
    return f"{value}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@lru_cache(maxsize=64)
def _unsubscribe_key(secret: str, channel: str) -> bytes:
    return bytes(_unsubscribe_signer(secret, channel).derive_key())


def confirm_token(secret: str, subscriber_id: int, token_key: str) -> str:
    return _confirm_signer(secret).sign(f"{subscriber_id}.{token_key}").decode()


def _split(token: str) -> tuple[int, str] | None:
    parts = token.split(".")
    if len(parts) < 3 or not parts[0].isdigit() or len(parts[0]) > 18:
        return None
    return int(parts[0]), parts[1]


def subscriber_for_unsubscribe(session: Session, secret: str, token: str) -> Subscriber | None:
    """The subscriber an unsubscribe token names, or None when it is forged, tampered with,
    or names a subscriber that no longer exists."""
    head = _split(token)
    if head is None:
        return None
    row = session.get(Subscriber, head[0])
    if row is None or not secrets.compare_digest(row.token_key, head[1]):
        return None
    try:
        value = _unsubscribe_signer(secret, row.channel).unsign(token).decode()
    except BadSignature:
        return None
    return row if value == f"{row.id}.{row.token_key}" else None


def subscriber_for_confirm(session: Session, secret: str, token: str,
                           max_age: timedelta = CONFIRM_TTL) -> tuple[Subscriber | None, str]:
    """``(subscriber, "")`` for a valid confirmation token, else ``(None, why)`` with why
    ``expired`` or ``invalid``."""
    try:
        value = _confirm_signer(secret).unsign(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        return None, "expired"
    except (BadSignature, BadData):
        return None, "invalid"
    head = _split(value.decode() + ".x")
    if head is None:
        return None, "invalid"
    row = session.get(Subscriber, head[0])
    if row is None or not secrets.compare_digest(row.token_key, head[1]):
        return None, "invalid"
    return row, ""


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm/{token}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"
