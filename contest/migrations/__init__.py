"""Alembic migration history: one line of revisions for SQLite and PostgreSQL alike."""
