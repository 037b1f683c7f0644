"""Indexes for national-size judging and results (02/12/2026)."""

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'


# (table, index, columns): what the national-size queries and the organiser's lists read.
INDEXES = [
    ('assignments', 'ix_assignments_round_judge_status', ['round_id', 'judge_id', 'status']),
    ('assignments', 'ix_assignments_round_status', ['round_id', 'status']),
    ('assignments', 'ix_assignments_judge_round_status', ['judge_id', 'round_id', 'status']),
    ('results', 'ix_results_contest_division_rank', ['contest_id', 'division_id', 'rank']),
    ('entries', 'ix_entries_contest_id_id', ['contest_id', 'id']),
    ('audit_events', 'ix_audit_events_action_id', ['action', 'id']),
    ('contest_judges', 'ix_contest_judges_user_id', ['user_id']),
    ('users', 'ix_users_role_name_id', ['role', 'name', 'id']),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
