"""a feed's Retry-After is kept: source_state.poll_after

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('source_state') as batch:
        batch.add_column(sa.Column('poll_after', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_state') as batch:
        batch.drop_column('poll_after')
