"""The web side of ``distributor serve``: an ASGI app (Starlette).

:func:`create_app` builds it from a :class:`~distributor.runtime.Runtime`. Route groups are
plain lists of Starlette routes, so the editor dashboard adds its own list here beside the
subscriber pages (:mod:`distributor.web.subscriber_pages`) and the health check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from distributor.runtime import Runtime

__all__ = ["create_app"]


def create_app(rt: Runtime) -> Starlette:
    """The app: subscriber pages, the bounce webhook and ``GET /healthz``.

    Raises :class:`~distributor.subscribers.MissingSecret` when ``web.secret_key`` is not set
    (every link the pages check is signed with it).
    """
    from distributor.digest import bind_adapters
    from distributor.subscribers import secret_of
    from distributor.web.subscriber_pages import subscriber_routes

    secret_of(rt.config)
    bind_adapters(rt)
    routes: list[BaseRoute] = [Route("/healthz", _healthz(rt), methods=["GET"])]
    routes.extend(subscriber_routes(rt))
    app = Starlette(routes=routes)
    app.state.runtime = rt
    return app


def _healthz(rt: Runtime) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def healthz(request: Request) -> JSONResponse:
        from sqlalchemy import text

        def ping() -> None:
            with rt.store.session() as session:
                session.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception as exc:  # the database is down: say so, with the reason
            return JSONResponse({"status": "error", "database": str(exc)[:300]},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return healthz
