"""Editor accounts, logins, sessions and CSRF tokens of the dashboard.

- Passwords are hashed with argon2id (argon2-cffi); a wrong user name costs the same work as
  a wrong password, and neither is ever logged.
- A login creates a server-side session (``web_sessions``): the browser holds a random value
  in an HttpOnly, SameSite=Lax cookie (Secure when ``web.base_url`` is https), the database
  only its SHA-256. Logging out, removing the editor or changing the password ends it.
- Every form carries a CSRF token: the session's own once logged in; on the login form a
  random value that must match a cookie set with the form (double submit). A POST without a
  matching token is refused with 403 and a page that says what to do.
- Failed logins slow down, never lock: each failure from one client for one account makes the
  next try wait longer (the first three are free, then 1 s, 2 s, 4 s, ... at most 15 minutes),
  and so do many failures from one client across accounts. Failures for one account from
  everywhere (guessing from many addresses) slow down too, but only clients without the
  account's device cookie (set at a successful login) and at most a minute: a stranger can
  never keep an editor out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.interfaces.web.ratelimit import Backoff
from distributor.store.models import Editor, WebSession

if TYPE_CHECKING:
    from starlette.requests import Request

    from distributor.runtime import Runtime

log = logging.getLogger("distributor.web.auth")

SESSION_COOKIE = "distributor_session"
LOGIN_COOKIE = "distributor_login"
#: set at a successful login: this browser has logged in to the account before
DEVICE_COOKIE = "distributor_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
SESSION_IDLE = timedelta(hours=12)
SESSION_REFRESH = timedelta(minutes=5)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
#: failed logins that cost no wait: per (client, account), per client, per account
FREE_FAILURES_PER_CLIENT_ACCOUNT = 3
FREE_FAILURES_PER_CLIENT = 10
FREE_FAILURES_PER_ACCOUNT = 20
#: the longest wait: for one client; for an account, from clients it does not know
LONGEST_WAIT = 15 * 60.0
LONGEST_ACCOUNT_WAIT = 60.0
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")

_hasher = PasswordHasher()
#: the hash a login for an unknown name is checked against (the same work as a known one),
#: made at the first such login rather than at import (a tenth of a second for every process)
_DUMMY_HASH: str | None = None


class EditorError(ValueError):
    """A problem with an editor account the user can fix."""


class PasswordProblem(EditorError):
    pass




def normalize_username(name: str) -> str:
    value = (name or "").strip().lower()
    if not _USERNAME.match(value):
        raise EditorError(f"{name!r} is not a usable user name: use letters, digits and . _ - @ "
                          "(at most 100, starting with a letter or digit)")
    return value


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordProblem(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordProblem(f"the password is too long: at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise PasswordProblem("the password is only blanks")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_editor(session: Session, username: str, password: str, *, update: bool = False) -> bool:
    """Create the account (True), or with ``update`` set a new password (False)."""
    name = normalize_username(username)
    check_new_password(password)
    row = session.scalar(select(Editor).where(Editor.username == name))
    if row is not None and not update:
        raise EditorError(f"editor {name} exists already; --update sets a new password")
    if row is None:
        session.add(Editor(username=name, password_hash=hash_password(password)))
        return True
    row.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.editor_id == row.id))
    return False


def remove_editor(session: Session, username: str) -> bool:
    row = session.scalar(select(Editor).where(Editor.username == username.strip().lower()))
    if row is None:
        return False
    session.execute(delete(WebSession).where(WebSession.editor_id == row.id))
    session.delete(row)
    return True


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def authenticate(session: Session, username: str, password: str) -> Editor | None:
    """The editor when the password is right; the same work either way."""
    name = (username or "").strip().lower()
    row = session.scalar(select(Editor).where(Editor.username == name)) if name else None
    try:
        _hasher.verify(row.password_hash if row is not None else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    row.last_login_at = utcnow()
    return row


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(session: Session, editor: Editor) -> str:
    """A new session for the editor; returns the cookie's value."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(WebSession(id=_digest(value), editor_id=editor.id,
                           csrf=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                           expires_at=now + SESSION_IDLE))
    return value


def close_session(session: Session, value: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(value)))


@dataclass
class Login:
    """The logged-in editor of a request."""

    session_id: str
    username: str
    csrf: str
    flash: str | None


def session_for(session: Session, value: str | None, *, take_flash: bool = True
                ) -> Login | None:
    if not value or len(value) > 200:
        return None
    row = session.get(WebSession, _digest(value))
    now = utcnow()
    if row is None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > SESSION_REFRESH:
        row.last_seen_at, row.expires_at = now, now + SESSION_IDLE
    flash = row.flash
    if take_flash and flash:
        row.flash = None
    return Login(row.id, row.editor.username, row.csrf, flash)


def set_flash(session: Session, session_id: str, text: str) -> None:
    row = session.get(WebSession, session_id)
    if row is not None:
        row.flash = text[:4000]


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def secure_cookies(rt: Runtime) -> bool:
    return urlsplit(rt.config.web.base_url).scheme == "https"


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def device_cookie(secret: str, username: str) -> str:
    """The value of :data:`DEVICE_COOKIE` for a browser that logged in as ``username``."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_device_mac(secret, username, nonce)}"


def known_device(secret: str, username: str, value: str | None) -> bool:
    """True when ``value`` is a device cookie this server gave for ``username``."""
    if not value or len(value) > 200 or "." not in value:
        return False
    nonce, mac = value.split(".", 1)
    return hmac.compare_digest(mac, _device_mac(secret, username.strip().lower(), nonce))


def _device_mac(secret: str, username: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"device:{username}:{nonce}".encode(),
                    hashlib.sha256).hexdigest()


class LoginLimits:
    """Growing delays after failed logins: per (client, account), per client, and per
    account for clients the account does not know (no device cookie)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_pair = Backoff(free=FREE_FAILURES_PER_CLIENT_ACCOUNT, longest=LONGEST_WAIT,
                                clock=clock)
        self.per_client = Backoff(free=FREE_FAILURES_PER_CLIENT, longest=LONGEST_WAIT,
                                  clock=clock)
        self.per_account = Backoff(free=FREE_FAILURES_PER_ACCOUNT,
                                   longest=LONGEST_ACCOUNT_WAIT, clock=clock)

    @staticmethod
    def _pair(username: str, client: str) -> str:
        return f"{client} {username.strip().lower()}"

    def wait(self, username: str, client: str, known: bool = False) -> float:
        waits = [self.per_pair.wait(self._pair(username, client)),
                 self.per_client.wait(client)]
        if not known:
            waits.append(self.per_account.wait(username.strip().lower()))
        return max(waits)

    def failed(self, username: str, client: str, known: bool = False) -> None:
        self.per_pair.failed(self._pair(username, client))
        self.per_client.failed(client)
        if not known:
            self.per_account.failed(username.strip().lower())

    def succeeded(self, username: str, client: str) -> None:
        self.per_pair.reset(self._pair(username, client))
        self.per_client.reset(client)
