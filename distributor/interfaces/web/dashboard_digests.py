"""The dashboard's digest and subscriber pages."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from distributor.interfaces.web import auth
from distributor.interfaces.web.queries import running_digests
from distributor.plugin import is_list_channel
from distributor.registry import get_adapter_class
from distributor.store.models import (
    ArticleRow,
    Digest,
    DigestPick,
    Subscriber,
)

if TYPE_CHECKING:
    from distributor.config import ChannelConfig


from distributor.clock import utcnow
from distributor.interfaces.web.dashboard_core import (
    HEADERS,
    REFRESH_SECONDS,
    SUBSCRIBER_STATES,
    DashboardCore,
    Preview,
    _str,
    preview_of,
)
from distributor.interfaces.words import refusal_text, schedule_text
from distributor.plugin import ChannelError, TestSending
from distributor.plugin.desk import NotFound
from distributor.services import deliveries as desk
from distributor.services.channels import send_digest_test

log = logging.getLogger("distributor.interfaces.web.dashboard")


def _unknown_digests(session: Session, recent: list[Digest],
                     picks: list[DigestPick]) -> list[dict[str, Any]]:
    """The recent digests whose outcome is unknown (no answer came): their articles, each with
    whether an editor has put it back into the next digest since."""
    out = []
    for digest in (d for d in recent if d.state == "unknown"):
        ids = list(digest.article_ids or [])
        titles = dict(session.execute(select(ArticleRow.id, ArticleRow.title).where(
            ArticleRow.id.in_(ids))).all()) if ids else {}
        back = {p.article_id for p in picks if p.include and p.created_at >= digest.created_at}
        out.append({"digest": digest, "articles": [
            {"id": i, "title": titles.get(i, f"article {i}"), "back": i in back} for i in ids]})
    return out


def attachment(name: str) -> str:
    """A Content-Disposition for a download named ``name`` (RFC 6266): an ASCII fallback of
    safe characters, and the exact name in UTF-8 (RFC 8187) when they differ."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "download"
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


class DigestPages(DashboardCore):
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
            now = utcnow()
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
                    entry["unknown"] = _unknown_digests(session, entry["recent"], picks)
                    entry["subscribers"] = int(session.scalar(
                        select(func.count()).select_from(Subscriber).where(
                            Subscriber.channel == channel.name,
                            Subscriber.state == "confirmed")) or 0)
                plan = plan_digest(self.rt, channel, until=now, period="preview")
                entry["plan"] = plan
                entry["can_test"] = isinstance(self.rt.adapters.get(channel.name), TestSending)
                cron = getattr(channel, "schedule", None)
                entry["schedule"] = schedule_text(cron, self.tz, now) if cron else None
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
                           refresh=REFRESH_SECONDS if busy else None, channels=channels,
                           zone=utcnow().astimezone(self.tz).strftime("%Z"),
                           confirm=request.query_params.get("confirm"))

    async def send_test(self, request: Request, login: auth.Login, form: FormData | None
                        ) -> Response:
        """"Send a test to me": the next digest as it stands, to the editor's address only."""
        assert form is not None
        name = request.path_params["channel"]
        address = _str(form.get("address")).strip()[:320]
        try:
            await send_digest_test(self.rt, name, address)
            text = f"{name}: a test of the next digest went to {address} (nobody else)"
        except NotFound as exc:
            text = refusal_text(exc)
        except ValueError as exc:
            text = f"{name}: no test sent: {exc}"
        except ChannelError as exc:
            text = f"{name}: the test could not be sent: {exc.message}"
        log.info("%s: %s", login.username, text)
        await self.flash(login, text)
        return RedirectResponse("/dashboard/digests", 303, headers=HEADERS)

    async def move(self, request: Request, login: auth.Login, form: FormData | None
                   ) -> Response:
        """↑ / ↓ on the next digest's list: the editors' order holds until it is sent."""
        assert form is not None
        name = request.path_params["channel"]
        if not any(c.name == name for c in self._digest_channels()):
            return self.problem("No such digest channel", f"{name} sends no digests.", 404,
                                login)
        try:
            article_id, step = int(_str(form.get("article"))), int(_str(form.get("step")))
        except ValueError:
            return self.problem("Bad request", "Say which article and which way.", 400, login)
        try:
            text = await run_in_threadpool(lambda: desk.move(
                self.rt, name, article_id, max(-50, min(50, step)),
                by=f"dashboard:{login.username}"))
        except NotFound as exc:
            text = refusal_text(exc)
        await self.flash(login, text)
        return RedirectResponse("/dashboard/digests", 303, headers=HEADERS)

    async def send_digest(self, request: Request, login: auth.Login, form: FormData | None
                          ) -> Response:
        from distributor.engine.digests import run_digest

        name = request.path_params["channel"]
        channel = next((c for c in self._digest_channels() if c.name == name), None)
        if channel is None:
            return self.problem("No such digest channel", f"{name} sends no digests.", 404,
                                login)
        if form is not None and _str(form.get("confirm")) != "yes":  # ask first
            return RedirectResponse(f"/dashboard/digests?confirm={name}", 303, headers=HEADERS)

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
            names = sorted({c.name for c in self.rt.config.channels
                            if is_list_channel(get_adapter_class(c.type))} | set(totals))
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
            attachment(f"subscribers-{channel or 'all'}-{stamp}.csv")})

