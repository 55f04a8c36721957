"""`crosspost metrics …`: engagement of published posts, read on the polling ladder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from crosspost.cli.common import JSON_HELP, console, local_time, print_json, workspace
from crosspost.errors import CrosspostError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from crosspost.services.metrics import ChannelRound

app = typer.Typer(help="Engagement of published posts.", no_args_is_help=True)


class CollectionFailed(CrosspostError):
    """At least one channel's engagement could not be read (a rate-limit deferral is not this)."""


@app.command("collect")
def collect(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (repeatable).")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who asks (for the audit log).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Read now the engagement of every post whose next reading is due.

    The worker does this every minute by itself. A rate-limited channel is put off until the
    platform's reset (not a failure); exit 1 if a channel failed.

    Example: crosspost metrics collect --channel gov-x
    """
    from crosspost.engine import Engine
    from crosspost.queue.connection import connect
    from crosspost.services.channels import get_channel

    ws = workspace(ctx)
    for name in channel or ():
        get_channel(ws.factory, name, ws.environ)  # NotFound: a typo must not read as "nothing due"
    engine = Engine(ws, connect(ws.settings))
    report = engine.collect_metrics(only=channel or (), actor=ws.actor(by))
    if as_json:
        print_json(report)
    elif not report.channels:
        console.print("No posts are due for an engagement reading.")
    for line in [] if as_json else report.channels:
        console.print(_line(line, ws.settings.zone))
    if report.failed:
        raise CollectionFailed(
            f"{len(report.failed)} of {len(report.channels)} channels failed: "
            + ", ".join(c.channel for c in report.failed)
        )


def _line(c: ChannelRound, zone: ZoneInfo) -> Text:
    if c.outcome == "collected":
        counts = ((c.deleted, "deleted on the platform"), (c.unavailable, "not shown"))
        extra = "".join(f", {n} {what}" for n, what in counts if n)
        return Text(f"✓ {c.channel}: {c.posts} posts, {c.snapshots} snapshots{extra}")
    until = local_time(c.deferred_until, zone)
    if c.outcome == "deferred":
        return Text(f"· {c.channel}: {c.posts} posts put off until {until}: {c.reason}")
    return Text(f"✗ {c.channel}: {c.reason} (tried again after {until})", style="red")
