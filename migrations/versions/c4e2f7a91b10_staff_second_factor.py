"""staff second factor

Revision ID: c4e2f7a91b10
Revises: 3f9c9e5ff1d0
Create Date: 2026-12-05 04:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e2f7a91b10'
down_revision = '3f9c9e5ff1d0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
