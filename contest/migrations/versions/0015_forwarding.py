"""Rounds that move up the chain: a contest forwards a quota of its best entries per unit
and division to the next level's contest; a forwarded entry remembers where it came from
(04/12/2026).

On SQLite a table is changed by rebuilding it, which its triggers (the tallies of 0009, on
``entries`` and on tables whose triggers read it) would not survive: they are read before and
put back after, unchanged.
"""

import contextlib

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'

# (table, column, its type, the table it references or None)
COLUMNS = [
    ('contests', 'forwards_to_id', sa.Integer, 'contests'),
    ('contests', 'forward_quota', sa.Integer, None),
    ('entries', 'forwarded_from_id', sa.Integer, 'entries'),
    ('entries', 'forwarded_score', sa.Float, None),
]
INDEXES = [
    ('uq_entries_contest_id_forwarded_from_id', ['contest_id', 'forwarded_from_id'], True),
    ('ix_entries_forwarded_from_id', ['forwarded_from_id'], False),
]


def _fk(table, column, target):
    return f'fk_{table}_{column}_{target}'


@contextlib.contextmanager
def _triggers_kept():
    """On SQLite every trigger (those on other tables read ``entries`` too, which a rebuild
    renames) is dropped for the changes and put back after them, unchanged."""
    bind = op.get_bind()
    triggers = []
    if bind.dialect.name == 'sqlite':
        triggers = bind.execute(
            sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        ).all()
        for name, _sql in triggers:
            op.execute(f'DROP TRIGGER {name}')
    yield
    for _name, sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    with _triggers_kept():
        _upgrade()


def _upgrade() -> None:
    for table in ('contests', 'entries'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _table, column, kind, target in (c for c in COLUMNS if c[0] == table):
                batch_op.add_column(sa.Column(column, kind(), nullable=True))
                if target:
                    batch_op.create_foreign_key(
                        _fk(table, column, target), target, [column], ['id'], ondelete='SET NULL'
                    )
            if table == 'entries':
                for name, columns, unique in INDEXES:
                    batch_op.create_index(name, columns, unique=unique)


def downgrade() -> None:
    with _triggers_kept():
        _downgrade()


def _downgrade() -> None:
    for table in ('entries', 'contests'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'entries':
                for name, _columns, _unique in reversed(INDEXES):
                    batch_op.drop_index(name)
            for _table, column, _kind, target in (c for c in COLUMNS if c[0] == table):
                if target:
                    batch_op.drop_constraint(_fk(table, column, target), type_='foreignkey')
                batch_op.drop_column(column)
