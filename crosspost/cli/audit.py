"""`crosspost audit …`: the append-only, hash-chained record of decisions."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli.common import (
    JSON_HELP,
    MAX_ID,
    console,
    local_time,
    parse_id,
    print_json,
    table,
    workspace,
)
from crosspost.errors import CrosspostError

app = typer.Typer(help="The audit log of every decision and change of state.", no_args_is_help=True)


class AuditBroken(CrosspostError):
    """The audit chain does not verify."""


@app.command("list")
def list_(
    ctx: typer.Context,
    article: Annotated[
        int | None,
        typer.Option("--article", parser=parse_id, help="Only this article's entries."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=MAX_ID, help="Only the newest N.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List audit entries, oldest first.

    Example: crosspost audit list --article 12
    """
    from crosspost.services import audit as service

    ws = workspace(ctx)
    entries = service.list_entries(ws.factory, article_id=article, limit=limit)
    if as_json:
        print_json(entries)
        return
    if not entries:
        console.print("No audit entries match.")
        return
    zone = ws.settings.zone
    console.print(
        table(
            ("#", "when", "who", "action", "subject", "from", "to", "note"),
            [
                (
                    e.seq,
                    local_time(e.at, zone, seconds=True),
                    e.actor,
                    e.action,
                    f"{e.subject_type} {e.subject_id}",
                    e.from_state,
                    e.to_state,
                    e.note,
                )
                for e in entries
            ],
        )
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Check the hash chain: any edited, deleted or reordered entry is reported (exit 1).

    Example: crosspost audit verify
    """
    from crosspost.services import audit as service

    count, problems = service.verify(workspace(ctx).factory)
    if as_json:
        print_json({"entries": count, "ok": not problems, "problems": problems})
        if problems:
            raise typer.Exit(1)
        return
    if not problems:
        console.print(f"Audit log intact: {count} entries verified.")
        return
    for p in problems:
        console.print(f"entry {p.seq}: {p.reason}")
    raise AuditBroken(f"audit log does not verify: {len(problems)} problem(s) in {count} entries")
