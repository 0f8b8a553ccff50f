"""an operating-system account per algorithm

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_accounts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('algorithm_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['algorithm_id'], ['algorithms.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('algorithm_id'),
    sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table('worker_accounts')
