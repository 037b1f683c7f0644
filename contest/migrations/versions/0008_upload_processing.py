"""Upload processing as a background job: the state of files and entries (03/12/2026)."""

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'


def upgrade() -> None:
    # Files stored before this were processed inside their request: every one is ready.
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=24), server_default='ready', nullable=False))

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('files_state', sa.String(length=24), server_default='ready', nullable=False))
        batch_op.add_column(sa.Column('files_job_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_entries_contest_id_files_state', ['contest_id', 'files_state'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_entries_files_job_id_jobs'), 'jobs', ['files_job_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_entries_files_job_id_jobs'), type_='foreignkey')
        batch_op.drop_index('ix_entries_contest_id_files_state')
        batch_op.drop_column('files_job_id')
        batch_op.drop_column('files_state')

    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_column('state')
