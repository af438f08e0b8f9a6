"""the channels' old rows of channel_state move into channel_kv (their StateStore)

Before the plugin API, the Telegram package kept two things in ``channel_state``: where
Telegram moved a channel's chat (the column ``moved_to``), and, in distributed mode, the bot
token's next free request slot (a row named ``token:<credential key>``, its time in
``next_send_at``). The channel now reads both through its StateStore: the move as the key
``moved_to`` of its own state, the slot as the key ``next_slot`` (seconds since the epoch) of
the scope it shares with every channel on the token, ``telegram/<credential key>``. A value
already in channel_kv is newer than the old row and is kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: the old rows of a bot token's shared slot, and the scope that holds it now
TOKEN_ROW = 'token:'
TOKEN_SCOPE = 'shared:telegram/'
MOVED_TO = 'moved_to'
NEXT_SLOT = 'next_slot'

channel_state = sa.table(
    'channel_state',
    sa.column('channel', sa.String(200)),
    sa.column('next_send_at', sa.DateTime(timezone=True)),
    sa.column('moved_to', sa.String(300)),
)
channel_kv = sa.table(
    'channel_kv',
    sa.column('channel', sa.String(200)),
    sa.column('key', sa.String(200)),
    sa.column('value', sa.JSON()),
    sa.column('updated_at', sa.DateTime(timezone=True)),
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    kept = {(c, k) for c, k in bind.execute(sa.select(channel_kv.c.channel, channel_kv.c.key))}
    rows = []
    for channel, next_send_at, moved_to in bind.execute(sa.select(
            channel_state.c.channel, channel_state.c.next_send_at, channel_state.c.moved_to)):
        if channel.startswith(TOKEN_ROW):
            if next_send_at is None:
                continue
            where = (TOKEN_SCOPE + channel[len(TOKEN_ROW):], NEXT_SLOT)
            value: object = _utc(next_send_at).timestamp()
        elif (moved_to or '').strip():
            where, value = (channel, MOVED_TO), moved_to.strip()
        else:
            continue
        if where not in kept:
            kept.add(where)
            rows.append({'channel': where[0], 'key': where[1], 'value': value,
                         'updated_at': now})
    if rows:
        op.bulk_insert(channel_kv, rows)
    bind.execute(sa.delete(channel_state).where(channel_state.c.channel.like(TOKEN_ROW + '%')))
    with op.batch_alter_table('channel_state') as batch:
        batch.drop_column('moved_to')


def downgrade() -> None:
    with op.batch_alter_table('channel_state') as batch:
        batch.add_column(sa.Column('moved_to', sa.String(length=300), nullable=True))
    bind = op.get_bind()
    old = set(bind.execute(sa.select(channel_state.c.channel)).scalars())
    for channel, key, value in bind.execute(sa.select(
            channel_kv.c.channel, channel_kv.c.key, channel_kv.c.value).where(
            channel_kv.c.key.in_((MOVED_TO, NEXT_SLOT)))):
        values: dict[str, object]
        if key == MOVED_TO and not channel.startswith('shared:') and isinstance(value, str):
            row, values = channel, {'moved_to': value}
        elif key == NEXT_SLOT and channel.startswith(TOKEN_SCOPE) and \
                isinstance(value, int | float):
            row = TOKEN_ROW + channel[len(TOKEN_SCOPE):]
            values = {'next_send_at': datetime.fromtimestamp(value, UTC)}
        else:
            continue
        if row in old:
            bind.execute(sa.update(channel_state).where(channel_state.c.channel == row)
                         .values(**values))
        else:
            bind.execute(sa.insert(channel_state).values(channel=row, **values))
            old.add(row)
