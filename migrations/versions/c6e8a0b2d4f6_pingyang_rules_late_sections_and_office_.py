"""pingyang rules: late sections and office deductions, units' forms, consequences, list integrity

Revision ID: c6e8a0b2d4f6
Revises: b3d5f7a9c1e2
Create Date: 2026-12-07 16:18:04

The rest of Pingyang's rules (docs/rules.md §2.7, §2.16, §3.10, §3.11): a section added
late (应报未报补录: `section.listed_late_on`, `late_reason`) and the review office's own
inspection deductions (the kinds 'unreported' and 'discretionary', with their points,
reason, the section found missing and the batch they are undone by); the units' 附件4
服务承诺表 and 附件5 工作人员联系表 with their sealed phones; the office's record of each
consequence carried out; the list-integrity flags, and the keyed hash of a web vote's
network (`vote.network`, for the answer-burst check). No backfill: every new column is
empty or defaulted for the rows that exist.
"""
from alembic import op
import sqlalchemy as sa

OLD_KINDS = "kind IN ('county', 'city', 'complaint', 'case')"
NEW_KINDS = "kind IN ('county', 'city', 'complaint', 'case', 'unreported', 'discretionary')"


revision = 'c6e8a0b2d4f6'
down_revision = 'b3d5f7a9c1e2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consequence_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=False),
    sa.Column('done_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(done_by) > 0', name=op.f('ck_consequence_record_done_by')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_consequence_record_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_consequence_record_recorded_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_consequence_record_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consequence_record')),
    sa.UniqueConstraint('campaign_id', 'key', name=op.f('uq_consequence_record_campaign_id_key'))
    )
    with op.batch_alter_table('consequence_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consequence_record_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consequence_record_unit_id'), ['unit_id'], unique=False)

    op.create_table('integrity_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Enum('H1', 'H2', name='round_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('kind', sa.Enum('staff_phone', 'shared_phone', 'copied_list', 'sequential_run', 'repeated_name', 'answer_burst', name='integrity_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('open', 'cleared', 'acted', name='integrity_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('times_found', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_integrity_flag_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_integrity_flag_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_flag')),
    sa.UniqueConstraint('section_id', 'round', 'kind', name=op.f('uq_integrity_flag_section_id_round_kind'))
    )
    with op.batch_alter_table('integrity_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrity_flag_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('section_commitment',
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('head_name', sa.String(length=50), nullable=False),
    sa.Column('head_phone', sa.String(length=80), nullable=True),
    sa.Column('head_short', sa.String(length=80), nullable=True),
    sa.Column('liaison_name', sa.String(length=50), nullable=False),
    sa.Column('liaison_phone', sa.String(length=80), nullable=True),
    sa.Column('liaison_short', sa.String(length=80), nullable=True),
    sa.Column('duties', sa.Text(), nullable=False),
    sa.Column('commitment', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_commitment_section_id_section'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_section_commitment_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('section_id', name=op.f('pk_section_commitment'))
    )
    op.create_table('staff_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.Enum('leader', 'head', 'liaison', 'staff', name='staff_role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('post', sa.String(length=100), nullable=False),
    sa.Column('office_phone', sa.String(length=80), nullable=True),
    sa.Column('phone', sa.String(length=80), nullable=True),
    sa.Column('phone_hash', sa.String(length=32), nullable=True),
    sa.Column('qq', sa.String(length=80), nullable=True),
    sa.Column('source_row', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_staff_contact_section_id_section'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_staff_contact_unit_id_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_staff_contact_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_contact'))
    )
    with op.batch_alter_table('staff_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_contact_phone_hash'), ['phone_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_contact_section_id'), ['section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_contact_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('inspection_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deduction', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('missing_section_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('batch', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_inspection_event_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_event_missing_section_id'), ['missing_section_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inspection_event_missing_section_id_section'), 'section', ['missing_section_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_inspection_event_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_inspection_event_kind'), sa.text(NEW_KINDS))
        batch_op.create_check_constraint(batch_op.f('ck_inspection_event_deduction'), sa.text('deduction IS NULL OR deduction > 0'))
        batch_op.create_check_constraint(batch_op.f('ck_inspection_event_discretionary_deduction'),
                                         sa.text("kind != 'discretionary' OR deduction IS NOT NULL"))
        batch_op.create_check_constraint(batch_op.f('ck_inspection_event_unreported_section'),
                                         sa.text("kind != 'unreported' OR missing_section_id IS NOT NULL"))

    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_late_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('late_reason', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('network', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_column('network')

    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.drop_column('late_reason')
        batch_op.drop_column('listed_late_on')

    # The office's own deductions go with the kinds that allowed them.
    op.execute("DELETE FROM inspection_event WHERE kind IN ('unreported', 'discretionary')")
    with op.batch_alter_table('inspection_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_inspection_event_unreported_section'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_inspection_event_discretionary_deduction'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_inspection_event_deduction'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_inspection_event_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_inspection_event_kind'), sa.text(OLD_KINDS))
        batch_op.drop_constraint(batch_op.f('fk_inspection_event_missing_section_id_section'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_inspection_event_missing_section_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_event_batch'))
        batch_op.drop_column('batch')
        batch_op.drop_column('missing_section_id')
        batch_op.drop_column('reason')
        batch_op.drop_column('deduction')

    with op.batch_alter_table('staff_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_contact_unit_id'))
        batch_op.drop_index(batch_op.f('ix_staff_contact_section_id'))
        batch_op.drop_index(batch_op.f('ix_staff_contact_phone_hash'))

    op.drop_table('staff_contact')
    op.drop_table('section_commitment')
    with op.batch_alter_table('integrity_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrity_flag_campaign_id'))

    op.drop_table('integrity_flag')
    with op.batch_alter_table('consequence_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consequence_record_unit_id'))
        batch_op.drop_index(batch_op.f('ix_consequence_record_campaign_id'))

    op.drop_table('consequence_record')
