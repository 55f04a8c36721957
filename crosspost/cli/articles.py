"""`crosspost articles …`: what came in from the portals, and the officers' decisions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import (
    JSON_HELP,
    MAX_ID,
    console,
    local_time,
    parse_id,
    print_json,
    table,
    to_jsonable,
    workspace,
)
from crosspost.domain.approval import ArticleStatus, Decision

app = typer.Typer(help="Ingested articles and their approval.", no_args_is_help=True)

IdsArg = Annotated[list[int], typer.Argument(help="One or more article ids.", parser=parse_id)]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Who decides (default: $CROSSPOST_USER, else the OS user)."),
]


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        ArticleStatus | None, typer.Option("--status", help="Only articles in this state.")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Rows per page.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, max=MAX_ID, help="Rows to skip.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List articles, newest first.

    Example: crosspost articles list --status pending
    """
    from crosspost.services import articles as service

    ws = workspace(ctx)
    views, total = service.list_articles(
        ws.factory, status=status, source=source, limit=limit, offset=offset
    )
    if as_json:
        print_json({"total": total, "offset": offset, "articles": views})
        return
    if not views:
        console.print("No articles match.")
        return
    zone = ws.settings.zone
    rows = [
        (
            v.id,
            v.status,
            local_time(v.published_at, zone) + (" ~" if v.published_at_estimated else ""),
            v.source,
            v.title if len(v.title) <= 90 else v.title[:89] + "…",
        )
        for v in views
    ]
    console.print(table(("id", "status", "published", "source", "title"), rows))
    shown_to = offset + len(views)
    console.print(
        f"{offset + 1}-{shown_to} of {total}"
        + ("  (~ date estimated)" if any(v.published_at_estimated for v in views) else "")
    )


@app.command("show")
def show(
    ctx: typer.Context,
    article_id: Annotated[int, typer.Argument(help="Article id.", parser=parse_id)],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show one article: text, sources, revisions, decisions, posts and their latest engagement.

    Example: crosspost articles show 12
    """
    from crosspost.services import articles as service
    from crosspost.services.deliveries import list_deliveries
    from crosspost.services.report import latest_engagement

    ws = workspace(ctx)
    detail = service.show_article(ws.factory, article_id)
    posts = list_deliveries(ws.factory, article_id=article_id)
    engagement = latest_engagement(ws.factory, article_id)
    if as_json:
        print_json({**to_jsonable(detail), "deliveries": posts, "engagement": engagement})
        return
    zone = ws.settings.zone
    a = detail.article
    console.print(Text(f"#{a.id} {a.title}", style="bold"))
    estimated = " (estimated: the feed gave no usable date)" if a.published_at_estimated else ""
    console.print(f"status:     {a.status}")
    console.print(f"published:  {local_time(a.published_at, zone)}{estimated}")
    console.print(f"first seen: {local_time(a.first_seen_at, zone)}")
    console.print(Text(f"link:       {a.link}"))
    if a.canonical_url != a.link:
        console.print(Text(f"canonical:  {a.canonical_url}"))
    console.print(f"sources:    {', '.join(detail.carried_by) or a.source}")
    console.print(Text(f"\n{detail.summary}\n"))
    if len(detail.revisions) > 1:
        console.print(
            table(
                ("rev", "recorded", "source", "title"),
                [
                    (r.revision, local_time(r.recorded_at, zone), r.source, r.title)
                    for r in detail.revisions
                ],
                title="Revisions",
            )
        )
    console.print(
        table(
            ("#", "when", "who", "action", "from", "to", "note"),
            [
                (h.seq, local_time(h.at, zone), h.actor, h.action, h.from_state, h.to_state, h.note)
                for h in detail.history
            ],
            title="History",
        )
    )
    if posts:
        names = sorted({m for values in engagement.values() for m in values})
        console.print(
            table(
                ("channel", "status", "published", "post", *names),
                [
                    (
                        p.channel,
                        p.status,
                        local_time(p.published_at, zone),
                        p.post_url or p.post_id or p.last_error or "",
                        *(_figure(engagement, p.channel, p.platform, m) for m in names),
                    )
                    for p in posts
                ],
                title="Posts and latest engagement",
            )
        )


def _decide(
    ctx: typer.Context, ids: list[int], decision: Decision, by: str | None, note: str
) -> None:
    from crosspost.services import articles as service

    ws = workspace(ctx)
    results = service.decide_articles(
        ws.factory, ids, decision, actor=ws.actor(by), note=note, now=utcnow()
    )
    for r in results:
        console.print(f"Article {r.id}: {r.from_status} -> {r.to_status}")


@app.command("approve")
def approve(
    ctx: typer.Context,
    ids: IdsArg,
    by: ByOpt = None,
    note: Annotated[str, typer.Option("--note", help="A note for the record.")] = "",
) -> None:
    """Approve pending articles for publishing (all or none of the ids).

    Example: crosspost articles approve 12 14 --by "Nguyễn Văn A" --note "đã duyệt"
    """
    _decide(ctx, ids, Decision.APPROVE, by, note)


@app.command("reject")
def reject(
    ctx: typer.Context,
    ids: IdsArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (required, kept on record).")],
    by: ByOpt = None,
) -> None:
    """Reject pending articles: they will never be published.

    Example: crosspost articles reject 15 --by "Nguyễn Văn A" --reason "trùng nội dung"
    """
    _decide(ctx, ids, Decision.REJECT, by, reason)


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    ids: IdsArg,
    by: ByOpt = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
) -> None:
    """Take back an approval (the article returns to pending) until it is published.

    Example: crosspost articles withdraw 12 --note "chờ số liệu mới"
    """
    _decide(ctx, ids, Decision.WITHDRAW, by, note)


def _figure(engagement: dict[str, dict[str, int]], channel: str, platform: str, name: str) -> str:
    """A post's latest value of one metric; "n/a" when the platform cannot give it (Telegram,
    Zalo's likes), "-" when it has not been read yet."""
    from crosspost.platforms.registry import ENGAGEMENT_METRICS, gives_engagement

    value = engagement.get(channel, {}).get(name)
    if value is not None:
        return str(value)
    metric = name if name in ENGAGEMENT_METRICS else None
    return "-" if gives_engagement(platform, metric) else "n/a"
