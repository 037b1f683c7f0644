"""Room in the results table's pages for publication to rewrite each row in place (03/12/2026).

Publishing sets every result's publication time in one UPDATE. With pages filled to the brim
PostgreSQL writes each new row version on another page and adds it to every index of the
table; with half of each page left free the new version stays on its page and no index
changes (a "heap-only" update), several times faster at national size. Computing rewrites the
rows into such pages too. SQLite has no such setting.
"""

from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE results SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE results RESET (fillfactor)')
