"""`crosspost sandbox`: run the local fake platform APIs (X, Graph, Zalo, Telegram, Mastodon)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Run a local stand-in for the platforms' APIs (no real platform is called).",
    no_args_is_help=True,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8700,
) -> None:
    """Serve the sandbox until Ctrl-C; point a channel's --api-base at URL/<platform>.

    Example: crosspost sandbox serve --port 8700
    """
    from crosspost.sandbox import DEMO_PAGE, DEMO_X_ACCOUNT
    from crosspost.sandbox import serve as run
    from crosspost.sandbox.state import DEMO_MASTODON_ACCOUNT, DEMO_TELEGRAM_BOT, DEMO_ZALO_OA

    def ready(url: str) -> None:
        typer.echo(f"sandbox listening on {url}")
        typer.echo(f"  X api_base:        {url}/x   (demo user @{DEMO_X_ACCOUNT.username})")
        typer.echo(f"  Facebook api_base: {url}/graph   (demo Page {DEMO_PAGE.page_id})")
        typer.echo(f"  Zalo api_base:     {url}/zalo   (demo OA {DEMO_ZALO_OA.oa_id})")
        typer.echo(
            f"  Telegram api_base: {url}/telegram   (chat @{DEMO_TELEGRAM_BOT.chat_username})"
        )
        typer.echo(f"  Mastodon api_base: {url}/mastodon   (@{DEMO_MASTODON_ACCOUNT.username})")
        typer.echo(f"  control:           {url}/_sandbox/posts, /_sandbox/faults, ...")

    run(host, port, ready=ready)
