"""Tallies by unit for an organiser of some units at national size (07/12/2026).

A province's (or a district's, a school's) judging page and progress API counted its part of a
round live: its 150,000 assignments hashed against its 50,000 entrants at 100,000 entries. Two
tables now keep those counts, by the unit of each entry's entrant, in the statement that
changes an entry, an assignment or an entrant's unit, as migration 0009's tallies do
(PostgreSQL one trigger call per statement over its transition tables, SQLite one per row).

Each row counts one unit's own entrants, not the units below it: an organiser may hold any
unit at any level, and their count is the sum over the units of their subtrees (the tree they
already read for every narrowed query: a unit a row, not an entry). A count per every unit
above the entrant would read fewer rows, but every judge's score would then write the same
few top-level rows (the nation's, the province's), and every move of a unit to another parent
would have to carry its subtree's counts along; this way a score writes the rows of one class
and a unit moved keeps its rows as they are. Entries and units are never deleted (erasure
blanks an entrant); ``contest.tallies.REFILL`` counts the tallies afresh after rows were
written with the triggers off.
"""

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'

# Each tally's key columns and count.
COLUMNS = {
    'unit_entry_tallies': ('contest_id', 'unit_id', 'status', 'entries'),
    'unit_round_tallies': ('round_id', 'unit_id', 'status', 'assignments'),
}


def _add(table, picked, rows):
    """A statement adding to ``table`` the sum of ``d`` over ``rows`` (what follows FROM) by
    ``picked`` (its key: three expressions), in key order so that two statements changing the
    same rows lock them in one order."""
    *keys, count = COLUMNS[table]
    return (
        f'INSERT INTO {table} ({", ".join(keys)}, {count})\n'
        f'SELECT {picked}, sum(d) FROM {rows}\n'
        f'GROUP BY {picked} HAVING sum(d) <> 0 ORDER BY 1, 2, 3\n'
        f'ON CONFLICT ({", ".join(keys)})'
        f' DO UPDATE SET {count} = {table}.{count} + excluded.{count}'
    )


# Each change from the changed rows ``{changes}`` (before a change -1, after it +1), counted
# under the unit of the entry's entrant.
ENTRIES_BY_UNIT = _add(
    'unit_entry_tallies', 'c.contest_id, en.unit_id, c.status',
    '({changes}) AS c JOIN entrants en ON en.id = c.entrant_id WHERE en.unit_id IS NOT NULL',
)
# An entry's assignments come together: the entry and its entrant are looked up once.
ASSIGNMENTS_BY_UNIT = _add(
    'unit_round_tallies', 'c.round_id, en.unit_id, c.status',
    '(SELECT round_id, entry_id, status, sum(d) AS d FROM ({changes}) AS r'
    ' GROUP BY round_id, entry_id, status) AS c'
    ' JOIN entries e ON e.id = c.entry_id JOIN entrants en ON en.id = e.entrant_id'
    ' WHERE en.unit_id IS NOT NULL',
)
# ``{moved}``: only the rows whose entrant (an entry's) or unit (an entrant's) changed, so that
# a bulk change of entries' status or of entrants' names reads no assignments.
# An entry given to another entrant takes its assignments to that entrant's unit.
ASSIGNMENTS_OF_MOVED_ENTRIES = _add(
    'unit_round_tallies', 'a.round_id, en.unit_id, a.status',
    '({moved}) AS m JOIN assignments a ON a.entry_id = m.id'
    ' JOIN entrants en ON en.id = m.entrant_id WHERE en.unit_id IS NOT NULL',
)
# An entrant moved to another unit takes their entries, and the entries' assignments, along.
ENTRIES_OF_MOVED_ENTRANTS = _add(
    'unit_entry_tallies', 'e.contest_id, m.unit_id, e.status',
    '({moved}) AS m JOIN entries e ON e.entrant_id = m.id WHERE m.unit_id IS NOT NULL',
)
ASSIGNMENTS_OF_MOVED_ENTRANTS = _add(
    'unit_round_tallies', 'a.round_id, m.unit_id, a.status',
    '({moved}) AS m JOIN entries e ON e.entrant_id = m.id'
    ' JOIN assignments a ON a.entry_id = e.id WHERE m.unit_id IS NOT NULL',
)
ALL = ('insert', 'update', 'delete')
# Each table: the columns its tallies read, its statements over ``{changes}`` and the
# operations they follow, and (for updates) the column whose change moves counts with the
# statements over ``{moved}``.
TRIGGERS = {
    'assignments': (('round_id', 'entry_id', 'status'), (ASSIGNMENTS_BY_UNIT,), ALL, None, ()),
    'entries': (
        ('contest_id', 'status', 'entrant_id'),
        (ENTRIES_BY_UNIT,),
        ALL,
        'entrant_id',
        (ASSIGNMENTS_OF_MOVED_ENTRIES,),
    ),
    'entrants': (
        ('unit_id',), (), ('update',), 'unit_id',
        (ENTRIES_OF_MOVED_ENTRANTS, ASSIGNMENTS_OF_MOVED_ENTRANTS),
    ),
}
# Both tallies filled from the rows already there: the statements of an insert over every row.
FILL = [
    ENTRIES_BY_UNIT.format(changes='SELECT contest_id, status, entrant_id, 1 AS d FROM entries'),
    ASSIGNMENTS_BY_UNIT.format(changes='SELECT round_id, entry_id, status, 1 AS d FROM assignments'),
]
# Which rows a trigger reads, by operation: the rows before the change (-1), after it (+1).
SIDES = {'insert': (('new', 1),), 'update': (('old', -1), ('new', 1)), 'delete': (('old', -1),)}


def _rows(columns, operation, postgresql):
    """The changed rows as a query (``columns`` and ``d``): PostgreSQL's transition tables, or
    SQLite's OLD and NEW row."""
    def side(name, sign):
        source = f'{name}_rows' if postgresql else name.upper()
        picked = ', '.join(f'{source}.{c} AS {c}' for c in columns)
        return f'SELECT {picked}, {sign} AS d' + (f' FROM {source}' if postgresql else '')

    return ' UNION ALL '.join(side(name, sign) for name, sign in SIDES[operation])


def _moved(column, postgresql):
    """The updated rows whose ``column`` changed, before (-1) and after (+1)."""
    if postgresql:
        joined = (
            'FROM old_rows o JOIN new_rows n ON n.id = o.id'
            f' WHERE o.{column} IS DISTINCT FROM n.{column}'
        )
        return (
            f'SELECT o.id AS id, o.{column} AS {column}, -1 AS d {joined}'
            f' UNION ALL SELECT n.id, n.{column}, 1 {joined}'
        )
    changed = f'WHERE OLD.{column} IS NOT NEW.{column}'
    return (
        f'SELECT OLD.id AS id, OLD.{column} AS {column}, -1 AS d {changed}'
        f' UNION ALL SELECT NEW.id, NEW.{column}, 1 {changed}'
    )


def _body(table, operation, postgresql):
    columns, statements, _operations, mover, moving = TRIGGERS[table]
    changes = _rows(columns, operation, postgresql)
    body = [s.format(changes=changes) for s in statements]
    if operation == 'update' and mover is not None:
        body += [s.format(moved=_moved(mover, postgresql)) for s in moving]
    return ';\n'.join(body)


def _names():
    for table, (_columns, _statements, operations, _mover, _moving) in TRIGGERS.items():
        for operation in operations:
            yield table, operation, f'{table}_unit_tally_{operation}'


def upgrade() -> None:
    for table, (key, unit, status, count) in COLUMNS.items():
        op.create_table(table,
        sa.Column(key, sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(unit, sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(status, sa.String(length=24), nullable=False),
        sa.Column(count, sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(key, unit, status, name=op.f(f'pk_{table}'))
        )
    for statement in FILL:
        op.execute(statement)
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for table, operation, name in _names():
        body = _body(table, operation, postgresql)
        if postgresql:
            # A batch of assignment's COPY (20,000 rows) looks up each entry and entrant by
            # key: the planner would rather read the whole entries and entrants tables into
            # hashes, at every batch, a cost that grows with the contest. Not where old and
            # new rows are paired (``{moved}``): with neither hash nor merge, that pairing
            # would compare every row with every row.
            probes = operation != 'update' or TRIGGERS[table][3] is None
            settings = ' SET enable_hashjoin = off SET enable_mergejoin = off' if probes else ''
            referencing = ' '.join(
                f'{name.upper()} TABLE AS {name}_rows' for name, _sign in SIDES[operation]
            )
            op.execute(
                f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql{settings} AS $$\n'
                f'BEGIN\n{body};\nRETURN NULL;\nEND $$'
            )
            op.execute(
                f'CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} '
                f'REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()'
            )
        else:
            columns = TRIGGERS[table][0]
            on = f'UPDATE OF {", ".join(columns)}' if operation == 'update' else operation.upper()
            op.execute(f'CREATE TRIGGER {name} AFTER {on} ON {table} BEGIN\n{body};\nEND')


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for table, _operation, name in _names():
        op.execute(f'DROP TRIGGER {name}' + (f' ON {table}' if postgresql else ''))
        if postgresql:
            op.execute(f'DROP FUNCTION {name}()')
    for table in reversed(COLUMNS):
        op.drop_table(table)
