"""tests/corpus/check.py (the corpus's own checker, also run by `make corpus`) as a module,
loaded once per process for the tests that read the corpus."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

_CHECK = Path(__file__).resolve().parents[1] / "corpus" / "check.py"


def corpus_check() -> Any:
    """The module: ``corpus_cases()``, ``check(case)``."""
    if "corpus_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("corpus_check", _CHECK)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["corpus_check"] = module
        spec.loader.exec_module(module)
    return sys.modules["corpus_check"]
