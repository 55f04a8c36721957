"""`crosspost preview`: the exact post a channel would publish for an article."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from crosspost.cli.common import JSON_HELP, console, parse_id, print_json, workspace


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)


def preview(
    ctx: typer.Context,
    article: Annotated[int, typer.Argument(help="Article id.", parser=parse_id)],
    channel: Annotated[str, typer.Option("--channel", help="Channel name.")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show the exact text that would be sent, and its length by the platform's count.

    Example: crosspost preview 12 --channel gov-x
    """
    from crosspost.services.compose import Templates
    from crosspost.services.compose import preview as compose_preview

    ws = workspace(ctx)
    post = compose_preview(
        ws.factory, article, channel, Templates.for_workspace(ws.settings.workspace)
    )
    if as_json:
        print_json(post)
        return
    for field in post.fields:
        size = f" ({field.length} / {field.limit})" if field.limit is not None else ""
        console.print(Text(f"{field.name}: {field.value}{size}"))
    if post.fields:
        console.rule()
    console.print(Text(post.text))
    if post.link is not None and post.link not in post.text:
        console.print(Text(f"link: {post.link}"))
    console.rule()
    measure = {"x": "weighted length", "zalo": "description length"}.get(post.platform, "length")
    note = " (shortened to fit)" if post.shortened else ""
    console.print(f"{post.platform} {measure}: {post.length} / {post.limit}{note}")
