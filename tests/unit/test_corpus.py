"""Issue 13: every article of tests/corpus read as an editor reads it (tests/corpus/check.py).

One test per article and field, so a failure names the file and what was misread; ``make
corpus`` prints the same comparisons as a report.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

_CHECK = Path(__file__).resolve().parents[1] / "corpus" / "check.py"
_spec = importlib.util.spec_from_file_location("corpus_check", _CHECK)
assert _spec is not None and _spec.loader is not None
check: Any = importlib.util.module_from_spec(_spec)
sys.modules["corpus_check"] = check
_spec.loader.exec_module(check)

CASES = check.corpus_cases()


def test_the_corpus_is_there() -> None:
    assert CASES


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_each_article_is_read_as_an_editor_reads_it(case: Any) -> None:
    result = check.check(case)
    assert result.error is None, f"{case.name} cannot be read: {result.error}"
    problems = [f"{name}: expected {want!r}, got {got!r}"
                for name, (want, got) in result.mismatches.items()]
    assert not problems, f"{case.name}\n" + "\n".join(problems)


def test_the_derived_headline_rules_catch_what_issue_13_forbids() -> None:
    lede = "Polisi menangkap dua pelaku pencurian motor di Depok, Jawa Barat, Selasa malam."
    assert check.derived_headline_problems("Polisi menangkap dua pelaku pencurian motor", lede) \
        == []
    assert check.derived_headline_problems("Polisi menangkap dua pela", lede)
    assert check.derived_headline_problems("Laporan Wartawan Grid.ID, Nama", lede)
    assert check.derived_headline_problems("menangkap dua pelaku", lede)
