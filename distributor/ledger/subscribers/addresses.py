"""What a subscriber's address is: its states, the problems a user can fix, and the address as
it is stored (normalised) and kept unique (without regard to case)."""

from __future__ import annotations

STATES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")
#: states in which nothing is ever sent again to the address (on any channel)
BLOCKED = ("bounced", "complained")
SOFT_BOUNCE_LIMIT = 3
BOUNCE_KINDS = ("hard", "soft", "complaint")


class SubscriberError(ValueError):
    """A problem the user can fix; the message says how."""


def normalize_email(raw: str) -> tuple[str, str]:
    """``(address, key)``: the address as email-validator normalises it (domain in lower
    case, Unicode NFC) and the key it is unique by (all in lower case). No DNS look-ups."""
    from email_validator import EmailNotValidError, validate_email  # 60 ms: when used

    text = (raw or "").strip()
    if not text:
        raise SubscriberError("the address is empty")
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{text!r} is not a valid email address: {exc}") from None
    address = valid.normalized
    return address, address.lower()
