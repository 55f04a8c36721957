"""`crosspost init` and `crosspost db …`: the workspace and its database schema."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crosspost.cli.common import GlobalOptions, console, workspace
from crosspost.errors import ConfigError
from crosspost.resources import bundled_file

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(help="Database schema: upgrade, current revision.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(db_app, name="db")


def init(ctx: typer.Context) -> None:
    """Create the configuration file (if missing) and the database, or bring it up to date.

    Safe to run again: an existing configuration file is never overwritten.

    Example: crosspost init
    """
    options = ctx.find_root().obj
    assert isinstance(options, GlobalOptions)
    from crosspost.bootstrap import open_workspace
    from crosspost.settings import CONFIG_ENV, DEFAULT_CONFIG_PATH

    path = options.config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    if path.exists():
        console.print(f"Configuration: {path} (kept as it is)")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundled_file("crosspost.toml"), path)
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
        console.print(f"Configuration: {path} (created; edit it to change the defaults)")
    ws = open_workspace(path)
    options.workspace = ws
    ctx.call_on_close(ws.close)
    _upgrade(ws.engine, ws.settings.database_url)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply any pending database migrations (init does this too).

    Example: crosspost db upgrade
    """
    ws = workspace(ctx)
    _upgrade(ws.engine, ws.settings.database_url)


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the newest this crosspost knows.

    Example: crosspost db current
    """
    from crosspost.db import migrate
    from crosspost.settings import mask_url

    ws = workspace(ctx)
    have = migrate.current_revision(ws.engine) or "empty"
    newest = migrate.head_revision(ws.engine)
    console.print(f"{mask_url(ws.settings.database_url)}: schema {have}, newest {newest}")


def _upgrade(engine: Engine, url: str) -> None:
    from sqlalchemy.exc import OperationalError

    from crosspost.db import migrate
    from crosspost.settings import mask_url

    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "cannot connect"
        raise ConfigError(f"database {mask_url(url)} is not reachable: {reason}") from None
    if before == after:
        console.print(f"Database: {mask_url(url)} (schema {after}, up to date)")
    else:
        console.print(f"Database: {mask_url(url)} (schema {before or 'empty'} -> {after})")
