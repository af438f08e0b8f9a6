"""dashboard: channel moves (and the editor dashboard's tables)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_state') as batch:
        batch.add_column(sa.Column('moved_to', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_state') as batch:
        batch.drop_column('moved_to')
