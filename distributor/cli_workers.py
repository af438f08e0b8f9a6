"""Commands of distributed mode: ``distributor worker``, ``distributor db upgrade`` and the
scheduler side of ``distributor run`` under ``execution: distributed``."""

from __future__ import annotations

from typing import Any

import click


class _Unavailable(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


async def run_distributed(state: Any, *, once: bool, dry_run: bool) -> None:
    """``distributor run`` under ``execution: distributed``: schedule only."""
    raise _Unavailable("execution: distributed is not available in this version; set "
                       "execution: embedded in the configuration")


@click.command()
@click.pass_obj
def worker(state: Any) -> None:
    """Run a worker of distributed mode (execution: distributed)."""
    state.config(dry_run=True)
    raise _Unavailable("distributed mode (procrastinate workers) is not available in this "
                       "version; use execution: embedded and `distributor run`")


@click.group()
def db() -> None:
    """The database: migrations."""
