"""guides a publisher's sitemap added or dropped, for the audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('guide_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('guide_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guide_events_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('guide_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guide_events_at'))
    op.drop_table('guide_events')
