"""The editor dashboard: ``/login``, ``/logout`` and everything under ``/dashboard/``.

Every page needs a login (else a redirect to ``/login``); every POST needs the session's CSRF
token (else 403). Actions call the same services as the command line and the editor bot
(:mod:`distributor.services.deliveries`: push, schedule, hold, retry, resolve, digest picks) and
show their typed outcomes; what they queue is sent in the background (embedded mode: in this
process; distributed mode: by the workers). The pages live in :mod:`.dashboard_articles` and
:mod:`.dashboard_digests`, what they share in :mod:`.dashboard_core`.

One small script of ours (``live.js``, no inline script): while something is in flight, the
state cells of a page update themselves every few seconds; a form being edited is never reset
and nothing reloads the page.
"""

from __future__ import annotations

import logging
import math
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from distributor.interfaces.web import auth
from distributor.interfaces.web.dashboard_articles import ArticlePages
from distributor.interfaces.web.dashboard_channels import ChannelPages
from distributor.interfaces.web.dashboard_core import (
    HEADERS,
    Preview,
    _safe_next,
    _str,
    preview_of,
)
from distributor.interfaces.web.dashboard_corrections import CorrectionPages
from distributor.interfaces.web.dashboard_digests import DigestPages
from distributor.ledger.subscribers import secret_of
from distributor.render.templates import builtin_templates_dir

log = logging.getLogger("distributor.interfaces.web.dashboard")


class Dashboard(ArticlePages, DigestPages, ChannelPages, CorrectionPages):
    """The editor dashboard: its pages, actions and routes."""

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
        secret = secret_of(self.rt.config)
        known = auth.known_device(secret, username, request.cookies.get(auth.DEVICE_COOKIE))
        wait = self.limits.wait(username, client, known)
        if wait > 0:
            log.warning("login for %r from %s refused: too many failed attempts",
                        username, client)
            return self._login_page(
                request, f"Too many failed attempts. Try again in {_duration(wait)}.", 429,
                username, headers={"Retry-After": str(math.ceil(wait))})

        def check() -> str | None:
            with self.rt.store.session() as session:
                editor = auth.authenticate(session, username, password)
                if editor is None:
                    return None
                return auth.open_session(session, editor)

        value = await run_in_threadpool(check)
        if value is None:
            self.limits.failed(username, client, known)
            log.warning("failed login for %r from %s", username, client)
            return self._login_page(request, "Wrong user name or password.", 401, username)
        self.limits.succeeded(username, client)
        log.info("editor %s logged in from %s", username.lower(), client)
        response = RedirectResponse(_safe_next(_str(form.get("next"))), 303, headers=HEADERS)
        response.set_cookie(auth.SESSION_COOKIE, value, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
        response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
        if not known:
            response.set_cookie(auth.DEVICE_COOKIE, auth.device_cookie(secret, username.lower()),
                                max_age=auth.DEVICE_MAX_AGE, httponly=True, samesite="lax",
                                secure=self.secure, path="/login")
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

    # -- routes ---------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        e = self.editor

        async def to_dashboard(request: Request) -> Response:
            return RedirectResponse("/dashboard/", 307)

        script = (builtin_templates_dir() / "web" / "dashboard" / "live.js").read_bytes()

        async def live_js(request: Request) -> Response:
            return Response(script, media_type="text/javascript",
                            headers={**HEADERS, "Cache-Control": "public, max-age=3600"})

        return [
            Route("/dashboard/live.js", live_js, methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", e(self.logout), methods=["POST"]),
            Route("/dashboard", to_dashboard, methods=["GET"]),
            Route("/dashboard/", e(self.articles), methods=["GET"]),
            Route("/dashboard/articles/{article_id:int}", e(self.article), methods=["GET"]),
            Route("/dashboard/articles/{article_id:int}/act", e(self.act), methods=["POST"]),
            Route("/dashboard/articles/{article_id:int}/correction", e(self.correction),
                  methods=["POST"]),
            Route("/dashboard/articles/{article_id:int}/digest", e(self.pick),
                  methods=["POST"]),
            Route("/dashboard/deliveries/{delivery_id:int}/retry", e(self.retry),
                  methods=["POST"]),
            Route("/dashboard/deliveries/{delivery_id:int}/resolve", e(self.resolve),
                  methods=["POST"]),
            Route("/dashboard/digests", e(self.digests), methods=["GET"]),
            Route("/dashboard/digests/{channel}/send", e(self.send_digest), methods=["POST"]),
            Route("/dashboard/digests/{channel}/move", e(self.move), methods=["POST"]),
            Route("/dashboard/digests/{channel}/test", e(self.send_test), methods=["POST"]),
            Route("/dashboard/subscribers", e(self.subscribers), methods=["GET"]),
            Route("/dashboard/subscribers.csv", e(self.subscribers_csv), methods=["GET"]),
            Route("/dashboard/channels", e(self.channels), methods=["GET"]),
            Route("/dashboard/channels/{channel}/resume", e(self.resume_channel),
                  methods=["POST"]),
        ]



def _duration(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


__all__ = ["Dashboard", "Preview", "preview_of"]
