"""A version number for what a submission reads of a contest (06/12/2026): one row, raised by
triggers with every committed change to events, units, contests, divisions, books and
criteria, so that each app process keeps that configuration and checks it with one tiny query
per request instead of reading it again.

On PostgreSQL the triggers are deferred to the commit and raise the number once per
transaction: a transaction holds the row's lock only while it commits, so two organisers'
edits never wait for each other through it, and a reader never sees a number whose change is
not committed yet.
"""

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'

TABLES = ['events', 'units', 'contests', 'divisions', 'books', 'criteria']
OPERATIONS = ['insert', 'update', 'delete']
FUNCTION = 'config_version_bump'


def upgrade() -> None:
    op.create_table('config_versions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('bumped_by', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_versions'))
    )
    op.execute('INSERT INTO config_versions (id, version) VALUES (1, 1)')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            f'CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n'
            'BEGIN\n'
            'UPDATE config_versions SET version = version + 1, bumped_by = txid_current()\n'
            'WHERE id = 1 AND bumped_by IS DISTINCT FROM txid_current();\n'
            'RETURN NULL;\n'
            'END $$'
        )
        for table in TABLES:
            op.execute(
                f'CREATE CONSTRAINT TRIGGER {table}_config_version'
                f' AFTER INSERT OR UPDATE OR DELETE ON {table}'
                f' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()'
            )
            # A TRUNCATE changes rows without row triggers.
            op.execute(
                f'CREATE TRIGGER {table}_config_version_truncate AFTER TRUNCATE ON {table}'
                f' FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()'
            )
        return
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(
                f'CREATE TRIGGER {table}_config_version_{operation}'
                f' AFTER {operation.upper()} ON {table} BEGIN\n'
                'UPDATE config_versions SET version = version + 1 WHERE id = 1;\nEND'
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER {table}_config_version ON {table}')
            op.execute(f'DROP TRIGGER {table}_config_version_truncate ON {table}')
        op.execute(f'DROP FUNCTION {FUNCTION}()')
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f'DROP TRIGGER {table}_config_version_{operation}')
    op.drop_table('config_versions')
