"""The first schema: runs, steps, attempts, clusters.

The schema as it was first released, frozen: a later schema change is a new
numbered revision, never an edit here (a test compares the migrated head with
the tables ``schema.py`` derives from the records).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("playbook", sa.Text, nullable=False),
        sa.Column("fabric", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("playbook_path", sa.Text, nullable=False, server_default=""),
        sa.Column("cluster_name", sa.Text, nullable=False, server_default=""),
        sa.Column("cluster_config_path", sa.Text, nullable=False, server_default=""),
        sa.Column("cluster_id", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("started_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.Column("heartbeat_at", sa.Double),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.Text, nullable=False, server_default=""),
        sa.Column("variables", sa.Text, nullable=False, server_default="{}"),
        sa.Column("playbook_doc", sa.Text, nullable=False, server_default="{}"),
        sa.Column("cluster_doc", sa.Text, nullable=False, server_default="{}"),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_index("ix_runs_playbook", "runs", ["playbook"])
    op.create_table(
        "steps",
        sa.Column(
            "run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("step_id", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("action_on_failure", sa.Text, nullable=False),
        sa.Column("depends_on", sa.Text, nullable=False, server_default="[]"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.Column("exit_code", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("cause", sa.Text),
        sa.Column("fabric_ref", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_steps_run_position", "steps", ["run_id", "position"])
    op.create_table(
        "attempts",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("step_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("started_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.Column("exit_code", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("cause", sa.Text),
        sa.Column("fabric_ref", sa.Text, nullable=False, server_default="{}"),
        sa.Column("log_location", sa.Text, nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["run_id", "step_id"], ["steps.run_id", "steps.step_id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "clusters",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("fabric", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("ended_at", sa.Double),
        sa.Column("updated_at", sa.Double),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.Text, nullable=False, server_default=""),
        sa.Column("endpoint", sa.Text, nullable=False, server_default=""),
        sa.Column("config_doc", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_clusters_state", "clusters", ["state"])
    op.create_index("ix_clusters_created_at", "clusters", ["created_at"])


def downgrade() -> None:
    for table in ("attempts", "steps", "clusters", "runs"):
        op.drop_table(table)
