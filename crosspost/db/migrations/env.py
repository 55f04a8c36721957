"""Alembic environment: runs on the connection crosspost hands it (see crosspost.db.migrate)."""

from __future__ import annotations

from alembic import context

from crosspost.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` run by hand without crosspost
    raise RuntimeError("run migrations through `crosspost db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
