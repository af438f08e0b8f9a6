"""Finds channel classes through the ``distributor.channels`` entry-point group.

Built-in channels are declared in pyproject.toml the same way a plugin declares its own, so
nothing here knows a platform's name. A class is checked when it is loaded: a
:class:`~distributor.plugin.Channel` subclass, written against this major version of the plugin
API, with ``send(message, ctx)``.
"""

from __future__ import annotations

import inspect
import logging
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from distributor.config import ChannelConfig
from distributor.plugin import API_VERSION, Channel, sends_digests
from distributor.plugin.version import major

GROUP = "distributor.channels"
log = logging.getLogger(__name__)


class PluginError(TypeError):
    """An installed channel cannot be used; the message says why and what to do."""


@cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def adapter_types() -> list[str]:
    return sorted(_entry_points())


@cache
def get_adapter_class(type_name: str) -> type[Channel]:
    """The channel class for a channel type. Raises KeyError when none is installed,
    :class:`PluginError` when the installed one cannot be used."""
    ep = _entry_points()[type_name]
    where = f"entry point {ep.value!r} for channel type {type_name!r}"
    try:
        loaded = ep.load()
    except ImportError as exc:  # a package it needs is not installed: say which, not a traceback
        raise PluginError(f"{where} cannot be imported ({exc}); install what it needs: "
                          "pip install 'distributor[all]' for the built-in channels, a "
                          "plugin's own package for a plugin") from None
    return check_channel_class(loaded, where)


def check_channel_class(cls: object, where: str) -> type[Channel]:
    """``cls`` if it is a channel this distributor can use; else :class:`PluginError`."""
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise PluginError(f"{where} is not a distributor.plugin.Channel subclass")
    wanted = str(getattr(cls, "api_version", API_VERSION))
    if major(wanted) != major(API_VERSION):
        raise PluginError(f"{where} is written for plugin API {wanted}; this distributor has "
                          f"{API_VERSION}: install a release of the plugin made for it")
    if _minor(wanted) > _minor(API_VERSION):  # it uses what this release does not have yet
        raise PluginError(f"{where} needs plugin API {wanted}; this distributor has "
                          f"{API_VERSION}: upgrade distributor (pip install -U distributor)")
    params = [p for p in inspect.signature(cls.send).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) < 3:  # self, message, ctx
        raise PluginError(f"{where}: send() must take (message, ctx) since plugin API 1.0 "
                          "(docs/plugins.md)")
    return cls


def _minor(version: str) -> int:
    _, _, minor = str(version).partition(".")
    return int(minor) if minor.isdigit() else 0


def digest_problem(channel: ChannelConfig) -> str | None:
    """Why this channel cannot be ``publish: digest``, or None."""
    if channel.publish != "digest":
        return None
    try:
        cls = get_adapter_class(channel.type)
    except (KeyError, PluginError):
        return None  # reported where the type is looked up
    if sends_digests(cls):
        return None
    return (f"channel type {channel.type!r} cannot send digests (it does not implement the "
            "digest protocol: docs/plugins.md); use publish: instant or manual")


def clear_cache() -> None:
    _entry_points.cache_clear()
    get_adapter_class.cache_clear()
