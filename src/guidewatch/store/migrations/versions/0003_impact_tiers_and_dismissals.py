"""impact tiers and claims; editors' "not relevant" marks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('impacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier', sa.String(length=10), nullable=False, server_default='reread'))
        batch_op.add_column(sa.Column('claim', sa.Text(), nullable=False, server_default=''))
    op.create_table('dismissals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('guide', sa.String(length=200), nullable=False),
    sa.Column('section', sa.String(length=300), nullable=False),
    sa.Column('source_section', sa.JSON(), nullable=False),
    sa.Column('dismissed_by', sa.Text(), nullable=False),
    sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dismissals_source_id'), ['source_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dismissals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dismissals_source_id'))
    op.drop_table('dismissals')
    with op.batch_alter_table('impacts', schema=None) as batch_op:
        batch_op.drop_column('claim')
        batch_op.drop_column('tier')
