"""What the core gives a channel once, when it starts: :class:`ChannelEnv`.

The runtime builds one adapter per channel and then calls its
:meth:`~distributor.plugin.Channel.setup` with the channel's environment: its name, its
key-value state (the same store as ``ctx.state``), stores shared with other channels (one per
scope the channels agree on, e.g. one account's credentials), a logger, and how this process
runs (a dry run; one of several processes sending; this process's id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from distributor.plugin.context import ChannelLog
from distributor.plugin.state import MemoryState, StateStore, check_key


@dataclass(frozen=True)
class ChannelEnv:
    """Passed to :meth:`Channel.setup` once, after construction.

    - ``channel``: the channel's name (as in channels.yaml);
    - ``state``: the channel's own :class:`~distributor.plugin.StateStore` (``ctx.state``);
    - :meth:`shared_state`: a store shared by every channel (of this process and of every other
      one on the same database) that names the same scope;
    - ``log``: a logger whose lines name the channel;
    - ``dry_run``: nothing is sent (``--dry-run``: the outbox takes the messages);
    - ``distributed``: several processes send at once (distributed workers): what a channel
      paces or counts must then be shared through the stores, not kept in memory;
    - ``owner``: this process's id (host:pid:random), as the core names it in leases;
    - ``config_file``: the configuration file the channel was read from, for a message that
      asks the user to change a key there (``--config site.yaml``: ``site.yaml``).
    """

    channel: str
    state: StateStore
    log: logging.LoggerAdapter
    shared: Callable[[str], StateStore] = field(repr=False)
    dry_run: bool = False
    distributed: bool = False
    owner: str = ""
    config_file: str = "channels.yaml"

    def shared_state(self, scope: str) -> StateStore:
        """The store of ``scope``, shared by the channels that name the same scope (e.g.
        ``"telegram/<credential key>"``: every channel on one bot token). Name scopes after
        your channel type, so two plugins never meet in one."""
        return self.shared(check_key(scope))


def memory_env(channel: str = "test", *, state: StateStore | None = None,
               shared: dict[str, MemoryState] | None = None, dry_run: bool = False,
               distributed: bool = False, owner: str = "test",
               config_file: str = "channels.yaml") -> ChannelEnv:
    """A :class:`ChannelEnv` kept in memory (tests, tools). Channels given the same ``shared``
    dict share their scopes."""
    scopes = shared if shared is not None else {}
    return ChannelEnv(channel=channel, state=state or MemoryState(), log=ChannelLog(channel),
                      shared=lambda scope: scopes.setdefault(scope, MemoryState()),
                      dry_run=dry_run, distributed=distributed, owner=owner,
                      config_file=config_file)
