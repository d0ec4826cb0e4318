"""window ratings: rating addresses (评议二维码) and phone verification codes

Revision ID: d8f1a3c5e7b9
Revises: c3d7e9a1b5f2
Create Date: 2026-12-08 09:00:00

The foundation of citizens' ratings at the window: a signed, revocable rating address
for a section, a window of a window assessment or one case (its 办件编号), and the
6-digit SMS codes that confirm a citizen's phone, kept only as keyed hashes, with their
expiry, single use and wrong tries.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd8f1a3c5e7b9'
down_revision = 'c3d7e9a1b5f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rating_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('section', 'window', 'case', name='rating_code_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('case_ref', sa.String(length=64), nullable=True),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=80), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('(section_id IS NULL) <> (entity_id IS NULL)', name=op.f('ck_rating_code_one_place')),
    sa.CheckConstraint("(kind = 'section' AND section_id IS NOT NULL AND case_ref IS NULL) OR (kind = 'window' AND entity_id IS NOT NULL AND case_ref IS NULL) OR (kind = 'case' AND case_ref IS NOT NULL)", name=op.f('ck_rating_code_kind_matches')),
    sa.CheckConstraint('revoked_at IS NULL OR (revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)', name=op.f('ck_rating_code_revoked_with_reason')),
    sa.ForeignKeyConstraint(['entity_id'], ['assessed_entity.id'], name=op.f('fk_rating_code_entity_id_assessed_entity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_rating_code_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_code'))
    )
    with op.batch_alter_table('rating_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_code_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_code_section_id'), ['section_id'], unique=False)
        batch_op.create_index('uq_rating_code_live_section', ['section_id'], unique=True,
                              postgresql_where=sa.text("kind = 'section' AND revoked_at IS NULL"),
                              sqlite_where=sa.text("kind = 'section' AND revoked_at IS NULL"))
        batch_op.create_index('uq_rating_code_live_window', ['entity_id'], unique=True,
                              postgresql_where=sa.text("kind = 'window' AND revoked_at IS NULL"),
                              sqlite_where=sa.text("kind = 'window' AND revoked_at IS NULL"))

    op.create_table('phone_verification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_hash', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.CheckConstraint('tries >= 0', name=op.f('ck_phone_verification_tries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_verification'))
    )
    with op.batch_alter_table('phone_verification', schema=None) as batch_op:
        batch_op.create_index('ix_phone_verification_network_created_at', ['network', 'created_at'], unique=False)
        batch_op.create_index('ix_phone_verification_phone_hash_created_at', ['phone_hash', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('phone_verification', schema=None) as batch_op:
        batch_op.drop_index('ix_phone_verification_phone_hash_created_at')
        batch_op.drop_index('ix_phone_verification_network_created_at')

    op.drop_table('phone_verification')
    with op.batch_alter_table('rating_code', schema=None) as batch_op:
        batch_op.drop_index('uq_rating_code_live_window')
        batch_op.drop_index('uq_rating_code_live_section')
        batch_op.drop_index(batch_op.f('ix_rating_code_section_id'))
        batch_op.drop_index(batch_op.f('ix_rating_code_entity_id'))

    op.drop_table('rating_code')
