"""`crosspost schedule ID …` and `crosspost schedule list`: channels' calendars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from crosspost.bootstrap import Workspace, utcnow
from crosspost.cli.common import (
    JSON_HELP,
    MAX_ID,
    console,
    local_time,
    print_json,
    table,
    workspace,
)
from crosspost.errors import InvalidInput

if TYPE_CHECKING:
    from crosspost.services.scheduling import Planned


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule)


def schedule(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An approved article's id, or `list`.")],
    channels: Annotated[
        str | None,
        typer.Option("--channels", help="Channel names separated by commas, or all."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help='A time in the channels\' zone, e.g. "2026-12-01 09:30".'),
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Urgent: as soon as possible, ahead of the slots.")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who schedules.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Schedule an article on channels (next free slot, --at a time, or --now), or list what is
    scheduled (`schedule list`: upcoming deliveries per channel, in local times).

    Example: crosspost schedule 12 --channels gov-x,gov-fb
    """
    ws = workspace(ctx)
    if target == "list":
        _show_upcoming(ws, as_json)
        return
    if not (target.isascii() and target.isdigit()) or not 0 < int(target) <= MAX_ID:
        raise InvalidInput(f"{target!r} is not an article id (or `list`)")
    names = [n.strip() for n in (channels or "").split(",") if n.strip()]
    if not names:
        raise InvalidInput("give --channels (names separated by commas, or all)")
    if at and now:
        raise InvalidInput("give either --at or --now, not both")
    planned = _plan(ws, int(target), names, at, now, ws.actor(by))
    enqueue_planned(ws, planned)
    if as_json:
        print_json(planned)
        return
    if not planned:
        console.print("Nothing to schedule: every channel already carries this article.")
    for p in planned:
        console.print(
            f"Delivery {p.delivery_id}: article {target} on {p.channel} at "
            f"{local_time(p.due_at, ZoneInfo(p.timezone))}"
        )


def _plan(
    ws: Workspace, article: int, names: list[str], at: str | None, now: bool, actor: str
) -> list[Planned]:
    from crosspost.domain.slots import parse_local_time
    from crosspost.services.scheduling import When, channel_zones, schedule_article

    stamp = utcnow()
    when = When(now=now)
    if at is not None:
        # --at is read in the channels' zone; a mix of zones would make it mean two instants.
        zones = set(channel_zones(ws.factory, names).values())
        if len(zones) > 1:
            raise InvalidInput("--at is ambiguous for channels in different time zones")
        when = When(at=parse_local_time(at, ZoneInfo(zones.pop()), stamp))
    return schedule_article(ws.factory, article, names, when, actor=actor, now=stamp)


def enqueue_planned(ws: Workspace, planned: list[Planned]) -> None:
    """Hand the deliveries to the queue now if one is running; else the worker's sweep will."""
    from crosspost.queue.connection import connect_if_running
    from crosspost.queue.rq_queue import RQDeliveryQueue

    redis = connect_if_running(ws.settings)
    if redis is None:
        return
    queue = RQDeliveryQueue(redis)
    for p in planned:
        queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)


def _show_upcoming(ws: Workspace, as_json: bool) -> None:
    from crosspost.services.deliveries import list_deliveries

    views = list_deliveries(ws.factory, statuses=("scheduled", "sending", "unconfirmed"))
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("Nothing scheduled.")
        return
    console.print(
        table(
            ("delivery", "channel", "due (local)", "status", "article", "title"),
            [
                (
                    v.id,
                    v.channel,
                    local_time(v.due_at, ZoneInfo(v.timezone)),
                    v.status,
                    v.article_id,
                    v.title[:60],
                )
                for v in views
            ],
        )
    )
