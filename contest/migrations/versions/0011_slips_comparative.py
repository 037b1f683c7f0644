"""Judges' sign-in slips, comparative rounds, scores typed in from paper, the audience vote
(03/12/2026)."""

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'


def upgrade() -> None:
    op.create_table('judge_slips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_judge_slips_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['judge_id'], ['users.id'], name=op.f('fk_judge_slips_judge_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judge_slips')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_judge_slips_code_hash'))
    )
    with op.batch_alter_table('judge_slips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_slips_judge_id'), ['judge_id'], unique=False)

    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), server_default='rubric', nullable=False))

    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entered_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_scores_entered_by_id_users'), 'users', ['entered_by_id'], ['id'], ondelete='SET NULL')

    op.create_table('comparisons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('left_entry_id', sa.Integer(), nullable=False),
    sa.Column('right_entry_id', sa.Integer(), nullable=False),
    sa.Column('winner_entry_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['judge_id'], ['users.id'], name=op.f('fk_comparisons_judge_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['left_entry_id'], ['entries.id'], name=op.f('fk_comparisons_left_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['right_entry_id'], ['entries.id'], name=op.f('fk_comparisons_right_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_comparisons_round_id_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['winner_entry_id'], ['entries.id'], name=op.f('fk_comparisons_winner_entry_id_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparisons'))
    )
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparisons_judge_id'), ['judge_id'], unique=False)
        batch_op.create_index('ix_comparisons_round_judge_decided', ['round_id', 'judge_id', 'decided_at'], unique=False)


    op.create_table('audience_votes',
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('counts_hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_audience_votes_contest_id_contests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contest_id', name=op.f('pk_audience_votes'))
    )
    op.create_table('ballots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('voter_hash', sa.String(length=64), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=False),
    sa.Column('cast_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['contests.id'], name=op.f('fk_ballots_contest_id_contests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_ballots_entry_id_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballots')),
    sa.UniqueConstraint('contest_id', 'voter_hash', name=op.f('uq_ballots_contest_id_voter_hash'))
    )
    with op.batch_alter_table('ballots', schema=None) as batch_op:
        batch_op.create_index('ix_ballots_contest_entry', ['contest_id', 'entry_id'], unique=False)
        batch_op.create_index('ix_ballots_contest_ip_cast', ['contest_id', 'client_ip', 'cast_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ballots', schema=None) as batch_op:
        batch_op.drop_index('ix_ballots_contest_ip_cast')
        batch_op.drop_index('ix_ballots_contest_entry')
    op.drop_table('ballots')
    op.drop_table('audience_votes')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index('ix_comparisons_round_judge_decided')
        batch_op.drop_index(batch_op.f('ix_comparisons_judge_id'))
    op.drop_table('comparisons')
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scores_entered_by_id_users'), type_='foreignkey')
        batch_op.drop_column('entered_by_id')
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('judge_slips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_slips_judge_id'))
    op.drop_table('judge_slips')
