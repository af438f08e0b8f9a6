"""Email channel adapter: digests and single-article mails over SMTP (aiosmtplib).

A list channel (``audience = True``): the core hands it the channel's subscribers, runs and
send rows as ``ctx.audience`` (the plugin API's :class:`~distributor.plugin.Audience`), and
sending is a fan-out to every confirmed subscriber (:mod:`.fanout`):

- a digest: :meth:`EmailAdapter.send_digest` (the plugin API's digest protocol) runs the
  fan-out keyed ``digest:<digest id>`` (one send row per (digest, subscriber)); a batch of a
  distributed digest is the same call with an audience narrowed to a range of subscribers;
- a single-article mail of a ``publish: instant`` channel: the dispatcher calls
  :meth:`EmailAdapter.send` once per delivery; it runs the same fan-out keyed by the delivery
  (``delivery:<id>:<generation>``, a pseudo-digest), so a retry or a resumed delivery serves
  only the subscribers not yet served, and ``push --force`` starts a new generation. The
  remote id is ``fanout-run-<run id>``.

The package imports nothing of the core but :mod:`distributor.plugin`: :mod:`.config` (the
channel's keys), :mod:`.render` (the mails, rendered once), :mod:`.personal` and :mod:`.mime`
(one subscriber's mail, as bytes built once), :mod:`.smtp` (the client, the messenger, bounce
classification), :mod:`.fanout` (pacing, concurrency, progress), :mod:`.confirm` (the double
opt-in mail).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import json
import logging
from typing import TYPE_CHECKING, Any

from distributor.channels.email.config import EmailConfig, SmtpConfig
from distributor.plugin import (
    Adapter,
    Article,
    Audience,
    ChannelBusy,
    DigestContext,
    ListRun,
    Message,
    PermanentError,
    RenderContext,
    SendContext,
    TransientError,
)

if TYPE_CHECKING:
    from distributor.channels.email.progress import FanoutStats, Progress

log = logging.getLogger("distributor.channels.email")

__all__ = ["EmailAdapter", "EmailConfig", "SmtpConfig"]


class EmailAdapter(Adapter):
    type_name = "email"
    config_model = EmailConfig
    preview_style = "email"
    config: EmailConfig
    #: a list channel: the core gives it the audience (``ctx.audience``)
    audience = True

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.channels.email.render import render_article_email

        return render_article_email(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        from distributor.channels.email.render import render_digest_email

        return render_digest_email(articles, ctx)

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """The first mail as a real ``.eml`` (placeholders kept), the messages as JSON and
        the plain-text part as ``.txt``."""
        from distributor.channels.email.personal import build_mime

        if not messages:
            return super().outbox_files(messages)
        first = messages[0]
        mime = build_mime(first, sender=self.config.from_)
        return {
            ".eml": mime.as_bytes(policy=email.policy.default),
            ".json": json.dumps(messages, ensure_ascii=False, indent=2).encode("utf-8") + b"\n",
            ".txt": str(first.get("text") or "").encode("utf-8"),
        }

    # -- sending ----------------------------------------------------------------------------
    #: the audience of the last context, for :meth:`reconcile` (which has none)
    _audience: Audience | None = None

    def _audience_of(self, ctx: SendContext | DigestContext) -> Audience:
        if ctx.audience is None:
            raise PermanentError(
                "the core gave the email channel no audience (ctx.audience is None: a bug, "
                "the email channel declares audience = True); nothing was sent",
                pause_channel=True)
        self._audience = ctx.audience
        return ctx.audience

    def use_audience(self, audience: Audience) -> None:
        """Remember the audience for :meth:`reconcile` (the core calls it after a crash)."""
        self._audience = audience

    async def send_digest(self, messages: list[Message], ctx: DigestContext) -> str:
        """The digest protocol: the fan-out keyed ``digest:<id>`` (:mod:`.digest_protocol`).
        A distributed digest's batch comes the same way, with an audience of a range."""
        from distributor.channels.email.digest_protocol import send_digest
        from distributor.channels.email.fanout import FanoutBusy, FanoutError

        audience = self._audience_of(ctx)
        try:
            return await send_digest(lambda watch: self.fan_out_digest(
                audience, ctx.digest_id, messages, progress=watch), ctx)
        except FanoutBusy as exc:
            raise ChannelBusy(str(exc)) from None
        except FanoutError as exc:
            if exc.permanent:
                raise PermanentError(exc.message, pause_channel=True) from None
            raise TransientError(exc.message, retry_after=60) from None

    async def fan_out_digest(self, audience: Audience, digest_id: int, messages: list[Message],
                             *, progress: Progress | None = None) -> FanoutStats:
        """Send a digest to every confirmed subscriber; resumes a digest already begun."""
        from distributor.channels.email.progress import FanoutStats

        if not messages:
            return FanoutStats()
        run = await asyncio.to_thread(audience.open_run, f"digest:{digest_id}", messages[0],
                                      digest_id=digest_id)
        if run.state == "done":
            return FanoutStats(run_id=run.id, total=run.served, done_before=run.served)
        return await self._fan_out(audience, run, progress=progress)

    async def _fan_out(self, audience: Audience, run: ListRun, *,
                       progress: Progress | None = None) -> FanoutStats:
        from distributor.channels.email.fanout import Fanout

        return await Fanout(audience, self.config, run, progress=progress).run()

    async def send(self, message: Message, ctx: SendContext) -> str:
        """A single-article mail (``publish: instant``): the fan-out to every confirmed
        subscriber, keyed by the delivery the dispatcher is sending."""
        from distributor.channels.email.fanout import FanoutBusy, FanoutError
        from distributor.channels.email.mime import message_hash

        audience = self._audience_of(ctx)
        delivery_id = ctx.delivery_id
        if delivery_id is None:  # not from the dispatcher: one run per distinct mail
            key: str | None = f"message:{message_hash(message)}"
        else:
            key = await asyncio.to_thread(audience.delivery_run_key, delivery_id)
        if key is None:  # this delivery's mail went out already and no one forced it again
            assert delivery_id is not None
            last = await asyncio.to_thread(audience.last_run, delivery_id)
            return f"fanout-run-{last.id if last is not None else None}"
        run = await asyncio.to_thread(audience.open_run, key, message, delivery_id=delivery_id)
        try:
            stats = await self._fan_out(audience, run)
        except FanoutBusy as exc:
            raise TransientError(str(exc), retry_after=120, channel_wide=False) from None
        except FanoutError as exc:
            if exc.permanent:
                raise PermanentError(exc.message, pause_channel=True) from None
            raise TransientError(exc.message, retry_after=60) from None
        log.info("%s: single-article mail sent to %d subscribers (%d bounced, %d failed)",
                 self.config.name, stats.sent, stats.bounced, stats.failed)
        return f"fanout-run-{run.id}"

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """After a crash: the run's id when the mail reached every subscriber; else None
        (the delivery becomes unknown; `deliveries retry ID --force` resumes the run and
        serves only the subscribers it had not reached)."""
        if self._audience is None or not messages:
            return None
        run = await asyncio.to_thread(self._audience.finished_run, messages[0])
        return f"fanout-run-{run.id}" if run is not None else None

    async def check_online(self) -> str:
        from distributor.channels.email.smtp import describe_smtp_error, smtp_client

        smtp = self.config.smtp
        client = smtp_client(smtp)
        try:
            await client.connect()
        except Exception as exc:
            raise PermanentError(describe_smtp_error(exc, smtp)) from None
        finally:
            with contextlib.suppress(Exception):
                await client.quit()
        who = f", logged in as {smtp.username}" if smtp.username else ""
        return f"SMTP {smtp.host}:{smtp.port} ({smtp.security}){who}"

    async def send_test(self, messages: list[Message], address: str) -> str:
        """The mail exactly as a subscriber gets it, to one address, outside the ledger and
        the list: its subject starts with "[TEST]" and its unsubscribe link goes nowhere.
        Returns the Message-ID."""
        from distributor.channels.email.personal import build_mime
        from distributor.channels.email.smtp import describe_smtp_error, smtp_client

        if not messages:
            raise PermanentError("nothing to send: the digest has no article yet")
        message = dict(messages[0])
        message["subject"] = f"[TEST] {message.get('subject', '')}"
        mail = build_mime(message, sender=self.config.from_, to=address,
                          unsubscribe_token="test-mail")
        client = smtp_client(self.config.smtp)
        try:
            await client.connect()
            await client.send_message(mail)
        except Exception as exc:
            raise TransientError(describe_smtp_error(exc, self.config.smtp)) from None
        finally:
            with contextlib.suppress(Exception):
                await client.quit()
        return str(mail["Message-ID"])

    async def send_confirmations(self, subscriber_ids: list[int], audience: Audience,
                                 templates: Any) -> tuple[int, list[str]]:
        """Send the double opt-in mail to these (pending) subscribers over a small pool.
        Returns ``(sent, problems)``."""
        from distributor.channels.email.confirm import render_confirmation, send_confirmations

        if not subscriber_ids:
            return 0, []
        if self.site is None:
            raise PermanentError("the core set no site on the email channel (a bug)")
        self._audience = audience
        template = render_confirmation(self.site, self.config, templates)
        mails = await asyncio.to_thread(audience.pending_confirmations, subscriber_ids)
        sent, problems = await send_confirmations(
            self.config, template, [(m.id, m.address, m.url) for m in mails])
        await asyncio.to_thread(audience.confirmations_sent, sent)
        return len(sent), problems
