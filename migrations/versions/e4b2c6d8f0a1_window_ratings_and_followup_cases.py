"""window ratings: the citizens' ratings (好差评) and the follow-up cases of 差评

Revision ID: e4b2c6d8f0a1
Revises: d8f1a3c5e7b9
Create Date: 2026-12-08 14:00:00

A rating from a rating address, its five levels and the three-level result of the time,
the 差评's categories and text, whether it counts in the figures (one counted rating
per confirmed phone per place per local day: a partial unique index), and keyed hashes
of the phone, device and network; one follow-up case per counted 差评, with its working
days' clock, the office's call-back, the unit's rectification and the citizen's verdict.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e4b2c6d8f0a1'
down_revision = 'd8f1a3c5e7b9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=24), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('result', sa.Enum('satisfied', 'basic', 'unsatisfied', name='rating_result', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('phone_hash', sa.String(length=32), nullable=True),
    sa.Column('device', sa.String(length=32), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_rating_level')),
    sa.CheckConstraint('(section_id IS NULL) <> (entity_id IS NULL)', name=op.f('ck_rating_one_place')),
    sa.ForeignKeyConstraint(['code_id'], ['rating_code.id'], name=op.f('fk_rating_code_id_rating_code'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_rating_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_rating_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating'))
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_code_id'), ['code_id'], unique=False)
        batch_op.create_index('ix_rating_device_day', ['device', 'day'], unique=False)
        batch_op.create_index('ix_rating_entity_id_day', ['entity_id', 'day'], unique=False)
        batch_op.create_index('ix_rating_network_created_at', ['network', 'created_at'], unique=False)
        batch_op.create_index('ix_rating_section_id_day', ['section_id', 'day'], unique=False)
        batch_op.create_index('uq_rating_counted_phone_place_day', ['phone_hash', 'place', 'day'], unique=True,
                              postgresql_where=sa.text('counted AND phone_hash IS NOT NULL'),
                              sqlite_where=sa.text('counted AND phone_hash IS NOT NULL'))

    op.create_table('followup_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_estimated', sa.Boolean(), nullable=False),
    sa.Column('phone', sa.String(length=80), nullable=True),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_by', sa.String(length=80), nullable=True),
    sa.Column('callback_finding', sa.String(length=1000), nullable=True),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rectified_by', sa.String(length=80), nullable=True),
    sa.Column('rectification', sa.String(length=1000), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=80), nullable=True),
    sa.Column('citizen_satisfied', sa.Boolean(), nullable=True),
    sa.Column('citizen_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(section_id IS NULL) <> (entity_id IS NULL)', name=op.f('ck_followup_case_one_place')),
    sa.CheckConstraint('callback_at IS NULL OR (callback_by IS NOT NULL AND callback_finding IS NOT NULL)', name=op.f('ck_followup_case_callback_complete')),
    sa.CheckConstraint('rectified_at IS NULL OR (rectified_by IS NOT NULL AND rectification IS NOT NULL)', name=op.f('ck_followup_case_rectification_complete')),
    sa.CheckConstraint('closed_at IS NULL OR (closed_by IS NOT NULL AND callback_at IS NOT NULL)', name=op.f('ck_followup_case_closed_after_callback')),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_followup_case_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_followup_case_rating_id_rating'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_followup_case_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_case')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_followup_case_rating_id'))
    )
    with op.batch_alter_table('followup_case', schema=None) as batch_op:
        batch_op.create_index('ix_followup_case_closed_at_due_at', ['closed_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_case_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_case_section_id'), ['section_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('followup_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followup_case_section_id'))
        batch_op.drop_index(batch_op.f('ix_followup_case_entity_id'))
        batch_op.drop_index('ix_followup_case_closed_at_due_at')

    op.drop_table('followup_case')
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index('uq_rating_counted_phone_place_day', sqlite_where=sa.text('counted AND phone_hash IS NOT NULL'),
                            postgresql_where=sa.text('counted AND phone_hash IS NOT NULL'))
        batch_op.drop_index('ix_rating_section_id_day')
        batch_op.drop_index('ix_rating_network_created_at')
        batch_op.drop_index('ix_rating_entity_id_day')
        batch_op.drop_index('ix_rating_device_day')
        batch_op.drop_index(batch_op.f('ix_rating_code_id'))

    op.drop_table('rating')
