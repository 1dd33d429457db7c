"""Alembic migrations of the store (numbered: 0001, 0002, ...)."""
