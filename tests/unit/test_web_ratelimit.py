"""The web side's one limiter (aiolimiter per key) and the growing waits after failed logins,
on a clock the test moves."""

from __future__ import annotations

from distributor.interfaces.web.ratelimit import Backoff, KeyedLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waits_double_after_the_free_failures_up_to_a_ceiling() -> None:
    clock = Clock()
    backoff = Backoff(free=3, first=1.0, longest=60.0, clock=clock)
    waits = []
    for _ in range(12):
        backoff.failed("1.2.3.4 editor")
        waits.append(backoff.wait("1.2.3.4 editor"))
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.wait("5.6.7.8 editor") == 0  # another key owes nothing


def test_a_wait_ends_by_itself_and_a_success_or_a_quiet_day_forgets_it() -> None:
    clock = Clock()
    backoff = Backoff(free=0, first=10.0, longest=900.0, forget=86400.0, clock=clock)
    backoff.failed("k")
    clock.now += 4
    assert backoff.wait("k") == 6
    clock.now += 6
    assert backoff.wait("k") == 0
    backoff.failed("k")
    assert backoff.wait("k") == 20
    backoff.reset("k")
    assert backoff.wait("k") == 0
    for _ in range(5):
        backoff.failed("k")
    clock.now += 86401
    backoff.failed("k")
    assert backoff.wait("k") == 10  # counted afresh


def test_the_number_of_keys_is_bounded() -> None:
    backoff = Backoff(free=0, clock=Clock(), max_keys=100)
    for i in range(1000):
        backoff.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(backoff._failures) <= 100


async def test_a_keyed_limiter_lets_a_burst_through_then_refuses() -> None:
    limiter = KeyedLimiter(3, 3600.0, max_keys=10)
    assert [await limiter.hit("a") for _ in range(5)] == [True, True, True, False, False]
    assert await limiter.hit("b")  # every key has its own bucket
    assert limiter.retry_after() == 1200
    for i in range(50):
        await limiter.hit(f"k{i}")
    assert len(limiter._buckets) <= 10
