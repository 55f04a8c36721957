"""`crosspost sources …`: the portal feeds to poll."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from crosspost.bootstrap import utcnow
from crosspost.cli.common import (
    JSON_HELP,
    MAX_ID,
    console,
    local_time,
    print_json,
    table,
    workspace,
)

app = typer.Typer(help="Portal feeds (RSS/Atom) that crosspost polls.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. chinhphu.")],
    url: Annotated[str, typer.Argument(help="The feed's http(s) URL.")],
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Approve this source's new articles automatically.")
    ] = False,
    interval: Annotated[
        int | None,
        typer.Option(
            "--interval", min=1, max=MAX_ID, help="Minutes between polls (default from config)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds allowed per fetch (default from config)."),
    ] = None,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes", min=1024, max=2**40, help="Largest feed accepted (default from config)."
        ),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Allow a feed on a private, loopback or link-local address (intranet portals).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Register a portal feed.

    Example: crosspost sources add chinhphu https://chinhphu.vn/rss/home.rss --trusted
    """
    from crosspost.services import sources as service

    ws = workspace(ctx)
    view = service.add_source(
        ws.factory,
        name=name,
        url=url,
        now=utcnow(),
        trusted=trusted,
        interval_minutes=interval,
        timeout_seconds=timeout,
        max_bytes=max_bytes,
        allow_private=allow_private,
    )
    if as_json:
        print_json(view)
        return
    mode = "trusted: its articles are approved automatically" if trusted else "needs approval"
    console.print(f"Added source {view.name} ({view.url}), {mode}.")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show every source: last success, last error, item counts and staleness.

    Example: crosspost sources list --json
    """
    from crosspost.services import sources as service

    ws = workspace(ctx)
    stale_after = timedelta(hours=ws.settings.ingest.stale_after_hours)
    views = service.list_sources(ws.factory, now=utcnow(), stale_after=stale_after)
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("No sources yet. Add one: crosspost sources add NAME URL")
        return
    zone = ws.settings.zone
    rows = []
    for v in views:
        state = "disabled" if not v.enabled else ("stale" if v.stale else "ok")
        if v.enabled and v.last_run_ok is False:
            state = "failing"
        rows.append(
            (
                v.name,
                "yes" if v.trusted else "no",
                state,
                local_time(v.last_success_at, zone),
                (v.last_error or "-") if v.last_run_ok is False else "-",
                v.items_seen,
                v.articles_created,
                v.articles_pending,
                local_time(v.last_new_item_at, zone),
            )
        )
    console.print(
        table(
            (
                "source",
                "trusted",
                "state",
                "last success",
                "last error",
                "items",
                "articles",
                "pending",
                "newest item",
            ),
            rows,
        )
    )


@app.command("disable")
def disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Source name.")]) -> None:
    """Stop polling a source (its articles stay).

    Example: crosspost sources disable ubdt
    """
    from crosspost.services import sources as service

    service.set_enabled(workspace(ctx).factory, name, False)
    console.print(f"Source {name} disabled.")


@app.command("enable")
def enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Source name.")]) -> None:
    """Poll a disabled source again.

    Example: crosspost sources enable ubdt
    """
    from crosspost.services import sources as service

    service.set_enabled(workspace(ctx).factory, name, True)
    console.print(f"Source {name} enabled.")
