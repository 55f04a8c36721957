"""Alembic environment: runs on the connection crosspost hands it (see crosspost.db.migrate)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from crosspost.db.models import Base
from crosspost.db.types import UTCDateTime


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell the stored type, so they never depend on crosspost's Python types.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` run by hand without crosspost
    raise RuntimeError("run migrations through `crosspost db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
