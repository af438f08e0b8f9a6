"""The dashboard's article pages and the actions on articles and deliveries: push, schedule,
hold, digest picks, retry, resolve (through :mod:`distributor.services`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from distributor.interfaces.web import auth
from distributor.interfaces.web.dashboard_corrections import actions_of
from distributor.interfaces.words import pick_text, refusal_text
from distributor.plugin.desk import NotFound, PushKind, PushOutcome, Refused, RetryKind
from distributor.services import deliveries as desk
from distributor.services.channels import audience_sizes
from distributor.store.models import (
    ArticleRow,
    Delivery,
    DeliveryEvent,
    DigestPick,
)

if TYPE_CHECKING:
    from distributor.config import ChannelConfig


from distributor.clock import utcnow
from distributor.interfaces.web.dashboard_core import (
    PAGE_SIZE,
    REFRESH_SECONDS,
    STATES,
    DashboardCore,
    Preview,
    _safe_next,
    _str,
    preview_of,
)

log = logging.getLogger("distributor.interfaces.web.dashboard")


class ArticlePages(DashboardCore):
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
                            cells.append(self._cell(channel, d))
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
        paused = {c["name"] for c in self._paused_channels()}
        refresh = REFRESH_SECONDS if any(
            c["state"] in ("pending", "sending") and channel.name not in paused
            for i in data["items"] for c, channel in zip(i["cells"], data["channels"],
                                                           strict=False)) else None
        base = {"source": source, "state": state, "q": q}
        return self.render("articles.html", title="Articles", login=login, nav="articles",
                           refresh=refresh, source=source, state=state, q=q, page=page,
                           pages=pages, states=STATES, query=lambda **kw: urlencode(
                               {k: v for k, v in {**base, **kw}.items() if v}), **data)

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
                deliveries = {d.channel: d for d in row.deliveries}
                events = {d.id: list(session.scalars(
                    select(DeliveryEvent).where(DeliveryEvent.delivery_id == d.id)
                    .order_by(DeliveryEvent.id.desc()).limit(12))) for d in row.deliveries}
                picks = {p.channel: p for p in session.scalars(
                    select(DigestPick).where(DigestPick.article_id == article_id))}
                digested = self._digested(session, [article_id])
                actions = actions_of(session, article_id)
                art = from_row(row)
            channels = []
            previews = []
            now = utcnow()
            sizes = audience_sizes(self.rt)
            for channel in self._channels():
                d = deliveries.get(channel.name)
                entry: dict[str, Any] = {"config": channel, "delivery": d,
                                         "audience": sizes.get(channel.name),
                                         "cell": self._cell(channel, d) if d else None,
                                         "events": events.get(d.id, []) if d else [],
                                         "actions": actions.get(channel.name, [])}
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
        paused = {c["name"] for c in self._paused_channels()}
        busy = any(c["delivery"] is not None and c["cell"]["state"] in ("pending", "sending")
                   and c["config"].name not in paused for c in data["channels"])
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
            if at <= utcnow():
                await self.flash(login, f"{self.local(at)} has passed; choose a later time "
                                        "or push now.")
                return RedirectResponse(back, 303)
        if action in ("push", "schedule") and _str(form.get("confirm")) != "yes":
            sizes = await run_in_threadpool(audience_sizes, self.rt, [c.name for c in chosen])
            if sizes:  # a mailing list: say how many it reaches, and ask first
                return self.render(
                    "confirm_send.html", title="Send to subscribers?", login=login,
                    nav="articles", article_id=article_id, sizes=sizes, action=action,
                    article_title=await run_in_threadpool(self._title_of, article_id),
                    fields=[(k, _str(v)) for k, v in form.multi_items() if k != "csrf"])
        by = f"dashboard:{login.username}"

        def work() -> list[str]:
            if action == "hold":
                lines = []
                for channel in chosen:
                    try:
                        held = desk.hold(self.rt, article_id, channel.name, by=by)
                        lines.append(f"article {article_id} is held on {held.channel}")
                    except Refused as exc:
                        lines.append(f"{channel.name}: {refusal_text(exc)}")
                return lines
            outcomes = desk.request_push(self.rt, article_id, [c.name for c in chosen],
                                         by=by, force=force, at=at)
            queued.extend(o.delivery.id for o in outcomes if o.kind is PushKind.QUEUED)
            return [self._push_line(o) for o in outcomes]

        queued: list[int] = []
        try:
            lines = await run_in_threadpool(work)
        except NotFound as exc:
            return self.problem("No such article", f"no article {exc.key}", 404, login)
        log.info("%s: %s article %s on %s", login.username, action, article_id,
                 ", ".join(c.name for c in chosen))
        if queued:
            self.background(self.dispatch(queued), f"push-{article_id}")
        await self.flash(login, "\n".join(lines))
        return RedirectResponse(back, 303)

    def _check_url(self, channel: str, remote_id: str | None) -> str | None:
        adapter = self.rt.adapters.get(channel)
        if adapter is None:
            return None
        return (adapter.post_url(remote_id) if remote_id else None) or adapter.profile_url()

    def _title_of(self, article_id: int) -> str:
        with self.rt.store.session() as session:
            row = session.get(ArticleRow, article_id)
            return row.title if row is not None else f"article {article_id}"

    def _push_line(self, outcome: PushOutcome) -> str:
        name, d = outcome.channel, outcome.delivery
        if outcome.kind is PushKind.QUEUED and outcome.channel_paused:
            return (f"{name}: NOT sent: the channel is paused ({outcome.channel_paused}). "
                    "Fix it, then resume it on the Channels page; it goes out then")
        if outcome.kind is PushKind.QUEUED and outcome.channel_waits_until is not None:
            return (f"{name}: queued; the channel waits until "
                    f"{self.local(outcome.channel_waits_until)}")
        if outcome.kind is PushKind.QUEUED:
            return f"{name}: queued, sending now"
        if outcome.kind is PushKind.SCHEDULED:
            return (f"{name}: scheduled for {self.local(outcome.at)} "
                    f"({self.rt.config.site.timezone})")
        if outcome.kind is PushKind.ALREADY_SENT:
            return (f"{name}: already published {self.local(d.sent_at)}; tick “again” to post "
                    "it once more")
        if outcome.kind is PushKind.UNKNOWN:
            return (f"{name}: may already be published (state unknown); check the channel, "
                    "then resolve it below")
        return f"{name}: being sent right now"

    async def pick(self, request: Request, login: auth.Login, form: FormData | None
                   ) -> Response:
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
            if what == "clear":
                desk.unpick(self.rt, channel.name, article_id)
                return f"{channel.name}: the article follows the usual rule again"
            return pick_text(desk.pick(self.rt, channel.name, article_id,
                                       include=what == "add", by=f"dashboard:{login.username}"))

        try:
            text = await run_in_threadpool(work)
        except NotFound as exc:
            return self.problem("No such article", refusal_text(exc), 404, login)
        await self.flash(login, text)
        return RedirectResponse(_safe_next(_str(form.get("back")) or back), 303)

    # -- actions on a delivery ------------------------------------------------------------
    async def retry(self, request: Request, login: auth.Login, form: FormData | None
                    ) -> Response:
        assert form is not None
        delivery_id = int(request.path_params["delivery_id"])
        force = form.get("force") == "1"
        if force and _str(form.get("confirm")) != "yes":  # it may be out already: ask first
            try:
                d = await run_in_threadpool(desk.delivery, self.rt, delivery_id)
            except NotFound as exc:
                return self.problem("No such delivery", refusal_text(exc), 404, login)
            return self.render("confirm_resend.html", title="Post it again?", login=login,
                               nav="articles", d=d,
                               check=self._check_url(d.channel, d.remote_id))

        def work() -> tuple[int, str, bool]:
            article_id = desk.delivery(self.rt, delivery_id).article_id
            try:
                asked = desk.request_retry(self.rt, delivery_id, force=force)
            except Refused as exc:
                return article_id, refusal_text(exc), False
            again = "queued again" if asked.kind is RetryKind.QUEUED else "queued already"
            return article_id, f"delivery {delivery_id} ({asked.delivery.channel}) is {again}", True

        try:
            article_id, text, queued = await run_in_threadpool(work)
        except NotFound as exc:
            return self.problem("No such delivery", refusal_text(exc), 404, login)
        if queued:
            self.background(self.dispatch([delivery_id]), f"retry-{delivery_id}")
        await self.flash(login, text)
        return RedirectResponse(f"/dashboard/articles/{article_id}", 303)

    async def resolve(self, request: Request, login: auth.Login, form: FormData | None
                      ) -> Response:
        assert form is not None
        delivery_id = int(request.path_params["delivery_id"])
        outcome = _str(form.get("outcome"))
        remote_id = _str(form.get("remote_id")).strip()[:200] or None
        if outcome not in ("sent", "failed"):
            return self.problem("Unknown outcome", "Say sent or failed.", 400, login)

        def work() -> tuple[int, str]:
            article_id = desk.delivery(self.rt, delivery_id).article_id
            try:
                d = desk.resolve(self.rt, delivery_id, sent=outcome == "sent",
                                 remote_id=remote_id)
            except Refused as exc:
                return article_id, refusal_text(exc)
            return article_id, f"delivery {d.id} is now {d.state}"

        try:
            article_id, text = await run_in_threadpool(work)
        except NotFound as exc:
            return self.problem("No such delivery", refusal_text(exc), 404, login)
        log.info("%s resolved delivery %s as %s", login.username, delivery_id, outcome)
        await self.flash(login, text)
        return RedirectResponse(f"/dashboard/articles/{article_id}", 303)

