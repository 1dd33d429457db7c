"""A run's kind as a typed value: ``runs.command`` (the CLI command that made the
run) becomes ``runs.kind`` (``transient``, ``attached``).

Renamed in place rather than rebuilt: on SQLite a table rebuild drops ``runs``,
which the steps' foreign keys would cascade to.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_KINDS = {"run-transient": "transient", "run": "attached"}


def upgrade() -> None:
    op.execute("ALTER TABLE runs RENAME COLUMN command TO kind")
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in _KINDS.items())
    op.execute(f"UPDATE runs SET kind = CASE kind {cases} ELSE 'attached' END")


def downgrade() -> None:
    cases = " ".join(f"WHEN '{new}' THEN '{old}'" for old, new in _KINDS.items())
    op.execute(f"UPDATE runs SET kind = CASE kind {cases} ELSE kind END")
    op.execute("ALTER TABLE runs RENAME COLUMN kind TO command")
