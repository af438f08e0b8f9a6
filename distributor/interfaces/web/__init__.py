"""The web side of ``distributor serve``: an ASGI app (Starlette).

:func:`create_app` builds it from a :class:`~distributor.runtime.Runtime`. Route groups are
plain lists of Starlette routes: the subscriber pages (:mod:`.subscriber_pages`), the editor
dashboard (:mod:`.dashboard`), ``/metrics`` (:mod:`.metrics`) and the health check.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, PendingRollbackError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from distributor.runtime import Runtime

__all__ = ["create_app"]

log = logging.getLogger("distributor.web")


def create_app(rt: Runtime) -> Starlette:
    """The app: subscriber pages, the bounce webhook, the editor dashboard, ``GET /metrics``
    and ``GET /healthz``.

    Raises :class:`~distributor.ledger.subscribers.MissingSecret` when ``web.secret_key`` is not set
    (every link the pages check is signed with it).
    """
    from distributor.engine.digests import bind_adapters
    from distributor.interfaces.web.dashboard import Dashboard
    from distributor.interfaces.web.editor_webhooks import webhook_routes
    from distributor.interfaces.web.guards import GuardedApp
    from distributor.interfaces.web.metrics import metrics_endpoint
    from distributor.interfaces.web.subscriber_pages import subscriber_routes
    from distributor.ledger.subscribers import secret_of
    from distributor.logs import add_secret_paths
    from distributor.services.editors import editor_webhooks

    secret_of(rt.config)
    bind_adapters(rt)
    dashboard = Dashboard(rt)
    webhooks = editor_webhooks(rt, dashboard.sender)  # editor bots with editor_bot: webhook

    async def home(request: Request) -> Response:
        return RedirectResponse("/dashboard/", 307)

    routes: list[BaseRoute] = [Route("/healthz", _healthz(rt), methods=["GET"]),
                               Route("/metrics", metrics_endpoint(rt), methods=["GET"]),
                               Route("/", home, methods=["GET"])]
    routes.extend(subscriber_routes(rt))
    routes.extend(dashboard.routes())
    routes.extend(webhook_routes(webhooks))  # POST /telegram/{path}; none without such bots

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with webhooks.running():  # starts the bots and calls setWebhook
            yield
        await dashboard.stop()  # sends in flight finish (30 s at most)

    web = rt.config.web
    if webhooks.active:  # the webhook's secret path never reaches a log line
        add_secret_paths([webhooks.prefix])
    app = GuardedApp(routes=routes, lifespan=lifespan, max_body=web.max_body,
                     exception_handlers=dict.fromkeys((DBAPIError, PendingRollbackError),
                                                      _store_unavailable(rt)),
                     trusted_proxies=web.trusted_proxies,
                     webhooks=["/webhooks/", *([webhooks.prefix] if webhooks.active else [])])
    app.state.runtime = rt
    app.state.dashboard = dashboard
    app.state.editor_webhooks = webhooks
    return app


def _healthz(rt: Runtime) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def healthz(request: Request) -> JSONResponse:
        from sqlalchemy import text

        from distributor.store.db import store_problem

        def ping() -> int:
            """The store answers; how many channels are paused."""
            with rt.store.session() as session:
                session.execute(text("SELECT 1"))
                return int(session.scalar(text(
                    "SELECT count(*) FROM channel_state WHERE paused_reason IS NOT NULL")) or 0)

        try:
            paused = await run_in_threadpool(ping)
        except Exception as exc:  # the database is down: 503; the reason only in the log
            log.error("healthz: the store does not answer: %s",
                      store_problem(exc, rt.config.database, rt.config.where("database")))
            return JSONResponse({"status": "unavailable"}, status_code=503,
                                headers={"Cache-Control": "no-store"})
        # serving, but a channel sends nothing until an editor resumes it: say so (the
        # names only on the dashboard and in /metrics)
        return JSONResponse({"status": "degraded" if paused else "ok"},
                            headers={"Cache-Control": "no-store"})

    return healthz


#: seconds a client is asked to wait when the store does not answer
RETRY_AFTER = "30"


def _store_unavailable(rt: Runtime) -> Callable[[Request, Exception], Awaitable[Response]]:
    """A page that needs the store while it does not answer (gone, or not yet there at
    start): 503, a short page in the site's language (JSON for clients that want no HTML),
    the reason in one log line only; the next request tries the store again."""

    async def unavailable(request: Request, exc: Exception) -> Response:
        from distributor.interfaces.web.subscriber_pages import SECURITY_HEADERS
        from distributor.render.web_words import web_words
        from distributor.store.db import store_problem

        log.error("%s %s answered 503, the store does not answer: %s", request.method,
                  request.url.path, store_problem(exc, rt.config.database,
                                                    rt.config.where("database")))
        headers = {**SECURITY_HEADERS, "Retry-After": RETRY_AFTER}
        if "html" not in request.headers.get("accept", ""):
            return JSONResponse({"status": "unavailable"}, status_code=503, headers=headers)
        site = rt.config.site
        words = web_words(site.language)
        html = rt.templates.render(  # type: ignore[attr-defined]
            "web/message.html", site=site, words=words, title=words.unavailable_title,
            language=site.language, text=words.unavailable.format(site=site.name),
            error=True, link=None, link_text="")
        return HTMLResponse(html, status_code=503, headers=headers)

    return unavailable
