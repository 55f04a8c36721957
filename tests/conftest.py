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

pytest_plugins = ["tests.canary"]
"""The session-wide canary credential and its leak scan (see tests/canary.py)."""


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
def postgres_url(postgres_template: str | None, request: pytest.FixtureRequest) -> Iterator[str]:
    """The session's migrated PostgreSQL database, emptied for this test.

    Emptying (TRUNCATE … RESTART IDENTITY) costs milliseconds where creating a database per test
    cost most of a second; ids start at 1 again, as on a fresh database. Afterwards its text
    columns are scanned for the canary credential (tests/canary.py), before the next test empties
    it.
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
    yield url
    from tests.canary import scan_postgres

    scan_postgres(url, request.node.nodeid)


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


_NOTES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly which servers this run did without (PostgreSQL skips are listed by -ra)."""
    reason = postgres_skip_reason() if _PG_REASON else None
    notes = [*_NOTES]
    if reason:
        notes.append(f"{reason}: the PostgreSQL variants of the persistence tests were SKIPPED")
    for note in notes:
        terminalreporter.write_line(f"crosspost: {note}", yellow=True)


REDIS_SERVER = os.environ.get("CROSSPOST_TEST_REDIS", "redis://127.0.0.1:6379")
"""The Redis server the tests use when it runs (a database of its own is picked per session)."""


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis database for this test session.

    On the server: a database number 1-15 that no other test session holds (a lock key in db 0),
    so two suites on one machine never flush each other's queues. Without a server: the embedded
    Redis, in a folder of this session, stopped at the end; the first use says so.
    """
    from redis import Redis
    from redis.exceptions import RedisError

    probe = Redis.from_url(f"{REDIS_SERVER}/0", socket_connect_timeout=2)
    try:
        probe.ping()
    except RedisError as exc:
        probe.close()
        reason = f"Redis server not reachable at {REDIS_SERVER} ({type(exc).__name__})"
        if REQUIRE_SERVERS:
            pytest.fail(reason)
        from crosspost.queue.embedded import ensure_running

        folder = tmp_path_factory.mktemp("embedded-redis")
        _NOTES.append(f"{reason}: the Redis tests ran on the embedded Redis instead")
        with ensure_running(folder) as server:
            yield f"unix://{server.socket_path}"
        return
    token = uuid.uuid4().hex
    for db in range(1, 16):
        if probe.set(f"crosspost:test-session:{db}", token, nx=True, ex=3600):
            break
    else:
        pytest.fail("every Redis database 1-15 is held by another test session")
    try:
        yield f"{REDIS_SERVER}/{db}"
    finally:
        if probe.get(f"crosspost:test-session:{db}") == token.encode():
            probe.delete(f"crosspost:test-session:{db}")
        probe.close()


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """The session's Redis database, empty for this test."""
    from redis import Redis

    client = Redis.from_url(redis_base_url)
    client.flushdb()
    yield redis_base_url
    client.flushdb()
    client.close()
