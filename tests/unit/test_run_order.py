"""The order `pytest -n` hands tests out in (tests/support/run_order.py)."""

from __future__ import annotations

from dataclasses import dataclass

from support.run_order import LONG, SHORT, SPREAD, order


@dataclass
class Item:
    nodeid: str


def test_the_long_tests_are_spread_over_the_first_part_of_the_run_longest_first() -> None:
    quick = [Item(f"a::quick{i}") for i in range(9)] + [Item("b::unknown")]
    items = [*quick[:4], Item("a::long"), *quick[4:], Item("c::longest")]
    took = {**{i.nodeid: 0.1 for i in quick[:9]}, "a::long": LONG + 1, "c::longest": LONG + 5}

    ordered = order(items, took)  # type: ignore[arg-type]

    # the others take 1 s (an unknown one SHORT): the second long test is due after 0.85 / 2
    assert SHORT == 0.1 and SPREAD == 0.85
    assert [i.nodeid for i in ordered] == [
        "c::longest", *(i.nodeid for i in quick[:5]), "a::long",
        *(i.nodeid for i in quick[5:])]


def test_long_tests_alone_run_longest_first() -> None:
    items = [Item("a::long"), Item("b::longer")]
    ordered = order(items, {"a::long": LONG + 1, "b::longer": LONG + 2})  # type: ignore[arg-type]
    assert [i.nodeid for i in ordered] == ["b::longer", "a::long"]


def test_without_durations_the_order_is_the_files_order() -> None:
    items = [Item(n) for n in ("a::1", "a::2", "b::1")]
    assert order(items, {}) == items  # type: ignore[arg-type]


def test_a_test_without_a_duration_counts_its_files_mean_else_short() -> None:
    rest = [Item(n) for n in ("a::q0", "a::q1", "b::q0", "b::q1", "b::q2", "b::q3")]
    items = [*rest, Item("c::long"), Item("c::longest")]
    took = {"a": 0.3, "c::long": LONG + 1, "c::longest": LONG + 5}  # "a": file a's mean

    ordered = order(items, took)  # type: ignore[arg-type]

    # the others take 2 * 0.3 + 4 * SHORT = 1 s: the second long test is due after 0.425 s
    assert [i.nodeid for i in ordered] == [
        "c::longest", "a::q0", "a::q1", "c::long", "b::q0", "b::q1", "b::q2", "b::q3"]
