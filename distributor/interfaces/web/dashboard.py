"""The editor dashboard: ``/login``, ``/logout`` and everything under ``/dashboard/``.

Every page needs a login (else a redirect to ``/login``); every POST needs the session's CSRF
token (else 403). Actions go through the same functions as the command line:
:func:`~distributor.ledger.deliveries.request_delivery` (push, schedule),
:func:`~distributor.ledger.deliveries.hold_delivery`,
:func:`~distributor.ledger.deliveries.retry_delivery`,
:func:`~distributor.ledger.deliveries.resolve_delivery`,
:func:`~distributor.engine.digests.pick_article`,
:func:`~distributor.engine.digests.run_digest`; what they queue is sent at once by a
:class:`~distributor.engine.dispatcher.Dispatcher` pass in the background, as ``push`` does.

Pages use no scripts: a page with something in flight reloads itself every few seconds.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from distributor.interfaces.web import auth
from distributor.interfaces.web.previews import live_url, telegram_html, x_html, x_weight
from distributor.interfaces.web.queries import running_digests
from distributor.plugin import message_text
from distributor.render.email import RECIPIENT
from distributor.store.models import (
    ArticleRow,
    ChannelState,
    Delivery,
    DeliveryEvent,
    Digest,
    DigestPick,
    Subscriber,
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
    # no scripts at all; images of articles (https) may show in the previews; the email
    # preview is a sandboxed srcdoc frame, which inherits this policy
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' https: data:; form-action 'self'; "
                               "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}

Handler = Callable[[Request, auth.Login, FormData | None], Awaitable[Response]]


@dataclass
class Preview:
    channel: str
    type: str
    kind: str  # telegram | x | email | text | error
    label: str
    items: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class Dashboard:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.limits = auth.LoginLimits()
        self.secure = auth.secure_cookies(rt)
        self.tz = rt.config.site.tz
        self._dispatching = asyncio.Lock()
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
        from distributor.engine.dispatcher import send_requested

        async with self._dispatching:  # one pass at a time: order and pacing hold
            await send_requested(self.rt, ids, wait=0)  # distributed mode: by the workers

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

    # -- login ----------------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        if await self.current(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        return self._login_page(request, None, 200)

    def _login_page(self, request: Request, error: str | None, status: int,
                    username: str = "", headers: dict[str, str] | None = None) -> Response:
        token = request.cookies.get(auth.LOGIN_COOKIE) or ""
        if len(token) < 20 or len(token) > 100:
            token = secrets.token_urlsafe(24)
        response = self.render("login.html", title="Log in", login=None, status=status,
                               error=error, username=username, csrf=token,
                               next=_safe_next(request.query_params.get("next")),
                               headers=headers)
        response.set_cookie(auth.LOGIN_COOKIE, token, httponly=True, samesite="lax",
                            secure=self.secure, path="/login")
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username = _str(form.get("username")).strip()[:100]
        password = _str(form.get("password"))
        if not self.origin_ok(request) or not auth.tokens_match(
                request.cookies.get(auth.LOGIN_COOKIE), _str(form.get("csrf"))):
            return self.forbidden()
        client = auth.client_address(request)
        wait = self.limits.wait(username, client)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            log.warning("login for %r from %s refused: too many failed attempts",
                        username, client)
            return self._login_page(
                request, f"Too many failed attempts. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}.", 429, username,
                headers={"Retry-After": str(int(wait) + 1)})

        def check() -> str | None:
            with self.rt.store.session() as session:
                editor = auth.authenticate(session, username, password)
                if editor is None:
                    return None
                return auth.open_session(session, editor)

        value = await run_in_threadpool(check)
        if value is None:
            self.limits.failed(username, client)
            log.warning("failed login for %r from %s", username, client)
            return self._login_page(request, "Wrong user name or password.", 401, username)
        self.limits.succeeded(username)
        log.info("editor %s logged in from %s", username.lower(), client)
        response = RedirectResponse(_safe_next(_str(form.get("next"))), 303, headers=HEADERS)
        response.set_cookie(auth.SESSION_COOKIE, value, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
        response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request, login: auth.Login, form: FormData | None
                     ) -> Response:
        value = request.cookies.get(auth.SESSION_COOKIE, "")

        def close() -> None:
            with self.rt.store.session() as session:
                auth.close_session(session, value)

        await run_in_threadpool(close)
        response = RedirectResponse("/login", 303, headers=HEADERS)
        response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=self.secure)
        return response

    # -- articles -------------------------------------------------------------------------
    async def articles(self, request: Request, login: auth.Login, form: FormData | None
                       ) -> Response:
        params = request.query_params
        source = params.get("source") or ""
        state = params.get("state") or ""
        q = (params.get("q") or "").strip()[:200]
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1

        def load() -> dict[str, Any]:
            with self.rt.store.session() as session:
                query = select(ArticleRow)
                if source:
                    query = query.where(ArticleRow.source == source)
                if q:
                    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%") \
                        .replace("_", "\\_") + "%"
                    query = query.where(or_(ArticleRow.title.ilike(pattern, escape="\\"),
                                            ArticleRow.url.ilike(pattern, escape="\\"),
                                            ArticleRow.lede.ilike(pattern, escape="\\")))
                if state == "none":
                    query = query.where(~exists().where(Delivery.article_id == ArticleRow.id))
                elif state in STATES:
                    query = query.where(exists().where(and_(
                        Delivery.article_id == ArticleRow.id, Delivery.state == state)))
                total = session.scalar(select(func.count()).select_from(query.subquery()))
                rows = session.scalars(query.order_by(
                    ArticleRow.first_seen.desc(), ArticleRow.id.desc())
                    .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
                ids = [r.id for r in rows]
                deliveries = {(d.article_id, d.channel): d for d in session.scalars(
                    select(Delivery).where(Delivery.article_id.in_(ids)))} if ids else {}
                moved = self._moved(session)
                digested = self._digested(session, ids)
                sources = sorted({s.name for s in self.rt.config.sources} | set(
                    session.scalars(select(ArticleRow.source).distinct())))
                channels = self._channels()
                items = []
                for row in rows:
                    cells = []
                    for channel in channels:
                        d = deliveries.get((row.id, channel.name))
                        if d is not None:
                            cells.append(self._cell(channel, d, moved))
                        elif channel.publish == "digest":
                            when = digested.get((row.id, channel.name))
                            cells.append({"state": "in digest" if when else "", "url": None,
                                          "title": f"sent in the digest of {self.local(when)}"
                                          if when else ""})
                        else:
                            cells.append({"state": "", "url": None, "title": ""})
                    items.append({"row": row, "cells": cells})
                return {"items": items, "total": total or 0, "channels": channels,
                        "sources": sources}

        data = await run_in_threadpool(load)
        pages = max(1, -(-data["total"] // PAGE_SIZE))
        refresh = REFRESH_SECONDS if any(
            c["state"] in ("pending", "sending") for i in data["items"] for c in i["cells"]) \
            else None
        base = {"source": source, "state": state, "q": q}
        return self.render("articles.html", title="Articles", login=login, nav="articles",
                           refresh=refresh, source=source, state=state, q=q, page=page,
                           pages=pages, states=STATES, query=lambda **kw: urlencode(
                               {k: v for k, v in {**base, **kw}.items() if v}), **data)

    def _channels(self) -> list[ChannelConfig]:
        return [c for c in self.rt.config.channels if c.enabled]

    def _moved(self, session: Session) -> dict[str, str]:
        return {s.channel: s.moved_to for s in session.scalars(
            select(ChannelState).where(ChannelState.moved_to.is_not(None))) if s.moved_to}

    def _digested(self, session: Session, ids: list[int]) -> dict[tuple[int, str], datetime]:
        """(article, channel) -> when a sent digest carried it, for these articles."""
        if not ids:
            return {}
        wanted = set(ids)
        oldest = datetime.now(UTC) - timedelta(days=60)
        out: dict[tuple[int, str], datetime] = {}
        for digest in session.scalars(select(Digest).where(
                Digest.state == "sent", Digest.created_at >= oldest)):
            for article_id in digest.article_ids or []:
                if article_id in wanted:
                    out.setdefault((article_id, digest.channel),
                                   digest.sent_at or digest.created_at)
        return out

    def _cell(self, channel: ChannelConfig, d: Delivery, moved: dict[str, str]
              ) -> dict[str, Any]:
        url = live_url(d.remote_id, self.rt.adapters.get(channel.name),
                       moved_to=moved.get(channel.name)) if d.state == "sent" else None
        state = d.state
        title = d.last_error or ""
        if state == "pending" and d.next_attempt_at > datetime.now(UTC) + timedelta(seconds=5):
            state = "scheduled"
            title = f"scheduled for {self.local(d.next_attempt_at)}"
        elif state == "sent":
            title = f"sent {self.local(d.sent_at)}" + (f" (id {d.remote_id})" if d.remote_id
                                                        else "")
        return {"state": state, "url": url, "title": title, "delivery": d}

    # -- one article ----------------------------------------------------------------------
    async def article(self, request: Request, login: auth.Login, form: FormData | None
                      ) -> Response:
        article_id = int(request.path_params["article_id"])

        def load() -> dict[str, Any] | None:
            from distributor.engine.digests import plan_digest
            from distributor.ledger.ingest import from_row

            with self.rt.store.session() as session:
                row = session.get(ArticleRow, article_id)
                if row is None:
                    return None
                moved = self._moved(session)
                deliveries = {d.channel: d for d in row.deliveries}
                events = {d.id: list(session.scalars(
                    select(DeliveryEvent).where(DeliveryEvent.delivery_id == d.id)
                    .order_by(DeliveryEvent.id.desc()).limit(12))) for d in row.deliveries}
                picks = {p.channel: p for p in session.scalars(
                    select(DigestPick).where(DigestPick.article_id == article_id))}
                digested = self._digested(session, [article_id])
                art = from_row(row)
            channels = []
            previews = []
            now = datetime.now(UTC)
            for channel in self._channels():
                d = deliveries.get(channel.name)
                entry: dict[str, Any] = {"config": channel, "delivery": d,
                                         "cell": self._cell(channel, d, moved) if d else None,
                                         "events": events.get(d.id, []) if d else []}
                if channel.publish == "digest":
                    plan = plan_digest(self.rt, channel, until=now, period="preview")
                    entry["in_next"] = any(a.id == article_id for a in plan.articles)
                    entry["pick"] = picks.get(channel.name)
                    entry["digested"] = digested.get((article_id, channel.name))
                channels.append(entry)
                previews.append(self._preview(channel, art, d))
            return {"row": row, "channels": channels, "previews": previews}

        data = await run_in_threadpool(load)
        if data is None:
            return self.problem("No such article", f"There is no article {article_id}.", 404,
                                login)
        busy = any(c["delivery"] is not None and c["cell"]["state"] in ("pending", "sending")
                   for c in data["channels"])
        default_at = (datetime.now(self.tz) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        return self.render("article.html", title=data["row"].title, login=login,
                           nav="articles", refresh=REFRESH_SECONDS if busy else None,
                           default_at=default_at, timezone=self.rt.config.site.timezone,
                           **data)

    def _preview(self, channel: ChannelConfig, art: Any, delivery: Delivery | None) -> Preview:
        adapter = self.rt.adapters.get(channel.name)
        label = channel.name
        try:
            if delivery is not None and delivery.messages:
                messages = list(delivery.messages)
                label += " (as queued/sent)"
            elif adapter is None:
                raise RuntimeError("no adapter")
            elif channel.publish == "digest" and adapter.supports_digest:
                messages = adapter.render_digest([art], self.rt.context(channel))
                label += " (in a digest)"
            else:
                messages = adapter.render(art, self.rt.context(channel))
        except Exception as exc:  # show the problem instead of the preview
            return Preview(channel.name, channel.type, "error", label,
                           error=f"cannot render: {exc}")
        return preview_of(channel, label, messages)

    # -- actions on an article ------------------------------------------------------------
    async def act(self, request: Request, login: auth.Login, form: FormData | None
                  ) -> Response:
        from distributor.ledger.deliveries import hold_delivery, request_delivery

        assert form is not None
        article_id = int(request.path_params["article_id"])
        action = _str(form.get("action"))
        wanted = [_str(v) for v in form.getlist("channel")]
        force = form.get("force") == "1"
        known = {c.name: c for c in self._channels()}
        chosen = [known[n] for n in wanted if n in known]
        back = f"/dashboard/articles/{article_id}"
        if action not in ("push", "schedule", "hold"):
            return self.problem("Unknown action", "The form asked for an unknown action.",
                                400, login)
        if not chosen:
            await self.flash(login, "Choose at least one channel.")
            return RedirectResponse(back, 303)
        at = None
        if action == "schedule":
            try:
                local_at = datetime.strptime(_str(form.get("at")), "%Y-%m-%dT%H:%M")
            except ValueError:
                await self.flash(login, "Give the date and time to publish at.")
                return RedirectResponse(back, 303)
            at = local_at.replace(tzinfo=self.tz).astimezone(UTC)
            if at <= datetime.now(UTC):
                await self.flash(login, f"{self.local(at)} has passed; choose a later time "
                                        "or push now.")
                return RedirectResponse(back, 303)
        by = f"dashboard:{login.username}"

        def work() -> tuple[list[int], list[str]]:
            queued: list[int] = []
            lines: list[str] = []
            with self.rt.store.session() as session:
                if session.get(ArticleRow, article_id) is None:
                    raise LookupError(f"no article {article_id}")
                for channel in chosen:
                    if action == "hold":
                        try:
                            lines.append(hold_delivery(session, article_id, channel.name,
                                                       requested_by=by))
                        except ValueError as exc:
                            lines.append(f"{channel.name}: {exc}")
                        continue
                    delivery, what = request_delivery(session, article_id, channel.name,
                                                      force=force, requested_by=by, at=at)
                    if what == "queued":
                        queued.append(delivery.id)
                        lines.append(f"{channel.name}: queued, sending now")
                    elif what == "scheduled":
                        lines.append(f"{channel.name}: scheduled for {self.local(at)} "
                                     f"({self.rt.config.site.timezone})")
                    elif what == "already-sent":
                        lines.append(f"{channel.name}: already published "
                                     f"{self.local(delivery.sent_at)}; tick “again” to post "
                                     "it once more")
                    elif what == "unknown":
                        lines.append(f"{channel.name}: may already be published (state "
                                     "unknown); check the channel, then resolve it below")
                    else:
                        lines.append(f"{channel.name}: being sent right now")
            return queued, lines

        try:
            queued, lines = await run_in_threadpool(work)
        except LookupError as exc:
            return self.problem("No such article", str(exc), 404, login)
        log.info("%s: %s article %s on %s", login.username, action, article_id,
                 ", ".join(c.name for c in chosen))
        if queued:
            self.background(self.dispatch(queued), f"push-{article_id}")
        await self.flash(login, "\n".join(lines))
        return RedirectResponse(back, 303)

    async def pick(self, request: Request, login: auth.Login, form: FormData | None
                   ) -> Response:
        from distributor.engine.digests import pick_article, unpick_article

        assert form is not None
        article_id = int(request.path_params["article_id"])
        name = _str(form.get("channel"))
        what = _str(form.get("pick"))
        channel = next((c for c in self._channels() if c.name == name), None)
        back = f"/dashboard/articles/{article_id}"
        if channel is None or what not in ("add", "remove", "clear"):
            return self.problem("Unknown digest choice", "The form named no digest channel "
                                "or an unknown choice.", 400, login)

        def work() -> str:
            with self.rt.store.session() as session:
                if what == "clear":
                    unpick_article(session, channel.name, article_id)
                    return f"{channel.name}: the article follows the usual rule again"
                return pick_article(session, channel.name, article_id, include=what == "add",
                                    by=f"dashboard:{login.username}")

        try:
            text = await run_in_threadpool(work)
        except LookupError as exc:
            return self.problem("No such article", str(exc), 404, login)
        await self.flash(login, text)
        return RedirectResponse(_safe_next(_str(form.get("back")) or back), 303)

    # -- actions on a delivery ------------------------------------------------------------
    async def retry(self, request: Request, login: auth.Login, form: FormData | None
                    ) -> Response:
        from distributor.ledger.deliveries import retry_delivery

        assert form is not None
        delivery_id = int(request.path_params["delivery_id"])
        force = form.get("force") == "1"

        def work() -> tuple[int | None, str]:
            with self.rt.store.session() as session:
                d = session.get(Delivery, delivery_id)
                article_id = d.article_id if d is not None else None
                try:
                    return article_id, retry_delivery(session, delivery_id, force=force)
                except (LookupError, ValueError) as exc:
                    return article_id, str(exc)

        article_id, text = await run_in_threadpool(work)
        if article_id is None:
            return self.problem("No such delivery", text, 404, login)
        if "queued" in text:
            self.background(self.dispatch([delivery_id]), f"retry-{delivery_id}")
        await self.flash(login, text)
        return RedirectResponse(f"/dashboard/articles/{article_id}", 303)

    async def resolve(self, request: Request, login: auth.Login, form: FormData | None
                      ) -> Response:
        from distributor.ledger.deliveries import resolve_delivery

        assert form is not None
        delivery_id = int(request.path_params["delivery_id"])
        outcome = _str(form.get("outcome"))
        remote_id = _str(form.get("remote_id")).strip()[:200] or None
        if outcome not in ("sent", "failed"):
            return self.problem("Unknown outcome", "Say sent or failed.", 400, login)

        def work() -> tuple[int | None, str]:
            with self.rt.store.session() as session:
                d = session.get(Delivery, delivery_id)
                if d is None:
                    return None, f"no delivery {delivery_id}"
                article_id = d.article_id
                try:
                    return article_id, resolve_delivery(session, delivery_id,
                                                        sent=outcome == "sent",
                                                        remote_id=remote_id)
                except (LookupError, ValueError) as exc:
                    return article_id, str(exc)

        article_id, text = await run_in_threadpool(work)
        if article_id is None:
            return self.problem("No such delivery", text, 404, login)
        log.info("%s resolved delivery %s as %s", login.username, delivery_id, outcome)
        await self.flash(login, text)
        return RedirectResponse(f"/dashboard/articles/{article_id}", 303)

    # -- digests --------------------------------------------------------------------------
    def _digest_channels(self) -> list[ChannelConfig]:
        out = []
        for channel in self._channels():
            adapter = self.rt.adapters.get(channel.name)
            if channel.publish == "digest" and adapter is not None and adapter.supports_digest:
                out.append(channel)
        return out

    async def digests(self, request: Request, login: auth.Login, form: FormData | None
                      ) -> Response:
        from distributor.engine.digests import plan_digest, render_plan

        def load() -> list[dict[str, Any]]:
            out = []
            now = datetime.now(UTC)
            for channel in self._digest_channels():
                entry: dict[str, Any] = {"config": channel}
                with self.rt.store.session() as session:
                    entry["running"] = running_digests(session, channel.name)
                    entry["recent"] = list(session.scalars(
                        select(Digest).where(Digest.channel == channel.name)
                        .order_by(Digest.id.desc()).limit(10)))
                    picks = list(session.scalars(select(DigestPick).where(
                        DigestPick.channel == channel.name)
                        .order_by(DigestPick.created_at.desc()).limit(50)))
                    titles = dict(session.execute(select(ArticleRow.id, ArticleRow.title).where(
                        ArticleRow.id.in_([p.article_id for p in picks]))).all()) \
                        if picks else {}
                    entry["picks"] = [{"pick": p, "title": titles.get(p.article_id, "")}
                                      for p in picks]
                    entry["subscribers"] = int(session.scalar(
                        select(func.count()).select_from(Subscriber).where(
                            Subscriber.channel == channel.name,
                            Subscriber.state == "confirmed")) or 0)
                plan = plan_digest(self.rt, channel, until=now, period="preview")
                entry["plan"] = plan
                try:
                    messages = render_plan(self.rt, channel, plan) if plan.articles else []
                    entry["preview"] = preview_of(channel, channel.name, messages)
                except Exception as exc:
                    entry["preview"] = Preview(channel.name, channel.type, "error",
                                               channel.name, error=f"cannot render: {exc}")
                out.append(entry)
            return out

        channels = await run_in_threadpool(load)
        busy = any(c["running"] for c in channels)
        return self.render("digests.html", title="Digests", login=login, nav="digests",
                           refresh=REFRESH_SECONDS if busy else None, channels=channels)

    async def send_digest(self, request: Request, login: auth.Login, form: FormData | None
                          ) -> Response:
        from distributor.engine.digests import run_digest

        name = request.path_params["channel"]
        channel = next((c for c in self._digest_channels() if c.name == name), None)
        if channel is None:
            return self.problem("No such digest channel", f"{name} sends no digests.", 404,
                                login)

        async def send() -> None:
            outcome = await run_digest(self.rt, channel)
            log.info("digest %s sent from the dashboard by %s: %s (%s)", channel.name,
                     login.username, outcome.state, outcome.detail)

        self.background(send(), f"digest-{channel.name}")
        log.info("%s started the digest of %s", login.username, channel.name)
        await self.flash(login, f"{channel.name}: the digest is being sent")
        return RedirectResponse("/dashboard/digests", 303)

    # -- subscribers ----------------------------------------------------------------------
    def _subscriber_filter(self, request: Request) -> tuple[str, str, str]:
        params = request.query_params
        channel = params.get("channel") or ""
        state = params.get("state") or ""
        q = (params.get("q") or "").strip()[:200]
        return channel, (state if state in SUBSCRIBER_STATES else ""), q

    def _subscriber_query(self, channel: str, state: str, q: str) -> Any:
        query = select(Subscriber)
        if channel:
            query = query.where(Subscriber.channel == channel)
        if state:
            query = query.where(Subscriber.state == state)
        if q:
            pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            query = query.where(Subscriber.email_key.like(pattern, escape="\\"))
        return query

    async def subscribers(self, request: Request, login: auth.Login, form: FormData | None
                          ) -> Response:
        from distributor.ledger.subscribers import counts

        channel, state, q = self._subscriber_filter(request)

        def load() -> dict[str, Any]:
            with self.rt.store.session() as session:
                totals = counts(session)
                query = self._subscriber_query(channel, state, q)
                found = session.scalar(select(func.count()).select_from(query.subquery()))
                rows = list(session.scalars(query.order_by(Subscriber.id.desc()).limit(100)))
            names = sorted({c.name for c in self.rt.config.channels if c.type == "email"}
                           | set(totals))
            return {"totals": totals, "rows": rows, "found": found or 0, "names": names}

        data = await run_in_threadpool(load)
        export = "/dashboard/subscribers.csv?" + urlencode(
            {k: v for k, v in {"channel": channel, "state": state, "q": q}.items() if v})
        return self.render("subscribers.html", title="Subscribers", login=login,
                           nav="subscribers", channel=channel, state=state, q=q,
                           states=SUBSCRIBER_STATES, export=export, **data)

    async def subscribers_csv(self, request: Request, login: auth.Login,
                              form: FormData | None) -> Response:
        from distributor.ledger.subscribers import EXPORT_FIELDS, csv_safe, export_row

        channel, state, q = self._subscriber_filter(request)
        query = self._subscriber_query(channel, state, q)

        def page(after: int) -> list[dict[str, Any]]:
            with self.rt.store.session() as session:
                rows = session.scalars(query.where(Subscriber.id > after)
                                       .order_by(Subscriber.id).limit(1000))
                return [{"id": r.id, **export_row(r)} for r in rows]

        async def body() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n",
                                    extrasaction="ignore")
            writer.writeheader()
            after = 0
            while True:
                rows = await run_in_threadpool(page, after)
                if not rows:
                    break
                for row in rows:
                    writer.writerow({k: csv_safe(v) for k, v in row.items()})
                after = rows[-1]["id"]
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
            yield buffer.getvalue()

        log.info("%s exported subscribers (%s)", login.username,
                 urlencode({"channel": channel, "state": state, "q": q}))
        stamp = datetime.now(self.tz).strftime("%Y%m%d-%H%M")
        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition":
            f'attachment; filename="subscribers-{channel or "all"}-{stamp}.csv"'})

    # -- routes ---------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        e = self.editor

        async def to_dashboard(request: Request) -> Response:
            return RedirectResponse("/dashboard/", 307)

        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", e(self.logout), methods=["POST"]),
            Route("/dashboard", to_dashboard, methods=["GET"]),
            Route("/dashboard/", e(self.articles), methods=["GET"]),
            Route("/dashboard/articles/{article_id:int}", e(self.article), methods=["GET"]),
            Route("/dashboard/articles/{article_id:int}/act", e(self.act), methods=["POST"]),
            Route("/dashboard/articles/{article_id:int}/digest", e(self.pick),
                  methods=["POST"]),
            Route("/dashboard/deliveries/{delivery_id:int}/retry", e(self.retry),
                  methods=["POST"]),
            Route("/dashboard/deliveries/{delivery_id:int}/resolve", e(self.resolve),
                  methods=["POST"]),
            Route("/dashboard/digests", e(self.digests), methods=["GET"]),
            Route("/dashboard/digests/{channel}/send", e(self.send_digest), methods=["POST"]),
            Route("/dashboard/subscribers", e(self.subscribers), methods=["GET"]),
            Route("/dashboard/subscribers.csv", e(self.subscribers_csv), methods=["GET"]),
        ]


def preview_of(channel: ChannelConfig, label: str, messages: list[dict[str, Any]]) -> Preview:
    """Messages as their platform shows them (see :mod:`distributor.web.previews`)."""
    first = messages[0] if messages else {}
    if "subject" in first and "html" in first:
        return Preview(channel.name, channel.type, "email", label, [
            {"subject": str(m.get("subject", "")),
             "html": str(m.get("html", "")).replace(RECIPIENT, SAMPLE_RECIPIENT)}
            for m in messages])
    if "method" in first or channel.type == "telegram":
        return Preview(channel.name, channel.type, "telegram", label, [
            {"html": telegram_html(str(m.get("caption") if m.get("method") == "sendPhoto"
                                       else m.get("text", ""))),
             "photo": str(m.get("photo")) if m.get("method") == "sendPhoto" and
             str(m.get("photo", "")).startswith("https://") else None}
            for m in messages])
    if channel.type == "x":
        return Preview(channel.name, channel.type, "x", label, [
            {"html": x_html(str(m.get("text", ""))), "weight": x_weight(str(m.get("text", ""))),
             "image": str(m.get("image")) if str(m.get("image", "")).startswith("https://")
             else None} for m in messages])
    return Preview(channel.name, channel.type, "text", label,
                   [{"text": message_text(m)} for m in messages])


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



