"""The dashboard's channels page: each channel's state (paused and why, waiting until when,
what waits for it) and resuming a paused one, with a confirmation; below, each source's state
(read when, failing and why, paused by its server until when). Every dashboard page shows a
banner while a channel is paused."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from distributor.interfaces.web import auth
from distributor.interfaces.web.dashboard_core import HEADERS, DashboardCore, _str
from distributor.plugin.desk import NotFound
from distributor.services.channels import resume, statuses
from distributor.services.sources import source_statuses

log = logging.getLogger("distributor.interfaces.web.dashboard")


class ChannelPages(DashboardCore):
    async def channels(self, request: Request, login: auth.Login, form: FormData | None
                       ) -> Response:
        found = await run_in_threadpool(statuses, self.rt)
        sources = await run_in_threadpool(source_statuses, self.rt)
        confirm = request.query_params.get("resume")
        return self.render("channels.html", title="Channels", login=login, nav="channels",
                           channels=found, sources=sources,
                           config_file=self.rt.config.path.name if self.rt.config.path else
                           "the configuration file",
                           confirm=confirm if any(c.name == confirm and c.state == "paused"
                                                  for c in found) else None)

    async def resume_channel(self, request: Request, login: auth.Login, form: FormData | None
                             ) -> Response:
        assert form is not None
        name = request.path_params["channel"]
        if _str(form.get("confirm")) != "yes":  # the first click asks
            return RedirectResponse(f"/dashboard/channels?resume={name}", 303, headers=HEADERS)
        try:
            resumed = await run_in_threadpool(
                lambda: resume(self.rt, name, by=login.username))
        except NotFound:
            return self.problem("No such channel", f"There is no channel {name!r}.", 404,
                                login)
        await self.flash(login, f"{name}: resumed; what waits for it goes out now, in order."
                         if resumed else f"{name} was not paused.")
        return RedirectResponse("/dashboard/channels", 303, headers=HEADERS)
