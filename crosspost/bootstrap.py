"""The composition root: settings are read here, and engines and clients built from them.

Entry points (the CLI, RQ jobs) call `open_workspace()` and pass what it builds down; nothing
below reads the environment or builds its own connections.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from crosspost.errors import ConfigError

if TYPE_CHECKING:
    # Imported where used: `crosspost --help` must not pay for SQLAlchemy and pydantic.
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from crosspost.settings import Settings

USER_ENV = "CROSSPOST_USER"
"""Environment variable naming the person acting, when --by is not given."""


def utcnow() -> datetime:
    """The clock every service gets by default: aware UTC."""
    return datetime.now(UTC)


@dataclass
class Workspace:
    """Settings plus the lazily built database engine of one process."""

    settings: Settings
    # Not in repr: the environment holds the channels' credentials, and a Workspace shows up in
    # tracebacks that print locals.
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    @cached_property
    def engine(self) -> Engine:
        from crosspost.db.session import make_engine

        return make_engine(self.settings.database_url)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        """A sessionmaker on a database whose schema is current (else a clear ConfigError)."""
        from sqlalchemy.exc import OperationalError

        from crosspost.db.session import session_factory
        from crosspost.settings import mask_url

        url = mask_url(self.settings.database_url)
        sqlite_file = self.sqlite_path
        if sqlite_file is not None and not sqlite_file.is_file():
            # Connecting would create an empty file; say what to do instead.
            raise ConfigError(f"database {sqlite_file} does not exist: run `crosspost init`")
        try:
            if _at_head(self.engine):  # the common case, without importing Alembic
                return session_factory(self.engine)
            from crosspost.db import migrate

            current = migrate.current_revision(self.engine)
            head = migrate.head_revision(self.engine)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "cannot connect"
            raise ConfigError(f"database {url} is not reachable: {reason}") from None
        if current is None:
            raise ConfigError(f"database {url} is not initialised: run `crosspost init`")
        if current != head:
            raise ConfigError(
                f"database {url} is at schema {current}, this crosspost needs {head}: "
                "run `crosspost db upgrade`"
            )
        return session_factory(self.engine)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, when the database is a SQLite file."""
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.database_url)  # validated with the settings
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    def actor(self, explicit: str | None) -> str:
        """Who is acting: --by, else $CROSSPOST_USER, else the operating-system user."""
        for candidate in (explicit, self.environ.get(USER_ENV)):
            if candidate and candidate.strip():
                return candidate.strip()
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "unknown"

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def _head_in_files() -> str | None:
    """The one head revision, read from the migration files; None when unsure (no files, a
    branch, a merge, an unusual file), and then the caller asks Alembic."""
    import crosspost.db

    revisions: set[str] = set()
    parents: set[str] = set()
    folder = Path(crosspost.db.__file__).parent / "migrations" / "versions"
    for path in folder.glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        revision, parent = found.get("revision", ""), found.get("down_revision", "")
        if not re.fullmatch(r"['\"][\w-]+['\"]", revision):
            return None
        revisions.add(revision[1:-1])
        if parent != "None":
            if not re.fullmatch(r"['\"][\w-]+['\"]", parent):
                return None
            parents.add(parent[1:-1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """True when the database's one `alembic_version` row is the head revision.

    Importing Alembic to check this costs ~0.15 s, most of what a short command like
    `crosspost articles list` would otherwise spend (docs/benchmarks.md, CLI responsiveness).
    False when unsure; an unreachable database raises OperationalError as Alembic's would.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    head = _head_in_files()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except ProgrammingError:  # PostgreSQL: no such table
        return False
    except OperationalError as exc:
        if "no such table" in str(exc.orig):  # SQLite
            return False
        raise
    return [r[0] for r in rows] == [head]


def open_workspace(
    config: Path | None = None, environ: Mapping[str, str] | None = None
) -> Workspace:
    """Read and validate the configuration; build nothing else until it is needed."""
    from crosspost.settings import config_path_from, load_settings

    env = dict(os.environ if environ is None else environ)
    path = config_path_from(config, env)
    if config is not None and not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    return Workspace(settings=load_settings(path, env), environ=env)
