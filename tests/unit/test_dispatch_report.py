"""A pass's report counts deliveries, each once, in the state it ended the pass in (user
audit: one delivery tried four times was "retry later 4")."""

from __future__ import annotations

from distributor.engine.reports import merge_latest, settle
from distributor.engine.send_outcomes import DispatchReport


def test_a_delivery_tried_again_in_the_same_pass_is_counted_once_in_its_last_state() -> None:
    report = DispatchReport()
    for _ in range(4):
        settle(report, 1, "retry")
    settle(report, 2, "retry")
    settle(report, 2, "sent")  # retried, then sent, in one pass
    settle(report, 3, "sent")
    assert (report.sent, report.retry, report.failed, report.unknown) == ([2, 3], [1], [], [])
    settle(report, 1, "failed")  # gave up at last
    assert (report.sent, report.retry, report.failed) == ([2, 3], [], [1])


def test_a_later_report_wins_for_the_deliveries_both_name() -> None:
    recovered = DispatchReport(retry=[7], unknown=[8])  # a thread resumed; a send cut off
    drained = DispatchReport(sent=[7, 9], actions=[(1, "done")])
    merge_latest(recovered, drained)
    assert (recovered.sent, recovered.retry, recovered.unknown) == ([7, 9], [], [8])
    assert recovered.actions == [(1, "done")]


def test_a_delivery_whose_send_paused_its_channel_is_held_not_retried_later() -> None:
    report = DispatchReport()
    settle(report, 1, "retry")  # an outage first
    settle(report, 1, "held")  # then the platform refused the token: the channel paused
    assert (report.retry, report.held) == ([], [1])
    settle(report, 1, "sent")  # resumed and sent in a later pass merged into this report
    assert (report.sent, report.held) == ([1], [])
