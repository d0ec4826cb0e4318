"""window ratings: case codes, verdict links, complaint decisions, served counts and 12345 rates

Revision ID: a7c3e9f1b5d2
Revises: e4b2c6d8f0a1
Create Date: 2026-12-07 12:06:39

A rating of a case's code carries the code again (`case_code_id`) under a partial unique
index, so that a case counts one rating; a closed 差评 case keeps the nonce of the
citizen's verdict link; the office's decision on each complaint (valid or not, its
reason, the 网络监督 deduction it made, the text the unit sees); the served cases per
section or window and month, and the 12345 hotline's revisits per unit, month and
level, for the ratings' figures. No backfill: no earlier rating of a case code exists
(the rating page that takes them comes with this revision).
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9f1b5d2'
down_revision = 'e4b2c6d8f0a1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rating_hotline_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('level', sa.Enum('province', 'city', name='rating_hotline_level', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('revisits', sa.Integer(), nullable=False),
    sa.Column('satisfied', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=80), nullable=False),
    sa.CheckConstraint('revisits >= 0 AND satisfied >= 0 AND satisfied <= revisits', name=op.f('ck_rating_hotline_rate_counts')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_rating_hotline_rate_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_hotline_rate')),
    sa.UniqueConstraint('unit_id', 'month', 'level', name=op.f('uq_rating_hotline_rate_unit_id_month_level'))
    )
    with op.batch_alter_table('rating_hotline_rate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_hotline_rate_unit_id'), ['unit_id'], unique=False)

    op.create_table('rating_served_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=24), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('served', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=80), nullable=False),
    sa.CheckConstraint('(section_id IS NULL) <> (entity_id IS NULL)', name=op.f('ck_rating_served_count_one_place')),
    sa.CheckConstraint('served >= 0', name=op.f('ck_rating_served_count_served')),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_rating_served_count_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_rating_served_count_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_served_count')),
    sa.UniqueConstraint('place', 'month', name=op.f('uq_rating_served_count_place_month'))
    )
    with op.batch_alter_table('rating_served_count', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_served_count_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_served_count_section_id'), ['section_id'], unique=False)

    op.create_table('complaint_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('platform_event_id', sa.Integer(), nullable=True),
    sa.Column('unit_text', sa.String(length=500), nullable=True),
    sa.CheckConstraint('(valid IS NULL AND reason IS NULL AND decided_by IS NULL AND decided_at IS NULL) OR (valid IS NOT NULL AND reason IS NOT NULL AND decided_by IS NOT NULL AND decided_at IS NOT NULL)', name=op.f('ck_complaint_decision_decided_complete')),
    sa.CheckConstraint('platform_event_id IS NULL OR valid = true', name=op.f('ck_complaint_decision_event_when_valid')),
    sa.ForeignKeyConstraint(['platform_event_id'], ['platform_event.id'], name=op.f('fk_complaint_decision_platform_event_id_platform_event'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_complaint_decision_rating_id_rating'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_decision')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_complaint_decision_rating_id'))
    )
    with op.batch_alter_table('complaint_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_decision_platform_event_id'), ['platform_event_id'], unique=False)

    with op.batch_alter_table('followup_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verdict_nonce', sa.String(length=32), nullable=True))

    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_code_id', sa.Integer(), nullable=True))
        batch_op.create_index('uq_rating_counted_case_code', ['case_code_id'], unique=True, postgresql_where=sa.text('counted AND case_code_id IS NOT NULL'), sqlite_where=sa.text('counted AND case_code_id IS NOT NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_rating_case_code_id_rating_code'), 'rating_code', ['case_code_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rating_case_code_id_rating_code'), type_='foreignkey')
        batch_op.drop_index('uq_rating_counted_case_code', postgresql_where=sa.text('counted AND case_code_id IS NOT NULL'), sqlite_where=sa.text('counted AND case_code_id IS NOT NULL'))
        batch_op.drop_column('case_code_id')

    with op.batch_alter_table('followup_case', schema=None) as batch_op:
        batch_op.drop_column('verdict_nonce')

    with op.batch_alter_table('complaint_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_decision_platform_event_id'))

    op.drop_table('complaint_decision')
    with op.batch_alter_table('rating_served_count', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_served_count_section_id'))
        batch_op.drop_index(batch_op.f('ix_rating_served_count_entity_id'))

    op.drop_table('rating_served_count')
    with op.batch_alter_table('rating_hotline_rate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_hotline_rate_unit_id'))

    op.drop_table('rating_hotline_rate')
