"""plugin API: the channels' key-value state, and digests that record their parts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_kv',
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'key')
    )
    with op.batch_alter_table('digests') as batch:
        batch.add_column(sa.Column('messages', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('remote_ids', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('lease_owner', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('digests') as batch:
        batch.drop_column('attempts')
        batch.drop_column('lease_until')
        batch.drop_column('lease_owner')
        batch.drop_column('remote_ids')
        batch.drop_column('messages')
    op.drop_table('channel_kv')
