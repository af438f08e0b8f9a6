"""The dashboard's shared parts: rendering, login checks, background sends, previews."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from distributor.clock import utcnow
from distributor.interfaces.web import auth
from distributor.interfaces.web.previews import live_url, telegram_html, x_html
from distributor.plugin import RECIPIENT_PLACEHOLDER
from distributor.registry import get_adapter_class
from distributor.services.deliveries import send_now
from distributor.services.sending import Sender
from distributor.store.models import (
    ChannelState,
    Delivery,
    Digest,
)

if TYPE_CHECKING:
    from distributor.config import ChannelConfig
    from distributor.runtime import Runtime

log = logging.getLogger("distributor.interfaces.web.dashboard")

PAGE_SIZE = 50
REFRESH_SECONDS = 2
STATES = ("pending", "sending", "retry", "sent", "failed", "unknown", "held")
SUBSCRIBER_STATES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")

#: the address a mail preview shows where each subscriber's own will be
SAMPLE_RECIPIENT = "reader@example.org"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    # one script of ours (live.js: status cells update themselves), nothing inline; images
    # of articles (https) may show in the previews; the email
    # preview is a sandboxed srcdoc frame, which inherits this policy
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; "
                               "img-src 'self' https: data:; form-action 'self'; "
                               "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}

Handler = Callable[[Request, auth.Login, FormData | None], Awaitable[Response]]


@dataclass
class Preview:
    channel: str
    type: str
    kind: str  # the channel's preview_style (chat | thread | email | text) or error
    label: str
    items: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class DashboardCore:
    """What every page of the dashboard shares."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.limits = auth.LoginLimits()
        self.secure = auth.secure_cookies(rt)
        self.tz = rt.config.site.tz
        self.sender = Sender(rt)  # one pass at a time: order and pacing hold
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- background work ------------------------------------------------------------------
    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dashboard background job %s failed", task.get_name(),
                      exc_info=task.exception())

    async def idle(self, timeout: float = 60.0) -> None:
        """Wait for the background sends (tests; a stopping server)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def dispatch(self, ids: list[int]) -> None:
        """Send what an editor queued (distributed mode: hand it to the workers)."""
        await send_now(self.rt, ids, sender=self.sender, wait=0)

    async def stop(self) -> None:
        await self.idle(timeout=30.0)
        for task in list(self._tasks):
            task.cancel()

    # -- rendering ------------------------------------------------------------------------
    def local(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "–"
        return value.astimezone(self.tz).strftime(fmt)

    def render(self, template: str, *, title: str, login: auth.Login | None, status: int = 200,
               refresh: int | None = None, headers: dict[str, str] | None = None,
               **data: Any) -> HTMLResponse:
        if login is not None and "paused_channels" not in data:
            data["paused_channels"] = self._paused_channels()
        html = self.rt.templates.render(  # type: ignore[attr-defined]
            f"web/dashboard/{template}", site=self.rt.config.site, title=title, login=login,
            refresh=refresh, local=self.local, nav=data.pop("nav", ""), **data)
        return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})

    def problem(self, title: str, text: str, status: int, login: auth.Login | None = None,
                headers: dict[str, str] | None = None) -> HTMLResponse:
        return self.render("problem.html", title=title, text=text, status=status, login=login,
                           headers=headers)

    def forbidden(self, login: auth.Login | None = None) -> HTMLResponse:
        return self.problem(
            "Request refused (CSRF check)",
            "This form did not carry the security token of your session, so it was not "
            "processed: it may have come from another site, or the page was open for too "
            "long. Go back, reload the page and try again.", 403, login)

    # -- access ---------------------------------------------------------------------------
    async def current(self, request: Request) -> auth.Login | None:
        value = request.cookies.get(auth.SESSION_COOKIE)
        if not value:
            return None

        def look() -> auth.Login | None:
            with self.rt.store.session() as session:
                return auth.session_for(session, value, take_flash=request.method == "GET")

        return await run_in_threadpool(look)

    def origin_ok(self, request: Request) -> bool:
        """A browser's Origin header, when sent, must be this site."""
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin is None
        allowed = {_origin(str(request.base_url)), _origin(self.rt.config.web.base_url)}
        return _origin(origin) in allowed

    def editor(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Login required (else to /login); POST: the CSRF token too (else 403)."""

        async def endpoint(request: Request) -> Response:
            login = await self.current(request)
            if login is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                if request.method != "GET":  # an action is not repeated after the login
                    target = "/dashboard/"
                return RedirectResponse("/login?" + urlencode({"next": target}), 303,
                                        headers=HEADERS)
            form = None
            if request.method == "POST":
                form = await request.form()
                if not self.origin_ok(request) or \
                        not auth.tokens_match(login.csrf, _str(form.get("csrf"))):
                    log.warning("refused a POST to %s by %s: CSRF token missing or wrong",
                                request.url.path, login.username)
                    return self.forbidden(login)
            return await handler(request, login, form)

        return endpoint

    async def flash(self, login: auth.Login, text: str) -> None:
        def store() -> None:
            with self.rt.store.session() as session:
                auth.set_flash(session, login.session_id, text)

        await run_in_threadpool(store)

    def _paused_channels(self) -> list[dict[str, str]]:
        """The paused channels, for every page's banner (an unreadable store shows none)."""
        try:
            with self.rt.store.session() as session:
                return [{"name": s.channel, "paused_reason": s.paused_reason or ""}
                        for s in session.scalars(select(ChannelState).where(
                            ChannelState.paused_reason.is_not(None))
                            .order_by(ChannelState.channel))]
        except Exception:  # the page itself says what is wrong with the store
            return []

    def _channels(self) -> list[ChannelConfig]:
        return [c for c in self.rt.config.channels if c.enabled]

    def _digested(self, session: Session, ids: list[int]) -> dict[tuple[int, str], datetime]:
        """(article, channel) -> when a sent digest carried it, for these articles."""
        if not ids:
            return {}
        wanted = set(ids)
        oldest = utcnow() - timedelta(days=60)
        out: dict[tuple[int, str], datetime] = {}
        for digest in session.scalars(select(Digest).where(
                Digest.state == "sent", Digest.created_at >= oldest)):
            for article_id in digest.article_ids or []:
                if article_id in wanted:
                    out.setdefault((article_id, digest.channel),
                                   digest.sent_at or digest.created_at)
        return out

    def _cell(self, channel: ChannelConfig, d: Delivery) -> dict[str, Any]:
        url = live_url(d.remote_id, self.rt.adapters.get(channel.name)) \
            if d.state == "sent" else None
        state = d.state
        title = d.last_error or ""
        if state == "pending" and d.next_attempt_at > utcnow() + timedelta(seconds=5):
            state = "scheduled"
            title = f"scheduled for {self.local(d.next_attempt_at)}"
        elif state == "sent":
            title = f"sent {self.local(d.sent_at)}" + (f" (id {d.remote_id})" if d.remote_id
                                                        else "")
        check = None
        if state in ("unknown", "failed", "retry"):  # where an editor looks whether it is out
            adapter = self.rt.adapters.get(channel.name)
            check = live_url(d.remote_id, adapter) or (
                adapter.profile_url() if adapter else None)
        return {"state": state, "url": url, "title": title, "delivery": d, "check": check}


def preview_of(channel: ChannelConfig, label: str, messages: list[dict[str, Any]]) -> Preview:
    """Messages as their platform shows them, in the style the channel declares
    (``preview_style``: chat, thread, email, text; see :mod:`distributor.web.previews`)."""
    cls = get_adapter_class(channel.type)
    style = cls.preview_style
    if style == "email":
        return Preview(channel.name, channel.type, "email", label, [
            {"subject": str(m.get("subject", "")),
             "html": str(m.get("html", "")).replace(RECIPIENT_PLACEHOLDER, SAMPLE_RECIPIENT)}
            for m in messages])
    if style == "chat":
        return Preview(channel.name, channel.type, "chat", label, [
            {"html": telegram_html(cls.preview_text(m)) if m.get("parse_mode") == "HTML"
             else x_html(cls.preview_text(m)), "photo": _https(cls.preview_image(m))}
            for m in messages])
    if style == "thread":
        return Preview(channel.name, channel.type, "thread", label, [
            {"html": x_html(cls.preview_text(m)), "weight": _length(cls, cls.preview_text(m)),
             "limit": cls.body_maxlen, "image": _https(cls.preview_image(m))}
            for m in messages])
    return Preview(channel.name, channel.type, "text", label,
                   [{"text": cls.preview_text(m)} for m in messages])


def _https(url: str | None) -> str | None:
    """Only https images on the dashboard (no mixed content, no other schemes)."""
    return url if url and url.startswith("https://") else None


def _length(cls: Any, text: str) -> int:
    measured = cls.measure(text)
    return len(text) if measured is None else int(measured)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _safe_next(target: str | None) -> str:
    """Only paths of the dashboard: never another site (``//evil``, ``/\\evil``)."""
    if target and target.startswith("/dashboard") and "//" not in target and \
            "\\" not in target and "\n" not in target and "\r" not in target:
        return target
    return "/dashboard/"



