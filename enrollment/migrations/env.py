"""Alembic environment: runs on the connection handed over by enrollment.migrate."""

from __future__ import annotations

from alembic import context

from enrollment.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through enrollment.migrate.upgrade(engine)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
