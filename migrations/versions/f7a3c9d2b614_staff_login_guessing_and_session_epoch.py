"""staff login guessing limits and session epoch

Revision ID: f7a3c9d2b614
Revises: e5b8d0a4c7f3
Create Date: 2026-12-06 09:30:00.000000

Every existing staff session names no epoch and ends at the upgrade: each user logs
in again once.
"""
from alembic import op
import sqlalchemy as sa


revision = 'f7a3c9d2b614'
down_revision = 'e5b8d0a4c7f3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_login_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('locked_at')
        batch_op.drop_column('next_login_at')
        batch_op.drop_column('failed_logins')
