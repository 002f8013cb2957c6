"""the editors' review app: sign-in links and per-impact actions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('login_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_tokens_created_at'), ['created_at'], unique=False)
    op.create_table('impact_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('guide', sa.String(length=200), nullable=False),
    sa.Column('section', sa.String(length=300), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('acted_by', sa.Text(), nullable=False),
    sa.Column('acted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['change_id'], ['changes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('impact_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_impact_actions_change_id'), ['change_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_impact_actions_source_id'), ['source_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('impact_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_impact_actions_source_id'))
        batch_op.drop_index(batch_op.f('ix_impact_actions_change_id'))
    op.drop_table('impact_actions')
    with op.batch_alter_table('login_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_tokens_created_at'))
    op.drop_table('login_tokens')
