"""A division's own media rules: the kinds it accepts, its word limit, a video's length
(04/12/2026)."""

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'


def upgrade() -> None:
    with op.batch_alter_table('divisions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('media', sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table('divisions', schema=None) as batch_op:
        batch_op.drop_column('media')
