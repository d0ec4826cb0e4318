"""the ballot box: sealed pending ballots moved in shuffled batches

Revision ID: c5e8a1f3b7d9
Revises: 9d4e2a7c1b38
Create Date: 2026-12-06 05:00:00

A ballot is no longer written in the transaction that marks its evaluator as having
voted: it is sealed into `pending_ballot` there, and moved into `ballot` with at least
20 others in a shuffled order (voting/online/ballots.py). Ballots keep no time (their
hour is dropped) and say which move brought them (`batch`).

The ballots already stored were written next to their evaluators' "has voted" rows: the
upgrade writes each round's ballots again, in a shuffled order, in its own transaction,
as one batch, so that the old traces (PostgreSQL's xmin, the rows' order) no longer
lead from an evaluator to a ballot. The old row versions stay in the database's files
until PostgreSQL's VACUUM (or SQLite's VACUUM) reclaims them: run one after upgrading.
"""
import random
import secrets

from alembic import op
import sqlalchemy as sa


revision = 'c5e8a1f3b7d9'
down_revision = '9d4e2a7c1b38'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_ballot',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['online_round.id'], name=op.f('fk_pending_ballot_round_id_online_round'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_ballot')),
    )
    with op.batch_alter_table('pending_ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_ballot_round_id'), ['round_id'], unique=False)
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('cast_hour')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.alter_column('batch', server_default=None)
    _reshuffle_stored_ballots()


def _reshuffle_stored_ballots() -> None:
    """Each round's stored ballots and marks deleted and written again in a random order
    (new ids too), as the round's batch 1."""
    bind = op.get_bind()
    ballot = sa.table('ballot', sa.column('id'), sa.column('round_id'), sa.column('receipt'), sa.column('salt'),
                      sa.column('batch'))
    mark = sa.table('ballot_mark', sa.column('ballot_id'), sa.column('section_id'), sa.column('choice'))
    shuffle = random.SystemRandom().shuffle
    for (round_id,) in bind.execute(sa.select(ballot.c.round_id).distinct()).all():
        rows = bind.execute(sa.select(ballot.c.id, ballot.c.receipt, ballot.c.salt)
                            .where(ballot.c.round_id == round_id)).all()
        marks: dict[str, list[tuple[int, str]]] = {}
        for ballot_id, section_id, choice in bind.execute(
            sa.select(mark.c.ballot_id, mark.c.section_id, mark.c.choice)
            .where(mark.c.ballot_id.in_(sa.select(ballot.c.id).where(ballot.c.round_id == round_id)))
        ):
            marks.setdefault(ballot_id, []).append((section_id, choice))
        bind.execute(mark.delete().where(mark.c.ballot_id.in_(sa.select(ballot.c.id).where(ballot.c.round_id == round_id))))
        bind.execute(ballot.delete().where(ballot.c.round_id == round_id))
        shuffle(rows)
        new_ballots, new_marks = [], []
        for old_id, receipt, salt in rows:
            new_id = secrets.token_hex(16)
            new_ballots.append({"id": new_id, "round_id": round_id, "receipt": receipt, "salt": salt, "batch": 1})
            new_marks.extend({"ballot_id": new_id, "section_id": s, "choice": c} for s, c in marks.get(old_id, []))
        bind.execute(ballot.insert(), new_ballots)
        if new_marks:
            bind.execute(mark.insert(), new_marks)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM pending_ballot")).scalar():
        raise RuntimeError("pending_ballot still holds sealed ballots: close their online rounds (which moves them "
                           "into the ballot box) before downgrading")
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        # No ballot keeps its time any more: the round's opening hour stands in for it.
        batch_op.add_column(sa.Column('cast_hour', sa.DateTime(timezone=True), nullable=True))
    bind.execute(sa.text(
        "UPDATE ballot SET cast_hour = (SELECT coalesce(opened_at, CURRENT_TIMESTAMP) FROM online_round"
        " WHERE online_round.id = ballot.round_id)"
    ))
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.alter_column('cast_hour', nullable=False)
        batch_op.drop_column('batch')
    with op.batch_alter_table('pending_ballot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_ballot_round_id'))
    op.drop_table('pending_ballot')
