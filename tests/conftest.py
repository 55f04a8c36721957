"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a fixed clock.

Persistence tests take the `factory` fixture and so run once per database. PostgreSQL is the
server on 127.0.0.1:5432 (override with CROSSPOST_TEST_POSTGRES_URL); when it is not reachable its
runs are skipped with the reason shown, unless CROSSPOST_REQUIRE_SERVERS=1 (set by .ci/run), which
turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db import migrate
from crosspost.db.models import Base
from crosspost.db.session import make_engine, session_factory

POSTGRES_ADMIN_URL = os.environ.get(
    "CROSSPOST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVERS = os.environ.get("CROSSPOST_REQUIRE_SERVERS") == "1"


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"
    return None


_PG_REASON: list[str | None] = []


def postgres_skip_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_postgres_unavailable())
    return _PG_REASON[0]


def _pg_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database that each test's database is copied from (fast)."""
    if postgres_skip_reason():
        yield None
        return
    name = f"crosspost_template_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(_pg_url(name))
    migrate.upgrade(eng)
    eng.dispose()
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_template: str | None) -> Iterator[str]:
    """The session's migrated PostgreSQL database, emptied for this test.

    Emptying (TRUNCATE … RESTART IDENTITY) costs milliseconds where creating a database per test
    cost most of a second; ids start at 1 again, as on a fresh database.
    """
    reason = postgres_skip_reason()
    if reason or postgres_template is None:
        message = reason or "PostgreSQL template database missing"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    url = _pg_url(postgres_template)
    eng = create_engine(url)
    with eng.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    eng.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (PostgreSQL's is already migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crosspost.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database of each kind."""
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
