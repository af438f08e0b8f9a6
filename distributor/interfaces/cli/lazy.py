"""A click group whose sub-commands live in modules imported only when one is used.

``distributor --help`` and ``distributor run`` then pay for no other command's imports: a
command module is imported when the command runs, when its help is shown, or when the group's
help lists it (every command module keeps its top-level imports light for that).
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """``lazy_commands``: a command's name -> ``"module:attribute"`` of its click command."""

    def __init__(self, *args: object, lazy_commands: dict[str, str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy_commands))

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name not in self.commands and name not in self.lazy_commands \
                and not name.startswith("-"):
            for other in self.lazy_commands:  # a mistyped name: click's "Did you mean"
                self.get_command(ctx, other)  # looks among the loaded commands
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):  # a wrong entry: a bug, said plainly
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)
