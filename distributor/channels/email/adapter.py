"""Email channel adapter: digests and single-article mails over SMTP (aiosmtplib).

Sending is a fan-out to every confirmed subscriber of the channel (:mod:`.fanout`):

- a digest: :meth:`EmailAdapter.send_digest` (the plugin API's digest protocol) runs the
  fan-out keyed ``digest:<digest id>`` (one send row per (digest, subscriber));
- a single-article mail of a ``publish: instant`` channel: the dispatcher calls
  :meth:`EmailAdapter.send` once per delivery; it runs the same fan-out keyed by the delivery
  (``delivery:<id>:<generation>``, a pseudo-digest), so a retry or a resumed delivery serves
  only the subscribers not yet served, and ``push --force`` starts a new generation. The
  remote id is ``fanout-run-<run id>``.

The adapter needs the runtime (store, secret key): :meth:`EmailAdapter.bind` gives it. The
runtime binds every adapter that has ``bind``; the digest and subscriber code bind it too.

The package: :mod:`.config` (the channel's keys), :mod:`.mime` (the mail as bytes, built
once), :mod:`.smtp` (the client, the messenger, bounce classification), :mod:`.fanout` (the
manager: pacing, concurrency, progress), :mod:`.runs` (all it reads and writes in the core's
tables: known debt), :mod:`.confirm` (the double opt-in mail).
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
    ChannelBusy,
    DigestContext,
    Message,
    PermanentError,
    RenderContext,
    SendContext,
    TransientError,
)

if TYPE_CHECKING:
    from distributor.channels.email.progress import FanoutStats, Progress
    from distributor.channels.email.runs import Runtime

log = logging.getLogger("distributor.channels.email")

__all__ = ["EmailAdapter", "EmailConfig", "SmtpConfig"]


class EmailAdapter(Adapter):
    type_name = "email"
    config_model = EmailConfig
    config: EmailConfig

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.email import render_article_email

        return render_article_email(article, ctx)

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        from distributor.render.email import render_digest_email

        return render_digest_email(articles, ctx)

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """The first mail as a real ``.eml`` (placeholders kept), the messages as JSON and
        the plain-text part as ``.txt``."""
        from distributor.render.email import build_mime

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
    _rt: Runtime | None = None

    def bind(self, rt: Runtime) -> None:
        """Give the adapter the runtime it sends with (store, secret key, owner)."""
        self._rt = rt

    def _runtime(self) -> Runtime:
        if self._rt is None:
            raise PermanentError(
                "the email adapter is not bound to a runtime (a bug: Runtime must call "
                "adapter.bind(rt)); nothing was sent", pause_channel=True)
        return self._rt

    async def send_digest(self, messages: list[Message], ctx: DigestContext) -> str:
        """The digest protocol: a shim over the fan-out (:mod:`.digest_protocol`)."""
        from distributor.channels.email.digest_protocol import send_digest
        from distributor.channels.email.fanout import FanoutBusy

        rt = self._runtime()
        try:
            return await send_digest(lambda watch: self.fan_out_digest(
                rt, ctx.digest_id, messages, progress=watch), ctx)
        except FanoutBusy as exc:
            raise ChannelBusy(str(exc)) from None

    async def fan_out_digest(self, rt: Runtime, digest_id: int, messages: list[Message], *,
                             progress: Progress | None = None) -> FanoutStats:
        """Send a digest to every confirmed subscriber; resumes a digest already begun."""
        from distributor.channels.email.progress import FanoutStats
        from distributor.channels.email.runs import open_run

        self.bind(rt)
        if not messages:
            return FanoutStats()
        run = await asyncio.to_thread(open_run, rt.store, self.config.name,
                                      f"digest:{digest_id}", messages[0], digest_id=digest_id)
        if run.state == "done":
            return FanoutStats(run_id=run.id, total=run.sent + run.bounced + run.failed,
                               done_before=run.sent + run.bounced + run.failed)
        return await self._fan_out(rt, run.id, progress=progress)

    async def _fan_out(self, rt: Runtime, run_id: int, *, progress: Progress | None = None,
                       heartbeat: Any = None) -> FanoutStats:
        from distributor.channels.email.fanout import Fanout
        from distributor.channels.email.runs import secret_of

        return await Fanout(rt.store, self.config, run_id, secret=secret_of(rt.config),
                            owner=rt.owner, progress=progress, heartbeat=heartbeat).run()

    async def send(self, message: Message, ctx: SendContext) -> str:
        """A single-article mail (``publish: instant``): the fan-out to every confirmed
        subscriber, keyed by the delivery the dispatcher is sending."""
        from distributor.channels.email.fanout import FanoutBusy, FanoutError
        from distributor.channels.email.runs import (
            MissingSecret,
            extend_delivery_lease,
            open_run,
            remote_id_of,
            run_key,
        )

        rt = self._runtime()
        try:
            delivery_id, key = await asyncio.to_thread(run_key, rt, self.config.name, message)
        except MissingSecret as exc:
            raise PermanentError(str(exc), pause_channel=True) from None
        if key is None:  # this delivery's mail went out already and no one forced it again
            assert delivery_id is not None
            return await asyncio.to_thread(remote_id_of, rt, self.config.name, delivery_id)
        run = await asyncio.to_thread(open_run, rt.store, self.config.name, key, message,
                                      delivery_id=delivery_id)

        def heartbeat() -> None:
            if delivery_id is not None:
                extend_delivery_lease(rt, delivery_id)

        try:
            stats = await self._fan_out(rt, run.id, heartbeat=heartbeat)
        except FanoutBusy as exc:
            raise TransientError(str(exc), retry_after=120, channel_wide=False) from None
        except MissingSecret as exc:
            raise PermanentError(str(exc), pause_channel=True) from None
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
        from distributor.channels.email.runs import finished_run_of

        if self._rt is None or not messages:
            return None
        return await asyncio.to_thread(finished_run_of, self._rt, self.config.name, messages[0])

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

    async def send_confirmations(self, rt: Runtime, subscriber_ids: list[int]) -> tuple[int,
                                                                                      list[str]]:
        """Send the double opt-in mail to these (pending) subscribers over a small pool.
        Returns ``(sent, problems)``."""
        from distributor.channels.email.confirm import render_confirmation, send_confirmations
        from distributor.channels.email.runs import (
            confirmations_sent,
            pending_confirmations,
            secret_of,
        )

        self.bind(rt)
        secret = secret_of(rt.config)
        if not subscriber_ids:
            return 0, []
        template = render_confirmation(rt.config.site, self.config, rt.templates)
        mails = await asyncio.to_thread(pending_confirmations, rt, subscriber_ids, secret)
        sent, problems = await send_confirmations(self.config, template, mails)
        await asyncio.to_thread(confirmations_sent, rt, sent)
        return len(sent), problems
