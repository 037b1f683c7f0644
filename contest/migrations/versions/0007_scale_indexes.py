"""Indexes for national-size judging and results (02/12/2026)."""

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'


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
