"""The dashboard's Retract and Correct buttons on an article page, each with a confirmation
step (a page that says what will happen on which channel, and a second button), through the
same service as ``distributor retract`` / ``distributor correct``
(:mod:`distributor.services.corrections`)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from distributor.interfaces.web import auth
from distributor.interfaces.web.dashboard_core import DashboardCore, _str
from distributor.interfaces.words import action_text
from distributor.plugin.desk import DeskError, NotFound
from distributor.store.models import ArticleRow, DeliveryAction

log = logging.getLogger("distributor.interfaces.web.dashboard")

#: how long the button waits for the platforms before the page shows where things stand
WAIT_SECONDS = 20.0
#: what the confirmation page says each action does, by channel kind
EFFECT = {
    "retract": {"digest": "leaves the next digest, or the next digest opens with a notice",
                "post": "its posts are deleted (or marked as retracted where the platform "
                        "will not delete them)"},
    "correct": {"digest": "the next digest opens with a correction notice",
                "post": "its posts are edited in place (X: a reply with the correction)"},
}


def actions_of(session: Any, article_id: int) -> dict[str, list[DeliveryAction]]:
    """Channel -> the article's retractions and corrections there, oldest first."""
    found: dict[str, list[DeliveryAction]] = {}
    for row in session.scalars(select(DeliveryAction).where(
            DeliveryAction.article_id == article_id).order_by(DeliveryAction.id)):
        found.setdefault(row.channel, []).append(row)
    return found


class CorrectionPages(DashboardCore):
    async def correction(self, request: Request, login: auth.Login, form: FormData | None
                         ) -> Response:
        assert form is not None
        article_id = int(request.path_params["article_id"])
        action = _str(form.get("action"))
        reason = " ".join(_str(form.get("reason")).split())[:500]
        note = " ".join(_str(form.get("note")).split())[:500]
        known = {c.name: c for c in self._channels()}
        chosen = [known[n] for n in dict.fromkeys(_str(v) for v in form.getlist("channel"))
                  if n in known]
        back = f"/dashboard/articles/{article_id}"
        if action not in ("retract", "correct"):
            return self.problem("Unknown action", "The form asked for an unknown action.",
                                400, login)
        if action == "retract" and not reason:
            await self.flash(login, "Say why the article is retracted: readers see the reason.")
            return RedirectResponse(back, 303)
        if not chosen:
            await self.flash(login, "Choose at least one channel.")
            return RedirectResponse(back, 303)

        def title() -> str | None:
            with self.rt.store.session() as session:
                row = session.get(ArticleRow, article_id)
                return row.title if row is not None else None

        headline = await run_in_threadpool(title)
        if headline is None:
            return self.problem("No such article", f"There is no article {article_id}.", 404,
                                login)
        if form.get("confirm") != "1":  # the confirmation step
            effects = [(c.name, EFFECT[action]["digest" if c.publish == "digest" else "post"])
                       for c in chosen]
            return self.render("confirm_correction.html",
                               title=f"{action.capitalize()}: {headline}", login=login,
                               nav="articles", action=action, article_id=article_id,
                               headline=headline, reason=reason, note=note, effects=effects)
        from distributor.services import corrections

        by = f"dashboard:{login.username}"
        names = [c.name for c in chosen]
        try:
            if action == "retract":
                outcomes = await corrections.retract(self.rt, article_id, names, reason=reason,
                                                     by=by, sender=self.sender,
                                                     wait=WAIT_SECONDS)
            else:
                outcomes = await corrections.correct(self.rt, article_id, names,
                                                     note=note or None, by=by,
                                                     sender=self.sender, wait=WAIT_SECONDS)
        except NotFound:
            return self.problem("No such article", f"There is no article {article_id}.", 404,
                                login)
        except DeskError as exc:
            await self.flash(login, str(exc))
            return RedirectResponse(back, 303)
        log.info("%s: %s article %s on %s", login.username, action, article_id,
                 ", ".join(names))
        lines = [action_text(o, when=self.local)[0] for o in outcomes]
        await self.flash(login, "\n".join(lines))
        return RedirectResponse(back, 303)
