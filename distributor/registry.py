"""Finds channel adapters through the ``distributor.channels`` entry-point group.

Built-in adapters are declared in pyproject.toml the same way a plugin declares its own, so
nothing here knows a platform's name.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from distributor.plugin import Adapter

GROUP = "distributor.channels"
log = logging.getLogger(__name__)


@cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def adapter_types() -> list[str]:
    return sorted(_entry_points())


@cache
def get_adapter_class(type_name: str) -> type[Adapter]:
    """The adapter class for a channel type. Raises KeyError when none is installed."""
    ep = _entry_points()[type_name]
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise TypeError(
            f"entry point {ep.value!r} for channel type {type_name!r} is not an Adapter subclass"
        )
    return cls


def clear_cache() -> None:
    _entry_points.cache_clear()
    get_adapter_class.cache_clear()
