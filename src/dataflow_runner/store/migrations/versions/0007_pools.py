"""Pools of clusters: the pools, the clusters they launched (each launch recorded
before it is sent, its slot unique while it lives) and the runs waiting in a
pool's queue or placed on one of its clusters.

New tables only: nothing to rebuild.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("fabric", sa.Text, nullable=False, server_default=""),
        sa.Column("size_class", sa.Text),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("min_clusters", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_clusters", sa.Integer, nullable=False, server_default="1"),
        sa.Column("max_steps_per_cluster", sa.Integer, nullable=False, server_default="1"),
        sa.Column("idle_minutes", sa.Double, nullable=False, server_default="30.0"),
        sa.Column("state", sa.Text, nullable=False, server_default="ACTIVE"),
        sa.Column("updated_by", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "pool_launches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("pool", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="RECORDED"),
        sa.Column("slot", sa.Text),
        sa.Column("cluster_id", sa.Text),
        sa.Column("sent_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.Column("reason", sa.Text),
        sa.Column("idle_since", sa.Double),
        sa.Column("terminate_at", sa.Double),
    )
    op.create_index("ix_pool_launches_pool", "pool_launches", ["pool"])
    op.create_index("ux_pool_launches_slot", "pool_launches", ["slot"], unique=True)
    op.create_table(
        "pool_waits",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("pool", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False, server_default="1"),
        sa.Column("cluster_id", sa.Text),
        sa.Column("placed_at", sa.Double),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_pool_waits_pool", "pool_waits", ["pool"])


def downgrade() -> None:
    op.drop_index("ix_pool_waits_pool", "pool_waits")
    op.drop_table("pool_waits")
    op.drop_index("ux_pool_launches_slot", "pool_launches")
    op.drop_index("ix_pool_launches_pool", "pool_launches")
    op.drop_table("pool_launches")
    op.drop_table("pools")
