"""A dispatcher's report counts deliveries, not attempts: a delivery tried four times in one
pass, or retried and then sent, is in the report once, under the state it ended the pass in."""

from __future__ import annotations

from distributor.engine.send_outcomes import DispatchReport

#: the lists of a :class:`DispatchReport` that hold delivery ids, by their new state
STATES = ("sent", "retry", "failed", "unknown", "held")


def settle(report: DispatchReport, delivery_id: int, state: str) -> None:
    """Record that ``delivery_id`` is now in ``state``: its earlier state in this report, if
    any, is forgotten (the latest outcome wins)."""
    for name in STATES:
        ids: list[int] = getattr(report, name)
        if delivery_id in ids:
            ids[:] = [i for i in ids if i != delivery_id]
    getattr(report, state).append(delivery_id)


def merge_latest(total: DispatchReport, later: DispatchReport) -> None:
    """Add ``later`` (what happened after ``total``) to ``total``, each delivery once: the
    state it reached last."""
    for name in STATES:
        for delivery_id in getattr(later, name):
            settle(total, delivery_id, name)
    total.actions.extend(later.actions)
