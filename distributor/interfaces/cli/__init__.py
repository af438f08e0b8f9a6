"""The command line (Contract 2 of DESIGN.md): the main group and its sub-commands, each
module thin over the services below it. The main group imports a sub-command's module only
when that command is used (:mod:`.lazy`), so every command starts without the others'
imports."""

from __future__ import annotations

from distributor.interfaces.cli.main import entry, main

__all__ = ["entry", "main"]
