"""The order `pytest -n` hands tests out in (tests/support/run_order.py)."""

from __future__ import annotations

from dataclasses import dataclass

from support.run_order import LONG, order


@dataclass
class Item:
    nodeid: str


def test_the_tests_that_took_long_come_first_longest_first_and_the_rest_keep_their_order() -> None:
    items = [Item(n) for n in ("a::quick", "a::long", "b::unknown", "b::longest", "c::quick")]
    took = {"a::quick": 0.1, "a::long": LONG + 1, "b::longest": LONG + 5, "c::quick": LONG}

    ordered = order(items, took)  # type: ignore[arg-type]

    assert [i.nodeid for i in ordered] == [
        "b::longest", "a::long", "a::quick", "b::unknown", "c::quick"]


def test_without_durations_the_order_is_the_files_order() -> None:
    items = [Item(n) for n in ("a::1", "a::2", "b::1")]
    assert order(items, {}) == items  # type: ignore[arg-type]
