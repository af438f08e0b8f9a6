"""Editor accounts, logins, sessions and CSRF tokens of the dashboard.

- Passwords are hashed with argon2id (argon2-cffi); a wrong user name costs the same work as
  a wrong password, and neither is ever logged.
- A login creates a server-side session (``web_sessions``): the browser holds a random value
  in an HttpOnly, SameSite=Lax cookie (Secure when ``web.base_url`` is https), the database
  only its SHA-256. Logging out, removing the editor or changing the password ends it.
- Every form carries a CSRF token: the session's own once logged in; on the login form a
  random value that must match a cookie set with the form (double submit). A POST without a
  matching token is refused with 403 and a page that says what to do.
- Login attempts are rate limited per client address and per user name (failures only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from distributor.clock import utcnow
from distributor.interfaces.web.ratelimit import RateLimiter
from distributor.store.models import Editor, WebSession

if TYPE_CHECKING:
    from starlette.requests import Request

    from distributor.runtime import Runtime

log = logging.getLogger("distributor.web.auth")

SESSION_COOKIE = "distributor_session"
LOGIN_COOKIE = "distributor_login"
SESSION_IDLE = timedelta(hours=12)
SESSION_REFRESH = timedelta(minutes=5)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
#: failed logins: per user name, per client address, in this window
LOGIN_FAILURES_PER_USER = 5
LOGIN_FAILURES_PER_CLIENT = 20
LOGIN_WINDOW = 15 * 60.0
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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


def authenticate(session: Session, username: str, password: str) -> Editor | None:
    """The editor when the password is right; the same work either way."""
    name = (username or "").strip().lower()
    row = session.scalar(select(Editor).where(Editor.username == name)) if name else None
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
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


class LoginLimits:
    """Failed logins per user name and per client address."""

    def __init__(self) -> None:
        self.per_user = RateLimiter(LOGIN_FAILURES_PER_USER, LOGIN_WINDOW)
        self.per_client = RateLimiter(LOGIN_FAILURES_PER_CLIENT, LOGIN_WINDOW)

    def wait(self, username: str, client: str) -> float:
        return max(self.per_user.blocked_for(username.strip().lower()),
                   self.per_client.blocked_for(client))

    def failed(self, username: str, client: str) -> None:
        self.per_user.hit(username.strip().lower())
        self.per_client.hit(client)

    def succeeded(self, username: str) -> None:
        self.per_user.reset(username.strip().lower())
