"""outbox: the provider that sent a message, when it was handed over, the carrier's reason

Revision ID: b8e1f4a7c2d6
Revises: a7d3e9b1c5f2
Create Date: 2026-12-06 23:30:00.000000

`handed_at` marks a message given to the provider before the call: a worker that dies
after that point leaves the message marked uncertain instead of sent a second time.
`provider` names the sender, so that a receipt from one provider never touches another's
message; `delivery_error` keeps the carrier's reason for an undelivered message.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b8e1f4a7c2d6'
down_revision = 'a7d3e9b1c5f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_error', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_column('delivery_error')
        batch_op.drop_column('handed_at')
        batch_op.drop_column('provider')
