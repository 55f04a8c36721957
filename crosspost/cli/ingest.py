"""`crosspost ingest`: poll the sources once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import JSON_HELP, console, err_console, print_json, workspace
from crosspost.errors import CrosspostError

if TYPE_CHECKING:
    from crosspost.bootstrap import Workspace
    from crosspost.services.ingest import RunReport


class SourcesFailed(CrosspostError):
    """At least one source could not be ingested."""


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Poll every enabled source once and store new articles (exit 1 if any source failed).

    Example: crosspost ingest --source chinhphu
    """
    from crosspost.feeds import FeedFetcher
    from crosspost.services.ingest import ingest_all

    ws = workspace(ctx)
    settings = ws.settings.ingest
    with FeedFetcher(settings) as fetcher:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        )
        with progress:
            task = progress.add_task("Polling sources", total=_enabled_count(ws, source))

            def on_progress(name: str, report: RunReport) -> None:
                progress.advance(task)
                if not as_json:
                    progress.console.print(_line(report))

            reports = ingest_all(
                ws.factory,
                fetcher=fetcher,
                settings=settings,
                now=utcnow,
                on_progress=on_progress,
                only=source or None,
            )
    if as_json:
        print_json(reports)
    elif not reports:
        console.print("No enabled sources. Add one: crosspost sources add NAME URL")
    failed = [r for r in reports if not r.ok]
    if failed:
        raise SourcesFailed(
            f"{len(failed)} of {len(reports)} sources failed: "
            + ", ".join(r.source for r in failed)
        )


def _enabled_count(ws: Workspace, only: list[str] | None) -> int:
    from datetime import timedelta

    from crosspost.services.sources import list_sources

    views = list_sources(ws.factory, now=utcnow(), stale_after=timedelta(hours=1))
    return sum(1 for v in views if v.enabled and (not only or v.name in only))


def _line(r: RunReport) -> Text:
    if not r.ok:
        return Text(f"✗ {r.source}: {r.error}", style="red")
    if r.not_modified:
        return Text(f"· {r.source}: unchanged")
    return Text(
        f"✓ {r.source}: {r.items} items, {r.new_articles} new, {r.revisions} revised, "
        f"{r.duplicates} already known"
    )
