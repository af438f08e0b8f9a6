"""The length X counts for a post: twitter-text's weighted length, by default with the v3
configuration (NFC, URLs count 23, emoji count 2 however many code points they have, CJK and
most non-Latin scripts count 2). The counting is the ``twitter-text-parser`` package's
``parse_tweet``, which passes the official conformance cases (see tests/unit/test_render_x.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
import types
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["MAX_WEIGHTED_LENGTH", "weighted_length"]

MAX_WEIGHTED_LENGTH = 280

_import_lock = threading.Lock()


def _load_twitter_text() -> dict[str, types.ModuleType]:
    """Import ``twitter_text``.

    twitter-text-parser 3.0 reads its emoji list with ``pkg_resources``, which setuptools
    removed (>= 81). When ``pkg_resources`` is not importable we lend the package a minimal
    stand-in for the duration of its import only, then take it away again.
    """
    with _import_lock:
        lent = False
        if "pkg_resources" not in sys.modules and \
                importlib.util.find_spec("pkg_resources") is None:
            shim = types.ModuleType("pkg_resources")

            def resource_string(package: str, name: str) -> bytes:
                module_file = getattr(sys.modules[package], "__file__", None)
                if not module_file:
                    raise FileNotFoundError(name)
                return (Path(module_file).parent / name).read_bytes()

            shim.resource_string = resource_string  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
            lent = True
        try:
            return {name: importlib.import_module(f"twitter_text.{name}")
                    for name in ("config", "extract_emojis", "extract_urls")}
        finally:
            if lent:
                sys.modules.pop("pkg_resources", None)


@dataclass(frozen=True)
class _Counting:
    """One twitter-text configuration (config/v1.json, v2.json, v3.json of twitter-text)."""

    scale: int
    default_weight: int
    transformed_url_length: int
    emoji_parsing: bool
    ranges: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, tt_config: dict[str, Any], version: str, emoji_parsing: bool) -> _Counting:
        config = tt_config[version]
        return cls(
            scale=config["scale"], default_weight=config["default_weight"],
            transformed_url_length=config["transformed_url_length"],
            emoji_parsing=emoji_parsing,
            ranges=tuple((r["start"], r["end"], r["weight"]) for r in config["ranges"]))


@dataclass(frozen=True)
class _TwitterText:
    """What the counting uses of twitter-text, loaded at the first count: compiling its
    patterns takes about 0.8 s of CPU, which a process that never counts (a worker without
    an X channel, the dashboard) does not pay."""

    extract_urls: Callable[[str], list[dict[str, Any]]]
    extract_emojis: Callable[[str], list[dict[str, Any]]]
    #: counting by configuration version (v3 is what X counts with today)
    counting: dict[int, _Counting]


@lru_cache(maxsize=1)
def _twitter_text() -> _TwitterText:
    tt = _load_twitter_text()
    config: dict[str, Any] = tt["config"].config
    return _TwitterText(
        extract_urls=tt["extract_urls"].extract_urls_with_indices,
        extract_emojis=tt["extract_emojis"].extract_emojis_with_indices,
        counting={1: _Counting.of(config, "version1", emoji_parsing=False),
                  2: _Counting.of(config, "version2", emoji_parsing=False),
                  3: _Counting.of(config, "version3", emoji_parsing=True)})


_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")
# Every emoji twitter-text knows has a code point >= U+2100 or is one of these (©, ®, ‼, ⁉,
# keycaps): text without any of them needs no emoji matching, which is the slow part.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c\u2049\u20e3\ufe0f\u2100-\U0010ffff]")


@lru_cache(maxsize=16384)
def _weighted(text: str, version: int) -> int:
    """twitter-text's ``parse_tweet(...).weightedLength``, same algorithm (see its
    parse_tweet.py), skipping the emoji search when the text cannot contain an emoji."""
    tt = _twitter_text()
    counting = tt.counting[version]
    normalized = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))
    urls = {entity["indices"][0]: entity["url"] for entity in tt.extract_urls(normalized)}
    emojis: dict[int, str] = {}
    if counting.emoji_parsing and _MAYBE_EMOJI.search(normalized):
        emojis = {entity["indices"][0]: entity["emoji"] for entity in tt.extract_emojis(normalized)}
    weight = 0
    index = 0
    while index < len(normalized):
        if index in urls:
            weight += counting.transformed_url_length * counting.scale
            index += len(urls[index])
            continue
        if index in emojis:
            weight += counting.default_weight
            index += len(emojis[index])
            continue
        code = ord(normalized[index])
        for start, end, range_weight in counting.ranges:
            if start <= code <= end:
                weight += range_weight
                break
        else:
            weight += counting.default_weight
        index += 1
    return int(weight / counting.scale)


def weighted_length(text: str, *, version: int = 3) -> int:
    """The length X counts for ``text`` (twitter-text configuration ``version``, default v3)."""
    if version not in (1, 2, 3):
        raise ValueError(f"unknown twitter-text configuration version {version}; use 1, 2 or 3")
    return _weighted(text, version)
