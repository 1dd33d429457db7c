"""Alembic environment: migrations run on the connection the store hands over
(``sqlalchemy_backend._upgrade``); there is no alembic.ini and no URL here.

That connection is already inside the store's transaction, which holds the
database's lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so
Alembic's ``begin_transaction`` joins it: the whole upgrade, DDL and version
row, commits or rolls back as one, and only one process migrates.
"""

from __future__ import annotations

from alembic import context

from dataflow_runner.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: future migrations rebuild tables in batches.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
