"""Commands of the editor dashboard: ``distributor editors ...``."""

from __future__ import annotations

import click


@click.group()
def editors() -> None:
    """Editor accounts for the dashboard of `distributor serve`."""
