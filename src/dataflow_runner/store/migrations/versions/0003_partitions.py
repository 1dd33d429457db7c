"""Data-aware runs: the partitions a run covers, and each step's partition.

New columns only (nullable): nothing to rebuild.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("partition_first", sa.Text))
    op.add_column("runs", sa.Column("partition_last", sa.Text))
    op.add_column("steps", sa.Column("partition", sa.Text))
    op.create_index("ix_runs_partition_first", "runs", ["partition_first"])
    op.create_index("ix_steps_partition", "steps", ["partition"])


def downgrade() -> None:
    op.drop_index("ix_steps_partition", "steps")
    op.drop_index("ix_runs_partition_first", "runs")
    with op.batch_alter_table("steps") as steps:
        steps.drop_column("partition")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("partition_last")
        runs.drop_column("partition_first")
