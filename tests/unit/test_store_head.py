"""The store knows its newest migration without loading alembic (a faster start)."""

from __future__ import annotations

from distributor.store.db import HEAD_REVISION, MIGRATIONS


def test_the_head_revision_the_store_checks_is_the_newest_migration() -> None:
    """Adding a migration means raising ``HEAD_REVISION`` in distributor/store/db.py: a
    database at the old head would otherwise never be migrated."""
    # imported here, not at collection: every pytest -n worker collects this file
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION
