"""Tallies and indexes for the organiser's pages at national size (03/12/2026).

The counts the dashboard, the judging page, the progress API and the report show are kept in
four small tables by triggers on entries, entrants and assignments, in the statement that
changes a row, so that a page reads a few rows instead of counting millions. PostgreSQL runs one trigger per
statement over its changed rows (a COPY of 20,000 assignments updates the tallies once);
SQLite one per row. Both run the same statements over the rows changed.
"""

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'


INDEXES = [
    ('units', 'ix_units_event_parent_name', ['event_id', 'parent_id', 'name', 'id'], None),
    ('results', 'ix_results_contest_prized', ['contest_id'], 'prize IS NOT NULL'),
    ('results', 'ix_results_contest_published', ['contest_id'], 'published_at IS NOT NULL'),
]

# Each tally's change from a set of changed rows ``{changes}``: the rows before the change
# counted -1, after it +1. The rows are summed in key order so that two statements changing
# the same tallies take their locks in the same order.
ENTRY_TALLY = """
    INSERT INTO entry_tallies (contest_id, status, entries)
    SELECT contest_id, status, sum(d) FROM ({changes}) AS c WHERE true
    GROUP BY contest_id, status HAVING sum(d) <> 0 ORDER BY contest_id, status
    ON CONFLICT (contest_id, status)
    DO UPDATE SET entries = entry_tallies.entries + excluded.entries
"""
# An entrant counts once they have a submitted entry: from the count of their submitted entries
# now (n) and the change (d), whether they had one before (n - d > 0) and have one now (n > 0).
# Counted by event, and by the entrant's unit (with the unit's submitted entries).
ENTRANTS_COUNTED = """
    SELECT en.{key} AS {key}, sum(t.d) AS entries,
        sum(CASE WHEN t.n > 0 THEN 1 ELSE 0 END - CASE WHEN t.n - t.d > 0 THEN 1 ELSE 0 END)
        AS entrants
    FROM (
        SELECT c.entrant_id, sum(c.d) AS d,
            (SELECT count(*) FROM entries e
             WHERE e.entrant_id = c.entrant_id AND e.status = 'submitted') AS n
        FROM ({{changes}}) AS c WHERE c.status = 'submitted' GROUP BY c.entrant_id
        HAVING sum(c.d) <> 0
    ) AS t JOIN entrants en ON en.id = t.entrant_id
    WHERE t.d <> 0 AND en.{key} IS NOT NULL GROUP BY en.{key}
"""
ENTRANT_TALLY = f"""
    INSERT INTO entrant_tallies (event_id, entrants)
    SELECT event_id, entrants FROM ({ENTRANTS_COUNTED.format(key='event_id')}) AS x
    WHERE true ORDER BY event_id
    ON CONFLICT (event_id)
    DO UPDATE SET entrants = entrant_tallies.entrants + excluded.entrants
"""
UNIT_TALLY = f"""
    INSERT INTO unit_tallies (unit_id, entries, entrants)
    SELECT unit_id, entries, entrants FROM ({ENTRANTS_COUNTED.format(key='unit_id')}) AS x
    WHERE true ORDER BY unit_id
    ON CONFLICT (unit_id) DO UPDATE SET entries = unit_tallies.entries + excluded.entries,
        entrants = unit_tallies.entrants + excluded.entrants
"""
# An entrant moved to another unit takes their submitted entries (n) along.
UNIT_MOVE = """
    INSERT INTO unit_tallies (unit_id, entries, entrants)
    SELECT unit_id, sum(d * n), sum(d * CASE WHEN n > 0 THEN 1 ELSE 0 END) FROM (
        SELECT c.unit_id, c.d,
            (SELECT count(*) FROM entries e
             WHERE e.entrant_id = c.id AND e.status = 'submitted') AS n
        FROM ({changes}) AS c WHERE c.unit_id IS NOT NULL
    ) AS moved WHERE true GROUP BY unit_id ORDER BY unit_id
    ON CONFLICT (unit_id) DO UPDATE SET entries = unit_tallies.entries + excluded.entries,
        entrants = unit_tallies.entrants + excluded.entrants
"""
# A round's assignments by status, in 16 rows a status (the judge's id modulo 16), so that
# judges scoring at once seldom wait for the same row. (A row per judge cost a bulk load of
# 20,000 assignments 20,000 more rows written: a third more time.)
ROUND_TALLY = """
    INSERT INTO round_tallies (round_id, status, shard, assignments)
    SELECT round_id, status, judge_id % 16, sum(d) FROM ({changes}) AS c WHERE true
    GROUP BY round_id, status, judge_id % 16 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (round_id, status, shard)
    DO UPDATE SET assignments = round_tallies.assignments + excluded.assignments
"""
ALL = ('insert', 'update', 'delete')
# Each table's changed columns and tallies, and the operations that change them. Entrants are
# never deleted (erasure blanks them), and a new one has no entries yet.
TALLIES = {
    'entries': (
        ('contest_id', 'status', 'entrant_id'), (ENTRY_TALLY, ENTRANT_TALLY, UNIT_TALLY), ALL
    ),
    'assignments': (('round_id', 'judge_id', 'status'), (ROUND_TALLY,), ALL),
    'entrants': (('id', 'unit_id'), (UNIT_MOVE,), ('update',)),
}
# Each tally filled from the rows already there.
FILL = [
    """INSERT INTO entry_tallies (contest_id, status, entries)
       SELECT contest_id, status, count(*) FROM entries GROUP BY contest_id, status""",
    """INSERT INTO entrant_tallies (event_id, entrants)
       SELECT en.event_id, count(*) FROM entrants en
       WHERE EXISTS (SELECT 1 FROM entries e WHERE e.entrant_id = en.id AND e.status = 'submitted')
       GROUP BY en.event_id""",
    """INSERT INTO round_tallies (round_id, status, shard, assignments)
       SELECT round_id, status, judge_id % 16, count(*) FROM assignments
       GROUP BY round_id, status, judge_id % 16""",
    """INSERT INTO unit_tallies (unit_id, entries, entrants)
       SELECT en.unit_id, count(*), count(DISTINCT en.id) FROM entrants en
       JOIN entries e ON e.entrant_id = en.id
       WHERE e.status = 'submitted' AND en.unit_id IS NOT NULL GROUP BY en.unit_id""",
]


def _changes(columns, operation, old, new):
    """The changed rows as a query: ``old`` and ``new`` name the rows before and after (a
    transition table's alias, or SQLite's OLD and NEW row)."""
    def rows(source, sign, from_clause):
        picked = ', '.join(f'{source}.{c} AS {c}' for c in columns)
        return f'SELECT {picked}, {sign} AS d{from_clause}'

    parts = []
    if operation in ('update', 'delete'):
        parts.append(rows(old, -1, f' FROM {old}' if old != 'OLD' else ''))
    if operation in ('insert', 'update'):
        parts.append(rows(new, 1, f' FROM {new}' if new != 'NEW' else ''))
    return ' UNION ALL '.join(parts)


def _postgresql_triggers(table, columns, statements, operations):
    for operation in operations:
        name = f'{table}_tally_{operation}'
        changes = _changes(columns, operation, 'old_rows', 'new_rows')
        body = ';\n'.join(s.format(changes=changes) for s in statements)
        referencing = {
            'insert': 'NEW TABLE AS new_rows',
            'update': 'OLD TABLE AS old_rows NEW TABLE AS new_rows',
            'delete': 'OLD TABLE AS old_rows',
        }[operation]
        op.execute(
            f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n'
            f'BEGIN\n{body};\nRETURN NULL;\nEND $$'
        )
        op.execute(
            f'CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} '
            f'REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()'
        )


def _sqlite_triggers(table, columns, statements, operations):
    for operation in operations:
        name = f'{table}_tally_{operation}'
        changes = _changes(columns, operation, 'OLD', 'NEW')
        body = ';\n'.join(s.format(changes=changes) for s in statements)
        on = f'UPDATE OF {", ".join(columns)}' if operation == 'update' else operation.upper()
        op.execute(f'CREATE TRIGGER {name} AFTER {on} ON {table} BEGIN\n{body};\nEND')


def upgrade() -> None:
    op.create_table('entry_tallies',
    sa.Column('contest_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('contest_id', 'status', name=op.f('pk_entry_tallies'))
    )
    op.create_table('entrant_tallies',
    sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entrants', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_entrant_tallies'))
    )
    op.create_table('round_tallies',
    sa.Column('round_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('assignments', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('round_id', 'status', 'shard', name=op.f('pk_round_tallies'))
    )
    op.create_table('unit_tallies',
    sa.Column('unit_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('entrants', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_tallies'))
    )
    for table, name, columns, where in INDEXES:
        condition = {} if where is None else {
            'postgresql_where': sa.text(where), 'sqlite_where': sa.text(where)
        }
        op.create_index(name, table, columns, unique=False, **condition)
    for statement in FILL:
        op.execute(statement)
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for table, (columns, statements, operations) in TALLIES.items():
        if postgresql:
            _postgresql_triggers(table, columns, statements, operations)
        else:
            _sqlite_triggers(table, columns, statements, operations)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for table, (_columns, _statements, operations) in TALLIES.items():
        for operation in operations:
            name = f'{table}_tally_{operation}'
            op.execute(f'DROP TRIGGER {name}' + (f' ON {table}' if postgresql else ''))
            if postgresql:
                op.execute(f'DROP FUNCTION {name}()')
    for table, name, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table('round_tallies')
    op.drop_table('unit_tallies')
    op.drop_table('entrant_tallies')
    op.drop_table('entry_tallies')
