"""Schedules: what the scheduler keeps of each schedule, the key of every run a
schedule started (unique: no tick starts twice), the alerts sent, the leases of
the jobs one server at a time does (the scheduler), and the commits deployed
from git.

New tables only: nothing to rebuild.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("playbook", sa.Text, nullable=False),
        sa.Column("cron", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("paused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("git_commit", sa.Text, nullable=False, server_default=""),
        sa.Column("last_alert", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "schedule_ticks",
        sa.Column("schedule", sa.Text, primary_key=True),
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("tick_at", sa.Double),
        sa.Column("partition", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False, server_default="0.0"),
    )
    op.create_index("ix_schedule_ticks_run", "schedule_ticks", ["run_id"])
    op.create_table(
        "schedule_alerts",
        sa.Column("schedule", sa.Text, primary_key=True),
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("ended_at", sa.Double),
    )
    op.create_index("ix_schedule_alerts_created", "schedule_alerts", ["created_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("acquired_at", sa.Double, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("git_commit", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("repo", sa.Text, nullable=False, server_default=""),
        sa.Column("branch", sa.Text, nullable=False, server_default=""),
        sa.Column("path", sa.Text, nullable=False, server_default=""),
        sa.Column("valid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("errors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("playbooks", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("ix_deployments_created", "deployments", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_created", "deployments")
    op.drop_table("deployments")
    op.drop_table("leases")
    op.drop_index("ix_schedule_alerts_created", "schedule_alerts")
    op.drop_table("schedule_alerts")
    op.drop_index("ix_schedule_ticks_run", "schedule_ticks")
    op.drop_table("schedule_ticks")
    op.drop_table("schedules")
