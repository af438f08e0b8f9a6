"""The command line (Contract 2 of DESIGN.md): the main group and its sub-commands, each
module thin over the services below it."""

from __future__ import annotations

from distributor.interfaces.cli.articles import articles, digest, preview, push
from distributor.interfaces.cli.corrections import correct, retract
from distributor.interfaces.cli.deliveries import channels, deliveries
from distributor.interfaces.cli.digests import digest_send
from distributor.interfaces.cli.editors import digest_add, digest_remove, editors
from distributor.interfaces.cli.main import entry, main
from distributor.interfaces.cli.subscribers import serve, subscribers
from distributor.interfaces.cli.workers import db, worker

for command in (articles, preview, push, digest, deliveries, channels, subscribers, serve,
                editors, worker, db, retract, correct):
    main.add_command(command)
digest.add_command(digest_add)
digest.add_command(digest_remove)
digest.add_command(digest_send)  # progress bar, resuming

__all__ = ["entry", "main"]
