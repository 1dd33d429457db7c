"""The store's tables as SQLAlchemy Core objects, worked out from the records.

``records.py`` declares every column once; this module turns those declarations
into ``sqlalchemy.Table`` s for the Alembic migrations' environment and for the
test that compares a migrated database with them. It is imported only there,
never on the hot path: queries are portable SQL text (``queries.py``), so the
default SQLite store runs on the standard library's sqlite3 without importing
SQLAlchemy. Times are UTC epoch seconds (double precision); dict and tuple
fields are JSON text (nothing is pickled); enums are their values. Strings are
TEXT: a length limit would hold on PostgreSQL only, and the backends must
behave alike.

A change of a record needs a new numbered migration in ``migrations/versions``
(and ``backends.REVISIONS``): the migrations are the history of the schema,
this module is its present.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from dataflow_runner.store.queries import Column, columns
from dataflow_runner.store.records import RECORDS

metadata = sa.MetaData()

_TYPES: dict[str, Any] = {"text": sa.Text, "double": sa.Double, "integer": sa.Integer}


def _server_default(column: Column) -> str | None:
    """What a row gets when an older version inserted it without this column."""
    if column.nullable or column.default is None:
        return None
    value = column.default
    if column.kind == "json":
        return json.dumps(list(value) if column.tuple_ else value)
    if column.enum is not None:
        return str(value.value)
    return str(value)


def _table(cls: type[Any]) -> sa.Table:
    spec = cls.TABLE
    items: list[Any] = []
    for column in columns(cls):
        items.append(
            sa.Column(
                column.name,
                sa.Text if column.kind == "json" else _TYPES[column.kind],
                primary_key=column.name in spec.keys,
                nullable=column.nullable,
                server_default=_server_default(column),
            )
        )
    for local, table, remote in spec.foreign_keys:
        items.append(
            sa.ForeignKeyConstraint(
                list(local), [f"{table}.{c}" for c in remote], ondelete="CASCADE"
            )
        )
    for name, indexed in spec.indexes:
        items.append(sa.Index(name, *indexed))
    for name, indexed in spec.unique:
        items.append(sa.Index(name, *indexed, unique=True))
    return sa.Table(spec.name, metadata, *items)


tables: dict[str, sa.Table] = {cls.TABLE.name: _table(cls) for cls in RECORDS}
