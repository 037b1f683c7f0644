"""What a comparative final does to the results: rank the shortlist or break ties
(03/12/2026)."""

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'


def upgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comparative_results', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('comparative_results')
