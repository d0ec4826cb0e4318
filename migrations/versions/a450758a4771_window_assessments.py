"""window assessments: schemes' assessments, entities, periods, records

Revision ID: a450758a4771
Revises: b8e1f4a7c2d6
Create Date: 2026-12-07 03:19:02.036119

A service centre's window assessments run by a scheme (docs/schemes.md): the scheme's
text as loaded, the entities it assesses, its periods (open or closed) and their
records, and other places' figures for the rank rules. Points are integer thousandths.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a450758a4771'
down_revision = 'b8e1f4a7c2d6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scheme_text', sa.Text(), nullable=False),
    sa.Column('scheme_source', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment')),
    sa.UniqueConstraint('name', name=op.f('uq_assessment_name'))
    )
    op.create_table('assessed_entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('group_id', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('window', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_assessed_entity_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessed_entity')),
    sa.UniqueConstraint('assessment_id', 'name', name=op.f('uq_assessed_entity_assessment_id_name'))
    )
    with op.batch_alter_table('assessed_entity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessed_entity_assessment_id'), ['assessment_id'], unique=False)

    op.create_table('assessment_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_assessment_period_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_period')),
    sa.UniqueConstraint('assessment_id', 'label', name=op.f('uq_assessment_period_assessment_id_label'))
    )
    with op.batch_alter_table('assessment_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_period_assessment_id'), ['assessment_id'], unique=False)

    op.create_table('assessment_comparison',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=60), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=False),
    sa.Column('figure', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_assessment_comparison_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['period_id'], ['assessment_period.id'], name=op.f('fk_assessment_comparison_period_id_assessment_period'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_comparison'))
    )
    with op.batch_alter_table('assessment_comparison', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_comparison_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_comparison_period_id'), ['period_id'], unique=False)

    op.create_table('assessment_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=60), nullable=False),
    sa.Column('on', sa.Date(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=60), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_assessment_record_count')),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_assessment_record_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['period_id'], ['assessment_period.id'], name=op.f('fk_assessment_record_period_id_assessment_period'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_record'))
    )
    with op.batch_alter_table('assessment_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_record_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_record_period_id'), ['period_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assessment_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_record_period_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_record_entity_id'))

    op.drop_table('assessment_record')
    with op.batch_alter_table('assessment_comparison', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_comparison_period_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_comparison_entity_id'))

    op.drop_table('assessment_comparison')
    with op.batch_alter_table('assessment_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_period_assessment_id'))

    op.drop_table('assessment_period')
    with op.batch_alter_table('assessed_entity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessed_entity_assessment_id'))

    op.drop_table('assessed_entity')
    op.drop_table('assessment')
