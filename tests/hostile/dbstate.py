"""The whole database as one fingerprint: "nothing changed" means the same fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from sqlalchemy import Engine, func, select

from crosspost.db.models import Base


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every table."""
    with engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def fingerprint(engine: Engine, *, exclude: Collection[str] = ()) -> str:
    """A hash of every row of every table (but `exclude`), in primary-key order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in exclude:
                continue
            digest.update(table.name.encode())
            order = list(table.primary_key.columns) or list(table.columns)
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def all_text(engine: Engine) -> str:
    """Every value of every row as text, to search for something that must not be stored."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)
