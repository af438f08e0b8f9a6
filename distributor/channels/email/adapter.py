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
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, field_validator

from distributor.articles import Article
from distributor.config import ChannelConfig, Duration, Seconds, SiteConfig, Strict, validate_cron
from distributor.plugin import (
    Adapter,
    ChannelBusy,
    DigestContext,
    PermanentError,
    SendContext,
    TransientError,
)
from distributor.render.context import Message, RenderContext

if TYPE_CHECKING:
    from distributor.channels.email.fanout import FanoutStats, Progress
    from distributor.runtime import Runtime

log = logging.getLogger("distributor.channels.email")


class SmtpConfig(Strict):
    host: str
    port: int = 587
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["none", "starttls", "tls"] = "starttls"
    timeout: Seconds = 30.0
    verify: bool = Field(default=True, description="check the server's TLS certificate")
    ca_file: Path | None = Field(default=None, description="CA bundle for a private server")
    local_hostname: str | None = Field(default=None, description="the name said in EHLO")
    max_messages_per_connection: int | None = Field(
        default=None, ge=1, description="reconnect after this many messages (some servers "
        "limit it)")


class EmailConfig(ChannelConfig):
    type: Literal["email"] = "email"
    from_: str = Field(alias="from")
    smtp: SmtpConfig
    schedule: str | None = Field(default=None, description="cron, in site.timezone (digests)")
    subject: str | None = None
    min_articles: int = Field(default=1, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    rate: float | None = Field(default=None, description="most messages a second")
    reply_to: str | None = None
    return_path: str | None = Field(
        default=None, description="envelope sender (where bounces go); default: the From "
        "address")
    retry_delays: list[Duration] = Field(
        default_factory=lambda: [timedelta(minutes=1), timedelta(minutes=5)],
        description="a recipient answered with a 4xx is tried again after each of these; "
        "then it counts as failed for this mail")
    confirm_ttl: Duration = Field(default=timedelta(days=7),
                                  description="how long a confirmation link works")
    unsubscribe_mailto: str | None = Field(
        default=None, description="an address for List-Unsubscribe by mail, besides the https "
        "link (mail to it with the subject 'unsubscribe TOKEN' is for you to process)")
    max_cards: int = Field(default=30, ge=1, le=200,
                           description="most article cards in one digest; the rest are linked "
                           "to the site (the HTML also stays under Gmail's 102 KB clip)")
    bounce_secret: SecretStr | None = Field(
        default=None, description="shared secret of POST /webhooks/bounce (Authorization: "
        "Bearer SECRET)")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return validate_cron(value) if value is not None else None

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be more than zero messages a second (or leave it out)")
        return value

    def check_with_site(self, site: SiteConfig) -> Iterator[tuple[tuple[Any, ...], str]]:
        if self.publish == "digest" and not self.schedule:
            yield ("publish",), ('a digest channel needs schedule: (a cron such as "0 6 * * *", '
                                 "in site.timezone)")


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
        from distributor.channels.email.fanout import FanoutStats, open_run

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
        from distributor.ledger.subscribers import secret_of

        return await Fanout(rt.store, self.config, run_id, secret=secret_of(rt.config),
                            owner=rt.owner, progress=progress, heartbeat=heartbeat).run()

    async def send(self, message: Message, ctx: SendContext) -> str:
        """A single-article mail (``publish: instant``): the fan-out to every confirmed
        subscriber, keyed by the delivery the dispatcher is sending."""
        from distributor.channels.email.fanout import FanoutBusy, FanoutError, open_run
        from distributor.ledger.subscribers import MissingSecret

        rt = self._runtime()
        try:
            delivery_id, key = await asyncio.to_thread(self._run_key, rt, message)
        except MissingSecret as exc:
            raise PermanentError(str(exc), pause_channel=True) from None
        if key is None:  # this delivery's mail went out already and no one forced it again
            assert delivery_id is not None
            return await asyncio.to_thread(self._remote_id_of, rt, delivery_id)
        run = await asyncio.to_thread(open_run, rt.store, self.config.name, key, message,
                                      delivery_id=delivery_id)

        def heartbeat() -> None:
            if delivery_id is not None:
                _extend_delivery_lease(rt, delivery_id)

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

    def _run_key(self, rt: Runtime, message: Message) -> tuple[int | None, str | None]:
        """``(delivery id, run key)``; the key is None when the delivery's last run is done
        and no one asked (``--force``) to send it again since."""
        from sqlalchemy import select

        from distributor.channels.email.fanout import message_hash
        from distributor.ledger.subscribers import secret_of
        from distributor.store.models import Delivery, DeliveryEvent, FanoutRun

        secret_of(rt.config)
        with rt.store.session() as session:
            delivery_id = session.scalar(select(Delivery.id).where(
                Delivery.channel == self.config.name, Delivery.state == "sending",
                Delivery.lease_owner == rt.owner).order_by(Delivery.id.desc()).limit(1))
            if delivery_id is None:  # not from the dispatcher: one run per distinct mail
                return None, f"message:{message_hash(message)}"
            runs = list(session.scalars(select(FanoutRun).where(
                FanoutRun.channel == self.config.name, FanoutRun.delivery_id == delivery_id)
                .order_by(FanoutRun.id)))
            if not runs:
                return delivery_id, f"delivery:{delivery_id}:1"
            last = runs[-1]
            if last.state != "done":
                return delivery_id, last.key
            forced = session.scalar(select(DeliveryEvent.id).where(
                DeliveryEvent.delivery_id == delivery_id, DeliveryEvent.state == "pending",
                DeliveryEvent.detail.like("%(forced)%"),
                DeliveryEvent.at > (last.finished_at or last.updated_at)).limit(1))
            if forced is None:
                return delivery_id, None
            return delivery_id, f"delivery:{delivery_id}:{len(runs) + 1}"

    def _remote_id_of(self, rt: Runtime, delivery_id: int) -> str:
        from sqlalchemy import select

        from distributor.store.models import FanoutRun

        with rt.store.session() as session:
            run_id = session.scalar(select(FanoutRun.id).where(
                FanoutRun.channel == self.config.name, FanoutRun.delivery_id == delivery_id)
                .order_by(FanoutRun.id.desc()).limit(1))
        return f"fanout-run-{run_id}"

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """After a crash: the run's id when the mail reached every subscriber; else None
        (the delivery becomes unknown; `deliveries retry ID --force` resumes the run and
        serves only the subscribers it had not reached)."""
        from sqlalchemy import select

        from distributor.channels.email.fanout import message_hash
        from distributor.store.models import FanoutRun

        if self._rt is None or not messages:
            return None
        rt = self._rt
        digest = message_hash(messages[0])

        def find() -> str | None:
            with rt.store.session() as session:
                run = session.scalar(select(FanoutRun).where(
                    FanoutRun.channel == self.config.name, FanoutRun.message_hash == digest)
                    .order_by(FanoutRun.id.desc()).limit(1))
                return f"fanout-run-{run.id}" if run is not None and run.state == "done" \
                    else None

        return await asyncio.to_thread(find)

    async def check_online(self) -> str:
        from distributor.channels.email.fanout import describe_smtp_error, smtp_client

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
        from distributor.ledger.subscribers import (
            confirm_token,
            confirm_url,
            mark_confirmation_sent,
            personalize_confirmation,
            render_confirmation,
            secret_of,
        )

        self.bind(rt)
        secret = secret_of(rt.config)
        if not subscriber_ids:
            return 0, []
        template = render_confirmation(rt.config, self.config, rt.templates)
        base = rt.config.web.base_url
        queue: asyncio.Queue[int] = asyncio.Queue()
        for sid in subscriber_ids:
            queue.put_nowait(sid)
        sent: list[int] = []
        problems: list[str] = []

        async def worker() -> None:
            from sqlalchemy import select

            from distributor.channels.email.fanout import (
                SMTP_POLICY,
                address_of,
                describe_smtp_error,
                smtp_client,
            )
            from distributor.render.email import build_mime
            from distributor.store.models import Subscriber

            client = None
            try:
                while not queue.empty():
                    sid = queue.get_nowait()
                    with rt.store.session() as session:
                        row = session.scalar(select(Subscriber).where(Subscriber.id == sid))
                        if row is None or row.state != "pending":
                            continue
                        address, key = row.email, row.token_key
                    url = confirm_url(base, confirm_token(secret, sid, key))
                    mail = build_mime(personalize_confirmation(template, recipient=address,
                                                               url=url),
                                      sender=self.config.from_, to=address)
                    data = mail.as_bytes(policy=SMTP_POLICY.clone(utf8=not address.isascii()))
                    try:
                        if client is None:
                            client = smtp_client(self.config.smtp)
                            await client.connect()
                        await client.sendmail(
                            self.config.return_path or address_of(self.config.from_),
                            [address], data,
                            mail_options=[] if address.isascii() else ["SMTPUTF8"])
                        sent.append(sid)
                    except Exception as exc:
                        problems.append(f"{address}: {describe_smtp_error(exc, self.config.smtp)}")
                        if client is not None:
                            with contextlib.suppress(Exception):
                                client.close()
                        client = None
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.quit()

        await asyncio.gather(*(worker() for _ in range(min(self.config.concurrency,
                                                            len(subscriber_ids)))))
        await asyncio.to_thread(mark_confirmation_sent, rt.store, sent)
        return len(sent), problems


def _extend_delivery_lease(rt: Runtime, delivery_id: int) -> None:
    """Keep the dispatcher's lease on an instant delivery alive while its fan-out runs."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from distributor.store.models import Delivery

    with rt.store.session() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id,
                                               Delivery.lease_owner == rt.owner)
                        .values(lease_until=datetime.now(UTC) + timedelta(minutes=5)))

