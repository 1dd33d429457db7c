"""The clusters registry (tags, capacity, service state, load), Genie's commands,
and the jobs submitted through the Genie-compatible API.

New tables only: nothing to rebuild.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_registry",
        sa.Column("cluster_id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("service", sa.Text, nullable=False, server_default="UP"),
        sa.Column("active", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pending", sa.Integer, nullable=False, server_default="0"),
        sa.Column("routed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("polled_at", sa.Double),
        sa.Column("terminate_when_idle", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pool", sa.Text),
        sa.Column("origin", sa.Text, nullable=False, server_default="launched"),
        sa.Column("updated_at", sa.Double),
        sa.Column("updated_by", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_cluster_registry_pool", "cluster_registry", ["pool"])
    op.create_table(
        "commands",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("args", sa.Text, nullable=False, server_default="[]"),
        sa.Column("updated_by", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "genie_jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("genie_user", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Text, nullable=False, server_default=""),
        sa.Column("request", sa.Text, nullable=False, server_default="{}"),
        sa.Column("cluster_id", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("finished_at", sa.Double),
        sa.Column("submitted_by", sa.Text, nullable=False, server_default=""),
        sa.Column("workdir", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_genie_jobs_run", "genie_jobs", ["run_id"])
    op.create_index("ix_genie_jobs_created", "genie_jobs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_genie_jobs_created", "genie_jobs")
    op.drop_index("ix_genie_jobs_run", "genie_jobs")
    op.drop_table("genie_jobs")
    op.drop_table("commands")
    op.drop_index("ix_cluster_registry_pool", "cluster_registry")
    op.drop_table("cluster_registry")
