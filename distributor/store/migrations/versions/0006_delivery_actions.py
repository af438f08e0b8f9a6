"""corrections and retractions: one row per (article, channel, action, revision)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=True),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('done', sa.JSON(), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=True),
    sa.Column('result_ids', sa.JSON(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('interrupted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('article_id', 'channel', 'action', 'revision',
                        name='uq_delivery_actions')
    )
    op.create_index(op.f('ix_delivery_actions_delivery_id'), 'delivery_actions',
                    ['delivery_id'], unique=False)
    op.create_index(op.f('ix_delivery_actions_article_id'), 'delivery_actions',
                    ['article_id'], unique=False)
    op.create_index(op.f('ix_delivery_actions_channel'), 'delivery_actions', ['channel'],
                    unique=False)
    op.create_index(op.f('ix_delivery_actions_state'), 'delivery_actions', ['state'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_actions_state'), table_name='delivery_actions')
    op.drop_index(op.f('ix_delivery_actions_channel'), table_name='delivery_actions')
    op.drop_index(op.f('ix_delivery_actions_article_id'), table_name='delivery_actions')
    op.drop_index(op.f('ix_delivery_actions_delivery_id'), table_name='delivery_actions')
    op.drop_table('delivery_actions')
