"""The channels' key-value state (``ctx.state``) and their shared scopes, as the ledger and the
engine name them: kept in the store's ``channel_kv`` table by
:mod:`distributor.store.channel_kv` (the runtime, one layer below the ledger, hands it to each
channel at start)."""

from __future__ import annotations

from distributor.store.channel_kv import SHARED_PREFIX, StoredState, shared_state

__all__ = ["SHARED_PREFIX", "StoredState", "shared_state"]
