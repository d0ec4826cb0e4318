"""window assessments: an entity's unit, whose liaison sees its scores

Revision ID: c3d7e9a1b5f2
Revises: a450758a4771
Create Date: 2026-12-07 07:40:00

An assessed window (or department, town, staff member) may belong to a unit (单位) of
the evaluation's lists; that unit's liaison then sees the entity's scores, rank and
items, and nothing of the other entities.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3d7e9a1b5f2'
down_revision = 'a450758a4771'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assessed_entity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assessed_entity_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_assessed_entity_unit_id_unit'), 'unit', ['unit_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('assessed_entity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assessed_entity_unit_id_unit'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assessed_entity_unit_id'))
        batch_op.drop_column('unit_id')
