"""`crosspost deliveries …`: the ledger of posts, and the hand tools for it."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import (
    JSON_HELP,
    console,
    local_time,
    parse_id,
    print_json,
    table,
    workspace,
)
from crosspost.domain.delivery import DeliveryStatus

app = typer.Typer(help="Deliveries: one article on one channel.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        DeliveryStatus | None, typer.Option("--status", help="Only deliveries in this state.")
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel's.")] = None,
    article: Annotated[
        int | None, typer.Option("--article", parser=parse_id, help="Only this article's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List deliveries with their state, post id or last error.

    Example: crosspost deliveries list --status failed
    """
    from crosspost.services.deliveries import list_deliveries

    ws = workspace(ctx)
    views = list_deliveries(
        ws.factory,
        statuses=(status.value,) if status else (),
        channel=channel,
        article_id=article,
        limit=limit,
    )
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("No deliveries match.")
        return
    console.print(
        table(
            ("id", "article", "channel", "status", "due (local)", "tries", "post / error"),
            [
                (
                    v.id,
                    v.article_id,
                    v.channel,
                    v.status,
                    local_time(v.due_at, ZoneInfo(v.timezone)),
                    v.attempts,
                    v.post_url or v.post_id or v.last_error or "",
                )
                for v in views
            ],
        )
    )


@app.command("retry")
def retry(
    ctx: typer.Context,
    delivery: Annotated[int, typer.Argument(help="Delivery id.", parser=parse_id)],
    by: Annotated[str | None, typer.Option("--by", help="Who asks.")] = None,
) -> None:
    """Send a failed or cancelled delivery again now (that delivery only).

    Example: crosspost deliveries retry 33
    """
    from crosspost.cli.schedule import enqueue_planned
    from crosspost.services.scheduling import retry_delivery

    ws = workspace(ctx)
    planned = retry_delivery(ws.factory, delivery, actor=ws.actor(by), now=utcnow())
    enqueue_planned(ws, [planned])
    console.print(f"Delivery {delivery} scheduled again, now, on {planned.channel}.")


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    delivery: Annotated[int, typer.Argument(help="Delivery id.", parser=parse_id)],
    by: Annotated[str | None, typer.Option("--by", help="Who cancels.")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
) -> None:
    """Cancel a scheduled delivery.

    Example: crosspost deliveries cancel 34 --note "đổi kênh"
    """
    from crosspost.services.scheduling import cancel_delivery

    ws = workspace(ctx)
    cancel_delivery(ws.factory, delivery, actor=ws.actor(by), now=utcnow(), note=note)
    console.print(f"Delivery {delivery} cancelled.")


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="Who asks.")] = None,
) -> None:
    """Settle unconfirmed deliveries now: published if found on the account, else resent.

    Example: crosspost deliveries reconcile
    """
    from crosspost.engine import Engine
    from crosspost.queue.connection import connect
    from crosspost.services.deliveries import list_deliveries

    ws = workspace(ctx)
    engine = Engine(ws, connect(ws.settings))
    pending = list_deliveries(ws.factory, statuses=(DeliveryStatus.UNCONFIRMED.value,))
    if not pending:
        console.print("No unconfirmed deliveries.")
        return
    actor = ws.actor(by)
    for v in pending:
        outcome = engine.reconcile(v.id, actor=actor)
        console.print(Text(f"Delivery {v.id} ({v.channel}): {outcome}"))
