"""Templates: a user's folder (``templates:`` in channels.yaml) first, then the built-in folder,
so a user overrides a built-in template by creating a file with the same relative name
(``email/digest.html``). The built-in ones stay reachable as ``builtin/<name>``, so an override
can ``{% extends "builtin/email/base.html" %}``."""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.bccache

import distributor
from distributor.render.dates import _date_filter, _datetime_filter, _time_filter
from distributor.render.links import hostname, link_line
from distributor.render.words import words

if TYPE_CHECKING:
    from distributor.config import Config

__all__ = ["Templates", "builtin_templates_dir", "channel_template", "templates_for"]


def builtin_templates_dir() -> Path:
    """The built-in templates: inside the package when installed from a wheel (pyproject
    force-includes ``templates/`` as ``distributor/templates``), else the repository's
    top-level ``templates/`` (editable install, source checkout)."""
    package = Path(distributor.__file__).resolve().parent
    packaged = package / "templates"
    if packaged.is_dir():
        return packaged
    return package.parent / "templates"


def _autoescape(name: str | None) -> bool:
    """HTML is escaped, text is not. Templates given as strings are not."""
    if name is None:
        return False
    return name.rsplit(".", 1)[-1].lower() in ("html", "htm", "xml", "xhtml")


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the process's life, shared by every :class:`Templates`
    (a runtime, a preview, a test): compiling the email templates takes about 60 ms. Jinja
    compares each template's source with the cached one's checksum, so an edited template is
    compiled again."""

    def __init__(self) -> None:
        self._codes: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with self._lock:
            code = self._codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._codes[bucket.key] = code


_COMPILED = _MemoryBytecodeCache()


class Templates:
    """Jinja2 templates: the user's folder first, then the built-in ones.

    ``.html`` templates are autoescaped, ``.txt`` templates are not. Filters: ``date``,
    ``datetime``, ``time`` (Babel, in the site's language and time zone, read from the ``site``
    and ``language`` variables of the template), ``hostname``; ``wordwrap`` is Jinja's own.
    """

    def __init__(self, user_dir: str | Path | None = None, *,
                 builtin_dir: str | Path | None = None):
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else \
            builtin_templates_dir()
        self.user_dir = Path(user_dir) if user_dir is not None else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise FileNotFoundError(
                f"the templates folder {self.user_dir} does not exist; create it or remove "
                "templates: from the configuration")
        loaders: list[jinja2.BaseLoader] = []
        if self.user_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(self.user_dir)))
        builtin = jinja2.FileSystemLoader(str(self.builtin_dir))
        loaders.append(builtin)
        loaders.append(jinja2.PrefixLoader({"builtin": builtin}))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            bytecode_cache=_COMPILED,
        )
        self.env.filters["date"] = _date_filter
        self.env.filters["datetime"] = _datetime_filter
        self.env.filters["time"] = _time_filter
        self.env.filters["hostname"] = hostname
        self.env.globals["words"] = words
        self.env.globals["link_line"] = link_line

    @classmethod
    def from_config(cls, config: Config) -> Templates:
        return cls(config.templates)

    def get(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            where = [str(self.user_dir)] if self.user_dir else []
            where.append(str(self.builtin_dir))
            raise jinja2.TemplateNotFound(
                name, message=f"template {name!r} not found in {' or '.join(where)}") from None

    def exists(self, name: str) -> bool:
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(self, name: str, /, **context: Any) -> str:
        return self.get(name).render(**context)

    def __repr__(self) -> str:
        return f"Templates(user_dir={self.user_dir!r}, builtin_dir={self.builtin_dir!r})"


def channel_template(ctx: Any, default: str, *, kind: str = "") -> str:
    """The template a channel names (``template:`` in its config), else ``default``.

    ``{kind}`` in the name is replaced by ``kind`` ("digest", "article"), so one channel can
    name a template per kind of mail: ``email/mine-{kind}.html``.
    """
    name = getattr(getattr(ctx, "channel", None), "template", None)
    if not isinstance(name, str) or not name.strip():
        return default
    return name.strip().replace("{kind}", kind)


@cache
def _default_templates() -> Templates:
    return Templates()


def templates_for(ctx: Any) -> Templates:
    """The :class:`Templates` of a render context (the built-in ones when it has none)."""
    found = getattr(ctx, "templates", None)
    if isinstance(found, Templates):
        return found
    return _default_templates()
