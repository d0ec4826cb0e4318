"""phone numbers encrypted at rest, found by a keyed hash; retention

Revision ID: e5b8d0a4c7f3
Revises: c4e2f7a91b10
Create Date: 2026-12-05 05:10:00

Every phone column becomes a sealed value (voting/core/vault.py) and, but for the console
sender's table, gains `phone_hash`; the unique rules and lookups move to the hash.
Rows already stored are sealed in place with the app's PHONE_KEY, so this must run as
`pingyi db upgrade` (which has the app's configuration) when the database holds any
phone number; downgrading opens them again. And the campaign's `personal_data_erased_at`
(the retention command, voting/office/retention.py).
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b8d0a4c7f3'
down_revision = 'c4e2f7a91b10'
branch_labels = None
depends_on = None

# (table, has phone_hash, phone nullable after the upgrade)
TABLES = [
    ('service_object', True, True),
    ('sms_outbox', True, True),
    ('sms_console', False, False),
    ('invitation', True, True),
    ('evaluator', True, True),
]


def _vault():
    from flask import current_app, has_app_context

    from voting.core.vault import PhoneVault

    if not has_app_context() or not current_app.config.get('PHONE_KEY'):
        raise RuntimeError('数据库中已有手机号码:请用 pingyi db upgrade 迁移(需要 PHONE_KEY 来加密它们)')
    return PhoneVault(current_app.config['PHONE_KEY'])


def _convert(table: str, hashed: bool, forward: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f'SELECT id, phone FROM {table} WHERE phone IS NOT NULL')).all()
    if not rows:
        return
    vault = _vault()
    if forward:
        values = [{'i': i, 'p': vault.seal(p), 'h': vault.lookup(p)} for i, p in rows]
        sql = f'UPDATE {table} SET phone = :p, phone_hash = :h WHERE id = :i' if hashed else \
            f'UPDATE {table} SET phone = :p WHERE id = :i'
    else:
        values = [{'i': i, 'p': vault.open(p)} for i, p in rows]
        sql = f'UPDATE {table} SET phone = :p WHERE id = :i'
    connection.execute(sa.text(sql), values)


def upgrade() -> None:
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal_data_erased_at', sa.DateTime(timezone=True), nullable=True))
    for table, hashed, nullable in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('phone', existing_type=sa.String(length=11), type_=sa.String(length=80),
                                  existing_nullable=False, nullable=nullable)
            if hashed:
                batch_op.add_column(sa.Column('phone_hash', sa.String(length=32), nullable=True))
        _convert(table, hashed, forward=True)

    with op.batch_alter_table('service_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_object_phone'))
        batch_op.drop_constraint(batch_op.f('uq_service_object_section_id_round_phone'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_service_object_section_id_round_phone_hash'),
                                          ['section_id', 'round', 'phone_hash'])
        batch_op.create_index(batch_op.f('ix_service_object_phone_hash'), ['phone_hash'], unique=False)
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_outbox_phone_hash'), ['phone_hash'], unique=False)
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_phone'))
        batch_op.create_index(batch_op.f('ix_invitation_phone_hash'), ['phone_hash'], unique=False)
    with op.batch_alter_table('evaluator', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_evaluator_round_id_phone'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_evaluator_round_id_phone_hash'), ['round_id', 'phone_hash'])


def downgrade() -> None:
    with op.batch_alter_table('evaluator', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_evaluator_round_id_phone_hash'), type_='unique')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_phone_hash'))
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_outbox_phone_hash'))
    with op.batch_alter_table('service_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_object_phone_hash'))
        batch_op.drop_constraint(batch_op.f('uq_service_object_section_id_round_phone_hash'), type_='unique')

    for table, hashed, _nullable in TABLES:
        _convert(table, hashed, forward=False)
        # Numbers erased by the retention command stay erased: empty, as the old schema
        # had no NULL phone.
        op.get_bind().execute(sa.text(f"UPDATE {table} SET phone = '' WHERE phone IS NULL"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            if hashed:
                batch_op.drop_column('phone_hash')
            batch_op.alter_column('phone', existing_type=sa.String(length=80), type_=sa.String(length=11),
                                  existing_nullable=True, nullable=False)

    with op.batch_alter_table('service_object', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_service_object_section_id_round_phone'),
                                          ['section_id', 'round', 'phone'])
        batch_op.create_index(batch_op.f('ix_service_object_phone'), ['phone'], unique=False)
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_phone'), ['phone'], unique=False)
    with op.batch_alter_table('evaluator', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_evaluator_round_id_phone'), ['round_id', 'phone'])
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('personal_data_erased_at')
