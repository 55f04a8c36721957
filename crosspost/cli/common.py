"""What every command shares: the workspace from the global options, output and time display."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from crosspost.bootstrap import Workspace

console = Console(highlight=False, soft_wrap=False, markup=False)
# soft_wrap: an error or a progress line stays one line whatever the terminal's width.
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)

JSON_HELP = "Print machine-readable JSON instead of a table."

MAX_ID = 2_147_483_647
"""Largest id or count a command accepts: ids are 32-bit in PostgreSQL, 64-bit in SQLite, and
a bigger number must be a usage error, not an overflow inside the database driver."""


def parse_id(value: str) -> int:
    """An id as typed: ASCII digits only, 1 to MAX_ID; anything else is a usage error.

    Stricter than int(): "1.0", " 1", "1_0" and "٣" name no row, and a command that acts on
    a row must not guess which one was meant.
    """
    text = str(value)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise typer.BadParameter(f"{value!r} is not an id (a whole number from 1 to {MAX_ID})")
    return int(text)


@dataclasses.dataclass
class GlobalOptions:
    config: Path | None
    workspace: Workspace | None = None


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by the global --config option, opened once per command."""
    root = ctx.find_root()
    options = root.obj
    assert isinstance(options, GlobalOptions)
    if options.workspace is None:
        from crosspost.bootstrap import open_workspace

        options.workspace = open_workspace(options.config)
        root.call_on_close(options.workspace.close)
    return options.workspace


def local_time(value: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A UTC time shown in `zone`, e.g. '2026-11-28 09:21 +07' (seconds when it has them)."""
    if value is None:
        return "-"
    local = value.astimezone(zone)
    seconds = seconds or local.second != 0
    offset = local.strftime("%z")
    short = offset[:3] if offset.endswith("00") else offset
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + f" {short}"


def to_jsonable(value: Any) -> Any:
    """Dataclasses, datetimes (ISO 8601 UTC) and enums, as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """JSON on stdout, UTF-8 unescaped, so Vietnamese stays readable."""
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> Table:
    out = Table(*columns, title=title, show_lines=False, header_style="bold")
    for row in rows:
        out.add_row(*("-" if cell is None else str(cell) for cell in row))
    return out
