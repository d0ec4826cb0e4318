"""survey rounds can be cancelled; outbox messages know their survey round

Revision ID: e8b4d1f6a2c5
Revises: c5e8a1f3b7d9
Create Date: 2026-12-06 08:00:00

A survey round called off before any answer is `cancelled` (its kind may be set up
again: one live round per kind and year, a partial unique index); a message that lost
its purpose (its round closed or was cancelled before it went) is `void`. A round keeps
the address its links were written with (`link_base`), for invitations sent later. Each
invitation's and reminder's message carries its round (`round_id`), filled in here
from the invitations that name them.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e8b4d1f6a2c5'
down_revision = 'c5e8a1f3b7d9'
branch_labels = None
depends_on = None

ROUND_OLD = "('draft', 'open', 'closed')"
ROUND_NEW = "('draft', 'open', 'closed', 'cancelled')"
OUTBOX_OLD = "('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed')"
OUTBOX_NEW = "('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'void')"
LIVE = sa.text("status != 'cancelled'")


def _check(table: str, column: str, name: str, values: str) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.drop_constraint(batch_op.f(f'ck_{table}_{name}'), type_='check')
        batch_op.create_check_constraint(name, sa.text(f"{column} IN {values}"))


def upgrade() -> None:
    _check('survey_round', 'status', 'round_status', ROUND_NEW)
    _check('online_round', 'status', 'round_status', ROUND_NEW)
    _check('sms_outbox', 'status', 'outbox_status', OUTBOX_NEW)
    with op.batch_alter_table('survey_round') as batch_op:
        batch_op.add_column(sa.Column('link_base', sa.String(length=255), nullable=True))
        batch_op.drop_constraint('uq_survey_round_campaign_id_kind', type_='unique')
        batch_op.create_index('uq_survey_round_live_kind', ['campaign_id', 'kind'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)
    with op.batch_alter_table('sms_outbox') as batch_op:
        batch_op.add_column(sa.Column('round_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sms_outbox_round_id_survey_round'), 'survey_round', ['round_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_sms_outbox_round_id'), ['round_id'], unique=False)
    for column in ('message_id', 'reminder_id'):
        op.execute(
            f"UPDATE sms_outbox SET round_id = (SELECT invitation.round_id FROM invitation "
            f"WHERE invitation.{column} = sms_outbox.id) "
            f"WHERE round_id IS NULL AND id IN (SELECT {column} FROM invitation WHERE {column} IS NOT NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM survey_round WHERE status = 'cancelled'")
    op.execute("UPDATE sms_outbox SET status = 'failed' WHERE status = 'void'")
    with op.batch_alter_table('sms_outbox') as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_outbox_round_id'))
        batch_op.drop_constraint(batch_op.f('fk_sms_outbox_round_id_survey_round'), type_='foreignkey')
        batch_op.drop_column('round_id')
    with op.batch_alter_table('survey_round') as batch_op:
        batch_op.drop_column('link_base')
        batch_op.drop_index('uq_survey_round_live_kind')
        batch_op.create_unique_constraint('uq_survey_round_campaign_id_kind', ['campaign_id', 'kind'])
    _check('sms_outbox', 'status', 'outbox_status', OUTBOX_OLD)
    _check('online_round', 'status', 'round_status', ROUND_OLD)
    _check('survey_round', 'status', 'round_status', ROUND_OLD)
