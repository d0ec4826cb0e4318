"""invitation codes sealed at rest, found by a keyed hash

Revision ID: 7b1c9d3e5f20
Revises: f7a3c9d2b614
Create Date: 2026-12-06 02:00:00

An invitation's code is sealed like a phone number (voting/core/vault.py) and found by
`code_hash`; the one-code-per-round rule moves to the hash. Codes already stored are
sealed in place with the app's PHONE_KEY, so with any invitation stored this must run
as `pingyi db upgrade`; downgrading opens them again.
"""
from alembic import op
import sqlalchemy as sa


revision = '7b1c9d3e5f20'
down_revision = 'f7a3c9d2b614'
branch_labels = None
depends_on = None


def _vault():
    from flask import current_app, has_app_context

    from voting.core.vault import PhoneVault

    if not has_app_context() or not current_app.config.get('PHONE_KEY'):
        raise RuntimeError('数据库中已有评价码:请用 pingyi db upgrade 迁移(需要 PHONE_KEY 来加密它们)')
    return PhoneVault(current_app.config['PHONE_KEY'])


def _convert(forward: bool) -> None:
    from voting.core.vault import EncryptedCode

    connection = op.get_bind()
    rows = connection.execute(sa.text('SELECT id, code FROM invitation WHERE code IS NOT NULL')).all()
    if not rows:
        return
    vault, aad = _vault(), EncryptedCode.aad
    if forward:
        values = [{'i': i, 'c': vault.seal(c, aad), 'h': vault.code_lookup(c)} for i, c in rows]
        sql = 'UPDATE invitation SET code = :c, code_hash = :h WHERE id = :i'
    else:
        values = [{'i': i, 'c': vault.open(c, aad)} for i, c in rows]
        sql = 'UPDATE invitation SET code = :c WHERE id = :i'
    connection.execute(sa.text(sql), values)


def _base36(number: int) -> str:
    digits = ''
    while True:
        number, digit = divmod(number, 36)
        digits = '0123456789abcdefghijklmnopqrstuvwxyz'[digit] + digits
        if not number:
            return digits


def upgrade() -> None:
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_invitation_round_id_code'), type_='unique')
        batch_op.alter_column('code', existing_type=sa.String(length=8), type_=sa.String(length=80),
                              existing_nullable=False, nullable=True)
        batch_op.add_column(sa.Column('code_hash', sa.String(length=32), nullable=True))
    _convert(forward=True)
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_invitation_round_id_code_hash'), ['round_id', 'code_hash'])


def downgrade() -> None:
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_invitation_round_id_code_hash'), type_='unique')
    _convert(forward=False)
    # Codes erased by the retention command stay erased: the old schema had no NULL code
    # and one code per round, so each gets a placeholder no citizen can type ("~" and
    # the row's id in base 36).
    connection = op.get_bind()
    erased = connection.execute(sa.text('SELECT id FROM invitation WHERE code IS NULL')).scalars().all()
    if erased:
        connection.execute(sa.text('UPDATE invitation SET code = :c WHERE id = :i'),
                           [{'i': i, 'c': '~' + _base36(i)} for i in erased])
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('code_hash')
        batch_op.alter_column('code', existing_type=sa.String(length=80), type_=sa.String(length=8),
                              existing_nullable=True, nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_invitation_round_id_code'), ['round_id', 'code'])
