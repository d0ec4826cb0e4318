"""phone survey: each call that recorded no answer, and why

Revision ID: f2a6c8e0b4d7
Revises: e8b4d1f6a2c5
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'f2a6c8e0b4d7'
down_revision = 'e8b4d1f6a2c5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'call_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invitation_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.Enum('no_answer', 'refused', 'wrong_number', name='call_outcome', native_enum=False,
                                     create_constraint=True, length=24), nullable=False),
        sa.Column('operator_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_call_attempt_invitation_id_invitation'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['operator_id'], ['user.id'], name=op.f('fk_call_attempt_operator_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_attempt')),
    )
    with op.batch_alter_table('call_attempt') as batch_op:
        batch_op.create_index(batch_op.f('ix_call_attempt_invitation_id'), ['invitation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_attempt_invitation_id'))
    op.drop_table('call_attempt')
