"""indexes for national-size judging and results

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_assignments_round_judge_status', ['round_id', 'judge_id', 'status'], unique=False
        )
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index(
            'ix_results_contest_division_rank', ['contest_id', 'division_id', 'rank'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index('ix_results_contest_division_rank')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_round_judge_status')
