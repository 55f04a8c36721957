"""The composition root: settings are read here, and engines and clients built from them.

Entry points (the CLI, RQ jobs) call `open_workspace()` and pass what it builds down; nothing
below reads the environment or builds its own connections.
"""

from __future__ import annotations

import getpass
import os
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
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @cached_property
    def engine(self) -> Engine:
        from crosspost.db.session import make_engine

        return make_engine(self.settings.database_url)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        """A sessionmaker on a database whose schema is current (else a clear ConfigError)."""
        from sqlalchemy.exc import OperationalError

        from crosspost.db import migrate
        from crosspost.db.session import session_factory
        from crosspost.settings import mask_url

        url = mask_url(self.settings.database_url)
        sqlite_file = self.sqlite_path
        if sqlite_file is not None and not sqlite_file.is_file():
            # Connecting would create an empty file; say what to do instead.
            raise ConfigError(f"database {sqlite_file} does not exist: run `crosspost init`")
        try:
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
