"""The audience of a list channel: the core's subscribers, runs and send rows, offered to a
channel that mails (or otherwise sends) one message to every subscriber of its list.

The split is Listmonk's: the core is the manager (it owns the subscribers, the runs, the send
rows and their counts, the leases that keep a second process off a run); the channel is the
messenger (it renders, paces and sends, and says what the server answered). A channel declares
that it is a list channel with the class attribute ``audience = True``; the core then hands it
an :class:`Audience` as ``ctx.audience`` (on :class:`~distributor.plugin.SendContext` and
:class:`~distributor.plugin.DigestContext`; None for other channels), and as an argument of
:meth:`ListChannel.send_confirmations`.

A **run** is one message to every confirmed subscriber of the channel, named by a key the
channel chooses (``digest:<id>``, ``delivery:<id>:<generation>``). Its recipients come in id
order, a page at a time, without those it has served already, so a resumed run goes on where
the last one stopped. A result is recorded after the server's final answer, never before:
after a crash only the messages in flight may go out again. A recipient the server asked to try
later (a 4xx) is not recorded: it stays unserved until its retry is answered.

The methods are blocking database calls: call them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from distributor.render.context import Message


@dataclass(frozen=True)
class ListRun:
    """One message to every confirmed subscriber: its id, its key, the message it was opened
    with (a resumed run sends exactly the same), a random ``nonce`` (for Message-IDs), its
    state (``sending``, ``done``) and its counts."""

    id: int
    key: str
    message: Message
    nonce: str
    state: str = "sending"
    sent: int = 0
    bounced: int = 0
    failed: int = 0

    @property
    def served(self) -> int:
        return self.sent + self.bounced + self.failed


@dataclass(frozen=True)
class Recipient:
    """A subscriber a run still has to serve: its id, its address and the signed token of its
    unsubscribe link (the link is ``<web.base_url>/unsubscribe/<token>``)."""

    id: int
    address: str
    unsubscribe_token: str


@dataclass(frozen=True)
class RecipientResult:
    """The server's final answer for one recipient: ``sent``; ``bounced`` (with ``bounce``:
    ``hard`` or ``soft``, also recorded on the subscriber); or ``failed`` (e.g. a 4xx after
    the last retry). ``detail``: what the server said."""

    recipient: Recipient
    state: Literal["sent", "bounced", "failed"]
    detail: str | None = None
    bounce: Literal["hard", "soft"] | None = None


@dataclass(frozen=True)
class Confirmation:
    """A pending subscriber to send the double opt-in mail to, with its signed link."""

    id: int
    address: str
    url: str


@runtime_checkable
class Audience(Protocol):
    """The core's side of a list channel, scoped to one channel and one process (whose
    leases it takes)."""

    channel: str

    def open_run(self, key: str, message: Message, *, digest_id: int | None = None,
                 delivery_id: int | None = None) -> ListRun:
        """The run with this key, created with ``message`` when new."""
        ...

    def delivery_run_key(self, delivery_id: int) -> str | None:
        """The key of the run that serves this delivery now (``delivery:<id>:<generation>``):
        the unfinished one, or a new generation after an editor's ``--force``; None when its
        last run is done and no one asked to send it again."""
        ...

    def last_run(self, delivery_id: int) -> ListRun | None:
        """The latest run of a delivery."""
        ...

    def finished_run(self, message: Message) -> ListRun | None:
        """The latest run of this very message if it is done (for ``reconcile``)."""
        ...

    def claim(self, run_id: int) -> bool:
        """Take the run's lease (free, ours, expired, or its holder died on this machine);
        False when another live process holds it."""
        ...

    def touch(self, run_id: int) -> bool:
        """Refresh the run's counts and extend the lease while we hold it."""
        ...

    def release(self, run_id: int, *, state: str | None = None,
                detail: str | None = None) -> None:
        """Give the lease back; ``state="done"`` when every recipient was served."""
        ...

    def counts(self, run_id: int) -> tuple[int, int]:
        """``(served already, still to serve)``."""
        ...

    def recipients(self, run_id: int, *, after: int = 0, limit: int = 1000
                   ) -> list[Recipient]:
        """The next ``limit`` recipients with an id above ``after`` the run has not served."""
        ...

    def record(self, run_id: int, results: Sequence[RecipientResult], *,
               heartbeat: bool = False) -> None:
        """Record final answers (one send row each, and the bounces on the subscribers);
        ``heartbeat``: also refresh the run's counts and lease (and the lease of the
        delivery it serves)."""
        ...

    def bounce(self, address: str, kind: Literal["hard", "soft"], detail: str | None = None
               ) -> None:
        """A bounce that came later (by mail, by a webhook): recorded on the subscriber."""
        ...

    def pending_confirmations(self, subscriber_ids: Sequence[int]) -> list[Confirmation]:
        """Those of these subscribers still waiting for confirmation, with their links."""
        ...

    def confirmations_sent(self, subscriber_ids: Sequence[int]) -> None:
        """The confirmation mail went out to these."""
        ...


@runtime_checkable
class ListChannel(Protocol):
    """A channel that sends to the core's subscribers: it declares ``audience = True``, sends
    the double opt-in message when the core asks, and takes the audience before the core asks
    it to ``reconcile`` (which has no context)."""

    audience: ClassVar[bool]

    def use_audience(self, audience: Audience) -> None:
        """Keep the audience for the calls without a context (``reconcile``)."""
        ...

    async def send_confirmations(self, subscriber_ids: list[int], audience: Audience,
                                 templates: Any) -> tuple[int, list[str]]:
        """Send the confirmation message to these pending subscribers; ``(sent, problems)``."""
        ...


def is_list_channel(channel: type | object) -> bool:
    """True when the channel (class or instance) declares ``audience = True``."""
    cls = channel if isinstance(channel, type) else type(channel)
    return getattr(cls, "audience", False) is True


#: where a list channel's rendered message names its recipient; replaced per subscriber when
#: sent, and by a sample address in previews
RECIPIENT_PLACEHOLDER = "%%RECIPIENT%%"
