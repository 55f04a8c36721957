"""`crosspost sandbox`: run the local fake X and Facebook APIs."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Run a local stand-in for the X and Facebook APIs (no real platform is called).",
    no_args_is_help=True,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8700,
) -> None:
    """Serve the sandbox until Ctrl-C; point a channel's api_base at URL/x or URL/graph.

    Example: crosspost sandbox serve --port 8700
    """
    from crosspost.sandbox import DEMO_PAGE, DEMO_X_ACCOUNT
    from crosspost.sandbox import serve as run

    def ready(url: str) -> None:
        typer.echo(f"sandbox listening on {url}")
        typer.echo(f"  X api_base:        {url}/x   (demo user @{DEMO_X_ACCOUNT.username})")
        typer.echo(f"  Facebook api_base: {url}/graph   (demo Page {DEMO_PAGE.page_id})")
        typer.echo(f"  control:           {url}/_sandbox/posts, /_sandbox/faults, ...")

    run(host, port, ready=ready)
