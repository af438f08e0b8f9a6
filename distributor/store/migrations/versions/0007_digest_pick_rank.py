"""editors order the digest: digest_picks.rank

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('digest_picks') as batch:
        batch.add_column(sa.Column('rank', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('digest_picks') as batch:
        batch.drop_column('rank')
