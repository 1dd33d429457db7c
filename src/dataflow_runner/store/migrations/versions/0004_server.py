"""The server: who submitted a run, what a server was asked to run (encrypted),
its bearer tokens and its saved playbooks. A run may now be QUEUED (a state is
text: no change to the column).

New tables, and one column with a default: nothing to rebuild.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("submitted_by", sa.Text, nullable=False, server_default=""))
    op.create_table(
        "run_requests",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("cancel_reason", sa.Text),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double),
        sa.Column("last_used_at", sa.Double),
    )
    op.create_index("ix_tokens_hash", "tokens", ["hash"])
    op.create_index("ix_tokens_name", "tokens", ["name"])
    op.create_table(
        "saved_playbooks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("playbook", sa.Text, nullable=False, server_default=""),
        sa.Column("pool", sa.Text),
        sa.Column("updated_by", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("saved_playbooks")
    op.drop_index("ix_tokens_name", "tokens")
    op.drop_index("ix_tokens_hash", "tokens")
    op.drop_table("tokens")
    op.drop_table("run_requests")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("submitted_by")
