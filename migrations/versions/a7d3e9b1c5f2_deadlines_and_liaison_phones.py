"""the office's deadlines for the units, and the liaisons' phones for their reminders

Revision ID: a7d3e9b1c5f2
Revises: f2a6c8e0b4d7
Create Date: 2026-12-06 11:40:00

The user table gains `phone`, sealed like every phone column (voting/core/vault.py); it is
empty after the upgrade, so no number needs sealing here.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7d3e9b1c5f2'
down_revision = 'f2a6c8e0b4d7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'deadline',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('list_h1', 'list_h2', 'supervisor', name='deadline_kind', native_enum=False,
                                  create_constraint=True, length=24), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('remind_days', sa.Integer(), nullable=False),
        sa.Column('auto_reminded_for', sa.Date(), nullable=True),
        sa.CheckConstraint('remind_days >= 0 AND remind_days <= 60', name=op.f('ck_deadline_remind_days')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_deadline_campaign_id_campaign'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline')),
        sa.UniqueConstraint('campaign_id', 'kind', name=op.f('uq_deadline_campaign_id_kind')),
    )
    with op.batch_alter_table('deadline') as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_campaign_id'), ['campaign_id'], unique=False)
    with op.batch_alter_table('user') as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user') as batch_op:
        batch_op.drop_column('phone')
    with op.batch_alter_table('deadline') as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_campaign_id'))
    op.drop_table('deadline')
