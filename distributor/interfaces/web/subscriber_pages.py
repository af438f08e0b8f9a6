"""Subscriber pages: subscribe (double opt-in), confirm, unsubscribe, and the bounce webhook.

- ``GET /subscribe`` (``?channel=NAME``) shows the form; ``POST /subscribe`` subscribes the
  address as pending and mails it a signed, expiring confirmation link. The answer is the same
  whether or not the address was known, so the form reveals nobody's subscription.
- ``GET /confirm/{token}`` shows a button; ``POST`` confirms. A GET never changes anything:
  mail scanners follow links.
- ``GET /unsubscribe/{token}`` shows a button; ``POST /unsubscribe/{token}`` unsubscribes at
  once and answers 200 with a page: RFC 8058 one-click (body ``List-Unsubscribe=One-Click``,
  no cookie, no login, never a redirect) and the page's own button alike.
- Abuse: a hidden honeypot field (robots fill it in, people do not see it); at most
  ``ADDRESS_LIMIT`` requests per address and channel an hour (more get the same answer and no
  mail) and ``CLIENT_LIMIT`` per client address in ten minutes (more get 429). The
  confirmation mail goes out after the answer, so neither the answer nor its timing tells
  whether the address was known.
- Pages speak Indonesian or English: ``?lang=id|en`` (kept by the form), else the browser's
  Accept-Language, else ``site.language``.
- ``POST /webhooks/bounce``: JSON ``{"email": ..., "kind": "hard"|"soft"|"complaint",
  "detail": ...}`` (or a list of them) from the mail provider, with
  ``Authorization: Bearer <bounce_secret>`` of an email channel.

No page sets a cookie or loads anything from elsewhere; tokens are in the path, so pages are
sent with ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from distributor.interfaces.web.bounce_webhook import BOUNCE_ITEMS as BOUNCE_ITEMS
from distributor.interfaces.web.bounce_webhook import bounce_webhook
from distributor.interfaces.web.lists import email_channels, public_name
from distributor.interfaces.web.ratelimit import KeyedLimiter
from distributor.ledger.subscribers import (
    CONFIRM_TTL,
    SubscriberError,
    add_subscriber,
    confirm_subscriber,
    normalize_email,
    secret_of,
    subscriber_for_confirm,
    subscriber_for_unsubscribe,
    unsubscribe,
)
from distributor.render.web_words import WebWords, supported_language, web_words

if TYPE_CHECKING:
    from distributor.runtime import Runtime

log = logging.getLogger("distributor.web")

#: subscribe requests per (channel, address) an hour; more get the same answer, no mail
ADDRESS_LIMIT = 3
#: subscribe requests per client address in ten minutes; more get 429
CLIENT_LIMIT = 20

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


class SubscriberPages:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.secret = secret_of(rt.config)
        self.words = web_words(rt.config.site.language)
        self.per_address = KeyedLimiter(ADDRESS_LIMIT, 3600.0)
        self.per_client = KeyedLimiter(CLIENT_LIMIT, 600.0)

    # -- helpers ----------------------------------------------------------------------------
    def language(self, request: Request, chosen: str | None = None) -> str:
        """``lang`` (query or form), else the browser's Accept-Language, else the site's."""
        for wanted in (chosen, request.query_params.get("lang")):
            found = supported_language(wanted)
            if found:
                return found
        for part in request.headers.get("accept-language", "").split(","):
            found = supported_language(part.split(";")[0].strip())
            if found:
                return found
        return supported_language(self.rt.config.site.language) or "en"

    def page(self, template: str, title: str, status: int = 200, *,
             words: WebWords | None = None, language: str | None = None,
             headers: dict[str, str] | None = None, **data: Any) -> HTMLResponse:
        html = self.rt.templates.render(  # type: ignore[attr-defined]
            f"web/{template}", site=self.rt.config.site, words=words or self.words,
            title=title, language=language or self.rt.config.site.language, **data)
        return HTMLResponse(html, status_code=status,
                            headers={**SECURITY_HEADERS, **(headers or {})})

    def message(self, title: str, text: str, status: int = 200, *, error: bool = False,
                link: str | None = None, link_text: str = "", **page: Any) -> HTMLResponse:
        return self.page("message.html", title, status, text=text, error=error, link=link,
                         link_text=link_text, **page)

    def invalid_link(self, request: Request) -> HTMLResponse:
        lang = self.language(request)
        words = web_words(lang)
        return self.message(words.link_invalid_title, words.link_invalid, 400, error=True,
                            words=words, language=lang)

    def shown(self, name: str) -> str:
        """The public name of the list ``name`` (its title), as readers see it."""
        found = next((c for c in self.rt.config.channels if c.name == name), None)
        return public_name(found) if found is not None else name

    def channel_named(self, name: str | None) -> Any | None:
        channels = email_channels(self.rt)
        if not name and len(channels) == 1:
            return channels[0]
        return next((c for c in channels if c.name == name), None)

    # -- subscribe --------------------------------------------------------------------------
    async def subscribe_form(self, request: Request) -> Response:
        lang = self.language(request)
        words = web_words(lang)
        channels = email_channels(self.rt)
        if not channels:
            return self.message(words.subscribe_title,
                                words.no_newsletter.format(site=self.rt.config.site.name), 404,
                                error=True, words=words, language=lang)
        wanted = [c.name for c in channels if c.name in request.query_params.getlist("channel")]
        return self.form(wanted or [channels[0].name], "", None, 200, lang)

    def form(self, chosen: list[str], email: str, error: str | None, status: int,
             lang: str) -> HTMLResponse:
        words = web_words(lang)
        lists = [{"name": c.name, "title": public_name(c),
                  "description": getattr(c, "description", None) or ""}
                 for c in email_channels(self.rt)]
        return self.page("subscribe.html", words.subscribe_title, status, words=words,
                         language=lang, lists=lists, chosen=chosen,
                         channel=chosen[0] if chosen else "",
                         email=email, error=error, action="/subscribe",
                         lang=lang, other_languages=[(code, name) for code, name in
                                                     (("id", "Bahasa Indonesia"),
                                                      ("en", "English")) if code != lang])

    async def subscribe(self, request: Request) -> Response:
        form = await request.form()
        lang = self.language(request, str(form.get("lang") or "") or None)
        words = web_words(lang)
        raw = str(form.get("email") or "")
        known = {c.name: c for c in email_channels(self.rt)}
        names = [str(v) for v in form.getlist("channel")][:20]
        if not known:
            return self.message(words.subscribe_title,
                                words.no_newsletter.format(site=self.rt.config.site.name), 404,
                                error=True, words=words, language=lang)
        if any(name not in known for name in names):
            return self.form([n for n in names if n in known], raw, words.unknown_newsletter,
                             400, lang)
        if not names:
            return self.form([], raw, words.choose_newsletter, 400, lang)
        chosen = list(dict.fromkeys(names))
        client = request.client.host if request.client is not None else "unknown"
        if not await self.per_client.hit(client):
            log.warning("subscribe: too many requests from %s", client)
            return self.message(words.too_many_title, words.too_many, 429, error=True,
                                words=words, language=lang,
                                headers={"Retry-After": str(self.per_client.retry_after())})
        try:
            address, key = normalize_email(raw)
        except SubscriberError as exc:
            return self.form(chosen, raw,
                             words.invalid_email.format(problem=_problem(exc)), 400, lang)
        done = self.message(words.check_inbox_title, words.check_inbox.format(email=address),
                            words=words, language=lang)
        if form.get("website"):  # the hidden field only robots fill in
            log.info("subscribe: honeypot filled in (from %s); ignored", client)
            return done
        mails = [task for name in chosen
                 if (task := await self._subscribe_one(name, address, key, client))]
        if mails:  # after the answer: its content and timing are the same for every address
            done.background = BackgroundTasks(mails)
        return done

    async def _subscribe_one(self, channel: str, address: str, key: str, client: str
                             ) -> BackgroundTask | None:
        """One list of a subscribe request; its confirmation mail to send, if one is due."""
        if not await self.per_address.hit(f"{channel}:{key}"):
            log.warning("subscribe: too many requests for one address on %s (from %s); "
                        "no mail", channel, client)
            return None  # the same answer: nobody learns anything about the address

        def add() -> tuple[int, bool] | None:
            with self.rt.store.session() as session:
                try:
                    result = add_subscriber(session, channel, address, source="web",
                                            detail="web form")
                except SubscriberError:
                    return None  # bounced or complained: say nothing different
                return result.subscriber.id, result.needs_confirmation

        added = await run_in_threadpool(add)
        if added is not None and added[1]:
            return BackgroundTask(self._send_confirmation, channel, added[0])
        return None

    async def _send_confirmation(self, channel: str, subscriber_id: int) -> None:
        from distributor.services.subscribers import send_confirmation_mails
        try:  # (the same service as `subscribers add`: a mail that did not go out is released)
            problems = (await send_confirmation_mails(self.rt, channel, [subscriber_id])).problems
        except Exception as exc:  # a missing web.secret_key: released, said in the log
            problems = [str(exc) or repr(exc)]
        if problems:
            log.error("confirmation mail to a web subscriber (id %s) failed: %s; a new "
                      "request from the form sends it again", subscriber_id, problems[0])

    # -- confirm ----------------------------------------------------------------------------
    async def confirm_page(self, request: Request) -> Response:
        return await self._confirm(request, act=False)

    async def confirm(self, request: Request) -> Response:
        return await self._confirm(request, act=True)

    async def _confirm(self, request: Request, *, act: bool) -> Response:
        token = request.path_params["token"]
        lang = self.language(request)
        words = web_words(lang)

        def work() -> tuple[str, str, str]:
            ttls = {c.name: c.confirm_ttl for c in email_channels(self.rt)}
            with self.rt.store.session() as session:
                row, why = subscriber_for_confirm(session, self.secret, token,
                                                  max(ttls.values(), default=CONFIRM_TTL))
                if row is not None and row.channel in ttls:  # the channel's own limit
                    row, why = subscriber_for_confirm(session, self.secret, token,
                                                      ttls[row.channel])
                if row is None:
                    return why, "", ""
                if row.state not in ("pending", "confirmed"):
                    return "invalid", "", ""
                if act:
                    confirm_subscriber(session, row, detail="confirmation link")
                return row.state, row.email, row.channel

        state, email, channel = await run_in_threadpool(work)
        if state == "expired":
            return self.message(words.link_invalid_title, words.confirm_expired, 400,
                                error=True, link="/subscribe", link_text=words.subscribe_title,
                                words=words, language=lang)
        if state == "invalid":
            return self.invalid_link(request)
        if state == "confirmed":
            return self.message(words.confirmed_title, words.confirmed.format(
                email=email, channel=self.shown(channel), site=self.rt.config.site.name),
                words=words, language=lang)
        return self.page("confirm.html", words.confirm_title, email=email,
                         channel=self.shown(channel), action=request.url.path, words=words,
                         language=lang)

    # -- unsubscribe ------------------------------------------------------------------------
    async def unsubscribe_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        lang = self.language(request)
        words = web_words(lang)

        def look() -> tuple[str, str, str] | None:
            with self.rt.store.session() as session:
                row = subscriber_for_unsubscribe(session, self.secret, token)
                return (row.state, row.email, row.channel) if row is not None else None

        found = await run_in_threadpool(look)
        if found is None:
            return self.invalid_link(request)
        state, email, channel = found
        if state not in ("pending", "confirmed"):
            return self.unsubscribed(request, email, channel)
        return self.page("unsubscribe.html", words.unsubscribe_title, email=email,
                         channel=self.shown(channel), action=request.url.path, words=words,
                         language=lang)

    async def unsubscribe(self, request: Request) -> Response:
        """RFC 8058 one-click (and the page's button): unsubscribe now, answer 200."""
        token = request.path_params["token"]
        body = await request.body()
        how = "one-click (RFC 8058)" if b"One-Click" in body else "unsubscribe link"

        def act() -> tuple[str, str] | None:
            with self.rt.store.session() as session:
                row = subscriber_for_unsubscribe(session, self.secret, token)
                if row is None:
                    return None
                unsubscribe(session, row, detail=how)
                return row.email, row.channel

        found = await run_in_threadpool(act)
        if found is None:
            return self.invalid_link(request)
        return self.unsubscribed(request, *found)

    def unsubscribed(self, request: Request, email: str, channel: str) -> HTMLResponse:
        lang = self.language(request)
        words = web_words(lang)
        return self.message(words.unsubscribed_title, words.unsubscribed.format(
            email=email, channel=self.shown(channel), site=self.rt.config.site.name),
            link="/subscribe?" + urlencode({"channel": channel, "lang": lang}),
            link_text=words.resubscribe, words=words, language=lang)


def _problem(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def subscriber_routes(rt: Runtime) -> list[BaseRoute]:
    pages = SubscriberPages(rt)
    return [
        Route("/subscribe", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", pages.confirm, methods=["POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["POST"]),
        Route("/webhooks/bounce", bounce_webhook(rt), methods=["POST"]),
    ]
