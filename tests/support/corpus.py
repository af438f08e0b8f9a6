"""tests/corpus/check.py (the corpus's own checker, also run by `make corpus`) as a module,
loaded once per process for the tests that read the corpus.

Several test files read every article of the corpus, and each read parses the text anew:
here each case is read and checked once per process. A test gets its own copy of the
article, so what one test changes no other test sees."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
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
        _read_once(module)
    return sys.modules["corpus_check"]


def _read_once(module: Any) -> None:
    cases, check = module.corpus_cases, module.check
    read: dict[str, Any] = {}  # a case's article, or the error its reading raised
    checked: dict[str, Any] = {}

    def once(case: Any) -> Callable[[], Any]:
        def load() -> Any:
            if case.name not in read:
                try:
                    read[case.name] = case.load()
                except Exception as exc:  # raised again at every read
                    read[case.name] = exc
            got = read[case.name]
            if isinstance(got, Exception):
                raise got
            return got.model_copy(deep=True)
        return load

    def corpus_cases(paths: list[Path] | None = None) -> list[Any]:
        return [dataclasses.replace(case, load=once(case)) for case in cases(paths)]

    def check_once(case: Any) -> Any:
        if case.name not in checked:
            checked[case.name] = check(case)
        return checked[case.name]

    module.corpus_cases, module.check = corpus_cases, check_once
