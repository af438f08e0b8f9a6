"""Subscribers: the audience of a list channel (today the email channels). Addresses and
their states, double opt-in, signed links, unsubscribe, bounces, import and export.

Core, and knowing no platform: what a mail looks like, SMTP and the meaning of an SMTP answer
belong to the channel's package (``distributor.channels.email``). It reaches the subscribers
only through the plugin API's audience (:mod:`distributor.ledger.mailing`, ``ctx.audience``),
which records what happened (send rows, :func:`record_bounce`) and signs the links here.

- :mod:`.addresses`: states, :class:`SubscriberError`, the normalised address;
- :mod:`.tokens`: the signed confirmation and unsubscribe tokens and their links;
- :mod:`.lifecycle`: subscribe, confirm, unsubscribe, bounce, erase; reading the lists;
- :mod:`.csv_io`: CSV import and export, an address's whole record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributor.ledger.subscribers.addresses import (
        BLOCKED,
        BOUNCE_KINDS,
        SOFT_BOUNCE_LIMIT,
        STATES,
        SubscriberError,
        normalize_email,
    )
    from distributor.ledger.subscribers.csv_io import (
        EXPORT_FIELDS,
        HEADER_NAMES,
        ImportReport,
        csv_safe,
        export_csv,
        export_person,
        export_row,
        import_csv,
        import_rows,
        read_csv,
        report_chunk,
    )
    from distributor.ledger.subscribers.lifecycle import (
        CONFIRM_RESEND_AFTER,
        AddResult,
        add_subscriber,
        claim_confirmation,
        confirm_subscriber,
        counts,
        find,
        iter_subscribers,
        mark_confirmation_sent,
        record_bounce,
        release_confirmation,
        remove_subscriber,
        unsubscribe,
    )
    from distributor.ledger.subscribers.tokens import (
        CONFIRM_TTL,
        SECRET_HELP,
        MissingSecret,
        confirm_token,
        confirm_url,
        new_token_key,
        secret_of,
        subscriber_for_confirm,
        subscriber_for_unsubscribe,
        unsubscribe_token,
        unsubscribe_url,
    )

#: the modules, each importing only those before it: a name is looked up in this order when it
#: is first used, so ``STATES`` costs neither the email validator nor SQLAlchemy
_PARTS = ("addresses", "tokens", "lifecycle", "csv_io")

__all__ = [
    "BLOCKED",
    "BOUNCE_KINDS",
    "CONFIRM_RESEND_AFTER",
    "CONFIRM_TTL",
    "EXPORT_FIELDS",
    "HEADER_NAMES",
    "SECRET_HELP",
    "SOFT_BOUNCE_LIMIT",
    "STATES",
    "AddResult",
    "ImportReport",
    "MissingSecret",
    "SubscriberError",
    "add_subscriber",
    "claim_confirmation",
    "confirm_subscriber",
    "confirm_token",
    "confirm_url",
    "counts",
    "csv_safe",
    "export_csv",
    "export_person",
    "export_row",
    "find",
    "import_csv",
    "import_rows",
    "iter_subscribers",
    "mark_confirmation_sent",
    "new_token_key",
    "normalize_email",
    "read_csv",
    "record_bounce",
    "release_confirmation",
    "remove_subscriber",
    "report_chunk",
    "secret_of",
    "subscriber_for_confirm",
    "subscriber_for_unsubscribe",
    "unsubscribe",
    "unsubscribe_token",
    "unsubscribe_url",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        for part in _PARTS:
            module = importlib.import_module(f"{__name__}.{part}")
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
