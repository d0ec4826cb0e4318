"""reevaluation round: the 复评 of last year's 不满意单位 as a round kind 'R'

Revision ID: a9e3c7f5d1b8
Revises: c6e8a0b2d4f6
Create Date: 2026-12-07 19:40:00

The 复评 (docs/rules.md §2.19) is a survey round of its own kind, 'R': its rounds, lists,
list imports and integrity flags take the new value. Only the CHECK constraints of the
round-kind columns change. Going back refuses while any 复评 row exists (remove the
复评's round and lists first): the old constraints could not hold them.
"""
from alembic import op
import sqlalchemy as sa

# (table, its round-kind column)
COLUMNS = (("survey_round", "kind"), ("section_list", "round"), ("service_object", "round"),
           ("object_import", "round"), ("integrity_flag", "round"))


revision = 'a9e3c7f5d1b8'
down_revision = 'c6e8a0b2d4f6'
branch_labels = None
depends_on = None


def _recheck(kinds: str) -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_round_kind'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_round_kind'), sa.text(f"{column} IN ({kinds})"))


def upgrade() -> None:
    _recheck("'H1', 'H2', 'R'")


def downgrade() -> None:
    connection = op.get_bind()
    for table, column in COLUMNS:
        if connection.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} = 'R'")).scalar():
            raise RuntimeError(f"{table} 中还有复评（R）的记录：先删除复评轮次和复评名单，再降级数据库")
    _recheck("'H1', 'H2'")
