"""The moment a send is paced from (plugin API 1.3, ``SendContext.request_sent``): the first
request the channel reports, held within the send; the end of the send when it reports none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distributor.engine.pacing_rules import paced_from
from distributor.plugin.testing import send_context

START = datetime(2026, 12, 3, 7, 0, 0, tzinfo=UTC)
END = START + timedelta(seconds=2)


def test_a_send_is_paced_from_the_first_request_it_reported() -> None:
    first, second = START + timedelta(seconds=0.3), START + timedelta(seconds=1.1)
    assert paced_from([first, second], START, END) == first


def test_a_send_that_reports_no_request_is_paced_from_its_end() -> None:
    assert paced_from([], START, END) == END


def test_a_reported_time_outside_the_send_is_held_to_it() -> None:
    assert paced_from([START - timedelta(minutes=5)], START, END) == START
    assert paced_from([END + timedelta(minutes=5)], START, END) == END


def test_request_sent_tells_the_core_when_the_request_left() -> None:
    heard: list[datetime] = []
    ctx = send_context("chat", on_request=heard.append)
    at = START + timedelta(seconds=1)

    ctx.request_sent(at)
    ctx.request_sent(datetime(2026, 12, 3, 7, 0, 5))  # no zone: UTC
    before = datetime.now(UTC)
    ctx.request_sent()  # now

    assert heard[:2] == [at, START + timedelta(seconds=5)]
    assert heard[2] >= before and heard[2].tzinfo is not None


def test_request_sent_without_a_listener_does_nothing() -> None:
    send_context("chat").request_sent()  # a channel's own test context: nobody listens
