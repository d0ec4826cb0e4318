"""initial schema

Revision ID: 60dce39c5e11
Revises:
Create Date: 2026-11-23 09:15:08.813398
"""
from alembic import op
import sqlalchemy as sa


revision = '60dce39c5e11'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('year', name=op.f('uq_campaign_year'))
    )
    op.create_table('history_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_name', sa.String(length=100), nullable=False),
    sa.Column('section_name', sa.String(length=200), nullable=False),
    sa.Column('result', sa.Enum('satisfied', 'unsatisfied', 'most_unsatisfied', name='result', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_result')),
    sa.UniqueConstraint('year', 'unit_name', 'section_name', name=op.f('uq_history_result_year_unit_name_section_name'))
    )
    with op.batch_alter_table('history_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_result_year'), ['year'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_unit_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('campaign_id', 'name', name=op.f('uq_unit_campaign_id_name'))
    )
    op.create_table('section',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_enforcement', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_section_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section')),
    sa.UniqueConstraint('unit_id', 'name', name=op.f('uq_section_unit_id_name'))
    )
    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_unit_id'), ['unit_id'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('admin', 'operator', 'liaison', 'auditor', name='role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role != 'liaison' OR unit_id IS NOT NULL", name=op.f('ck_user_liaison_has_unit')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_user_unit_id_unit'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('username', name=op.f('uq_user_username'))
    )
    op.create_table('object_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Enum('H1', 'H2', name='round_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_object_import_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_object_import_uploaded_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_object_import'))
    )
    op.create_table('section_list',
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Enum('H1', 'H2', name='round_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('objects', sa.Integer(), nullable=False),
    sa.Column('penalized', sa.Integer(), nullable=False),
    sa.Column('all_penalized_reported', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['object_import.id'], name=op.f('fk_section_list_import_id_object_import'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_list_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('section_id', 'round', name=op.f('pk_section_list'))
    )
    op.create_table('service_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Enum('H1', 'H2', name='round_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('org_title', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('matter', sa.Text(), nullable=False),
    sa.Column('penalized', sa.Boolean(), nullable=False),
    sa.Column('source_row', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['object_import.id'], name=op.f('fk_service_object_import_id_object_import'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_service_object_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_object')),
    sa.UniqueConstraint('section_id', 'round', 'phone', name=op.f('uq_service_object_section_id_round_phone'))
    )
    with op.batch_alter_table('service_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_object_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_object_phone'), ['phone'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('service_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_object_phone'))
        batch_op.drop_index(batch_op.f('ix_service_object_import_id'))

    op.drop_table('service_object')
    op.drop_table('section_list')
    op.drop_table('object_import')
    op.drop_table('user')
    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_unit_id'))

    op.drop_table('section')
    op.drop_table('unit')
    with op.batch_alter_table('history_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_result_year'))

    op.drop_table('history_result')
    op.drop_table('campaign')
