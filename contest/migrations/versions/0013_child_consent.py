"""A child's own consent to their name being shown, and the withdrawal of a name's consent
(04/12/2026).

Law 91/2025/QH15 and Decree 356/2025/NĐ-CP ask, from age 7, for the child's own consent beside
the parent's or guardian's. ``entrants.child_consent_at`` records when the child gave it;
entrants aged 7 to 17 stored before this have none, so their names are treated as hidden (the
gallery, the results API, certificate verification and the exports show "An entrant") until the
child's consent is given. Their guardian's choice (``consent``) is kept as it was, so giving the
child's consent later is enough to show the name again. ``entrants.name_withdrawn_at`` records
when a family withdrew the name's consent from the private link.
"""

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'


def upgrade() -> None:
    with op.batch_alter_table('entrants', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('child_consent_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('name_withdrawn_at', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # Not a batch: on SQLite it would copy the table, and the tally triggers of 0009 name it.
    # SQLite drops a column in place since 3.35, as PostgreSQL does.
    op.execute('ALTER TABLE entrants DROP COLUMN name_withdrawn_at')
    op.execute('ALTER TABLE entrants DROP COLUMN child_consent_at')
