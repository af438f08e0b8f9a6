"""A user's template that cannot be used: a ``template:`` that names no template, a template of
the user's folder that Jinja cannot compile, a ``templates:`` folder that is not there. The
user's configuration is at fault, not the program: one line that says what and where
(:class:`TemplateProblem`), never a traceback. ``distributor check`` finds the same problems
beforehand (:func:`folder_problems`, :func:`missing_template`), through the same
:class:`~distributor.render.templates.Templates` the renderers use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

if TYPE_CHECKING:
    from distributor.render.templates import Templates

__all__ = ["TemplateProblem", "folder_problems", "missing_template", "template_problem"]

#: what a template file's name ends with; other files of the folder (images, notes) are no
#: templates anyone renders
_TEMPLATE_SUFFIXES = (".html", ".htm", ".txt", ".xml", ".xhtml", ".j2", ".jinja", ".md")


class TemplateProblem(Exception):
    """A template the configuration names or provides that cannot be used (a user's mistake).

    ``template``: the template's name (None: the templates folder itself); ``what``: what is
    wrong; ``where``: ``FILE:LINE`` of the mistake (the template's own line, or the line of the
    configuration's key that names it); ``channel``: the channel that renders with it."""

    def __init__(self, what: str, *, template: str | None = None, where: str | None = None,
                 channel: str | None = None):
        super().__init__(what)
        self.what, self.template, self.where, self.channel = what, template, where, channel

    def __str__(self) -> str:
        return self.said()

    def said(self, *, channel: bool = True) -> str:
        """The one line: ``channel NAME: template NAME: what (FILE:LINE); fix it ...``
        (``channel=False``: without the channel, for a line that names it already)."""
        head = f"channel {self.channel}: " if self.channel and channel else ""
        subject = f"template {self.template}" if self.template else "templates"
        where = f" ({self.where})" if self.where else ""
        return f"{head}{subject}: {self.what}{where}; fix it and run distributor check"


def _searched(templates: Templates) -> str:
    user = f"{templates.user_dir} or " if templates.user_dir is not None else ""
    return f"{user}the built-in templates"


def _in(path: str | None, folder: Path | None) -> bool:
    if not path or folder is None:
        return False
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _template_frame(exc: BaseException, folder: Path | None) -> str | None:
    """``FILE:LINE`` of the innermost template of ``folder`` the traceback went through (the
    ``{% include %}`` of a template that is not there), else None."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if _in(name, folder):
            found = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def template_problem(exc: BaseException, templates: Templates) -> TemplateProblem | None:
    """``exc`` (raised while rendering with ``templates``) as the user's mistake it is, or None
    when it is not one: a template that is not there, a template of the user's folder that
    does not compile. (The built-in templates' own errors are bugs: None.)"""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        if not _in(exc.filename, templates.user_dir):
            return None
        return TemplateProblem(f"Jinja cannot compile it: {exc.message}", template=exc.name,
                               where=f"{exc.filename}:{exc.lineno}")
    if isinstance(exc, jinja2.TemplateNotFound):
        name = exc.name if isinstance(exc.name, str) else None
        return TemplateProblem(f"not found in {_searched(templates)}", template=name,
                               where=_template_frame(exc, templates.user_dir))
    return None


def missing_template(templates: Templates, name: str) -> str | None:
    """Why ``name`` is not a template the renderers find (as they look it up), else None."""
    try:
        templates.get(name)
    except jinja2.TemplateNotFound:
        return f"no template {name} in {_searched(templates)}"
    except jinja2.TemplateSyntaxError:
        return None  # there, but broken: said by folder_problems
    return None


def folder_problems(templates: Templates) -> list[TemplateProblem]:
    """The templates of the user's folder that Jinja cannot compile, each with its file and
    line, compiled as the renderers compile them (the user's folder first)."""
    if templates.user_dir is None:
        return []
    found = []
    for name in jinja2.FileSystemLoader(str(templates.user_dir)).list_templates():
        if any(part.startswith(".") for part in name.split("/")) or \
                not name.lower().endswith(_TEMPLATE_SUFFIXES):
            continue
        try:
            templates.get(name)
        except jinja2.TemplateSyntaxError as exc:
            found.append(TemplateProblem(f"Jinja cannot compile it: {exc.message}", template=name,
                                         where=f"{exc.filename}:{exc.lineno}"))
        except UnicodeDecodeError as exc:
            found.append(TemplateProblem(f"not UTF-8 text ({exc.reason})", template=name,
                                         where=str(templates.user_dir / name)))
    return found
