"""The store's tables, defined once with SQLAlchemy Core.

This module is imported by the Alembic migrations (and tests), never on the
hot path: queries are portable SQL text (``queries.py``) so the default SQLite
store runs on the standard library's sqlite3 without importing SQLAlchemy.
Times are UTC epoch seconds (double precision); dict and tuple fields are JSON
text (nothing is pickled); enums are their values. Strings are TEXT: a length
limit would hold on PostgreSQL only, and the backends must behave alike.

A change here needs a new numbered migration in ``migrations/versions`` (and
``backends.REVISIONS``); a test compares the migrated database to this module.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
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
    sa.Index("ix_runs_created_at", "created_at"),
    sa.Index("ix_runs_state", "state"),
    sa.Index("ix_runs_playbook", "playbook"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
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
    # The primary key already finds a run's steps; this one also gives them in order.
    sa.Index("ix_steps_run_position", "run_id", "position"),
)

attempts = sa.Table(
    "attempts",
    metadata,
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

clusters = sa.Table(
    "clusters",
    metadata,
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
    sa.Index("ix_clusters_state", "state"),
    sa.Index("ix_clusters_created_at", "created_at"),
)
