"""rating limits: the device and network counts on partial indexes of counted ratings

Revision ID: b3d5f7a9c1e2
Revises: a7c3e9f1b5d2
Create Date: 2026-12-07 15:40:00

The limits count only counted ratings (voting/ratings/ratings.py): the device's and the
network's indexes now hold those alone, so that each count is read from the index
without visiting the table. Same columns; no data changes.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b3d5f7a9c1e2'
down_revision = 'a7c3e9f1b5d2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_device_day')
        batch_op.drop_index('ix_rating_network_created_at')
        batch_op.create_index('ix_rating_counted_device_day', ['device', 'day'], unique=False,
                              postgresql_where=sa.text('counted'), sqlite_where=sa.text('counted'))
        batch_op.create_index('ix_rating_counted_network_created_at', ['network', 'created_at'], unique=False,
                              postgresql_where=sa.text('counted'), sqlite_where=sa.text('counted'))


def downgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_counted_network_created_at')
        batch_op.drop_index('ix_rating_counted_device_day')
        batch_op.create_index('ix_rating_network_created_at', ['network', 'created_at'], unique=False)
        batch_op.create_index('ix_rating_device_day', ['device', 'day'], unique=False)
