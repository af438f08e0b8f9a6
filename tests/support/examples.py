"""How many examples a property test draws.

``make test`` (and CI) draws every example a test asks for. ``make check``, the quick loop
while working, sets ``DISTRIBUTOR_TEST_EXAMPLES=0.25`` and draws a quarter of them (at least
20), as Hypothesis suggests for a development profile: the properties are the same, the
search is shorter.
"""

from __future__ import annotations

import os


def examples(wanted: int) -> int:
    """``wanted``, or the share of it that ``DISTRIBUTOR_TEST_EXAMPLES`` (0 to 1) asks for."""
    raw = os.environ.get("DISTRIBUTOR_TEST_EXAMPLES", "").strip()
    if not raw:
        return wanted
    try:
        share = float(raw)
    except ValueError as error:
        raise ValueError(f"DISTRIBUTOR_TEST_EXAMPLES={raw!r}: give a share such as 0.25 "
                         "(1 or empty: every example)") from error
    if not 0 < share <= 1:
        raise ValueError(f"DISTRIBUTOR_TEST_EXAMPLES={raw!r}: give a share above 0 and at "
                         "most 1")
    return min(wanted, max(20, round(wanted * share)))
