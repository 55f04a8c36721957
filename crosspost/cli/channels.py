"""`crosspost channels …`: the accounts crosspost publishes to."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import JSON_HELP, console, local_time, print_json, table, workspace

app = typer.Typer(help="Social accounts (channels) to publish to.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. gov-x.")],
    platform: Annotated[
        str, typer.Option("--platform", "-p", help="x, facebook, telegram or mastodon.")
    ],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the channel's posting times.")
    ] = "Asia/Ho_Chi_Minh",
    page_id: Annotated[
        str | None, typer.Option("--page-id", help="Facebook: the Page's numeric id.")
    ] = None,
    graph_version: Annotated[
        str | None, typer.Option("--graph-version", help="Facebook: Graph API version, e.g. v21.0.")
    ] = None,
    chat: Annotated[
        str | None,
        typer.Option("--chat", help='Telegram: the channel, "@name" or its numeric id.'),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Mastodon: the posts' language (vi).")
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option("--api-base", help="Send this channel's API calls here (sandbox, gateway)."),
    ] = None,
    hashtag: Annotated[
        list[str] | None, typer.Option("--hashtag", help="Hashtag added to posts (repeatable).")
    ] = None,
    utm_source: Annotated[
        str | None, typer.Option("--utm-source", help="utm_source for links.")
    ] = None,
    utm_medium: Annotated[
        str | None, typer.Option("--utm-medium", help="utm_medium for links.")
    ] = None,
    utm_campaign: Annotated[
        str | None, typer.Option("--utm-campaign", help="utm_campaign for links.")
    ] = None,
    env_prefix: Annotated[
        str | None,
        typer.Option(
            "--env-prefix",
            help="Read credentials from <PREFIX><NAME> variables (default CROSSPOST_<CHANNEL>_).",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds allowed per platform call.")
    ] = None,
    slots: Annotated[
        str,
        typer.Option("--slots", help='Daily posting times in the channel\'s zone, "07:30,11:30".'),
    ] = "",
    min_gap: Annotated[
        str, typer.Option("--min-gap", help="Least time between two posts, e.g. 20m, 1h30m.")
    ] = "0",
    auto_schedule: Annotated[
        list[str] | None,
        typer.Option(
            "--auto-schedule",
            help="Source whose approved articles go into the next "
            "free slot by themselves (repeatable).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Register a channel. Its credentials are read from environment variables, never stored.

    Example: crosspost channels add gov-fb --platform facebook --page-id 1234567890
    """
    from crosspost.services.channels import NewChannel, add_channel

    ws = workspace(ctx)
    options = {
        "page_id": page_id or "",
        "graph_version": graph_version or "",
        "chat": chat or "",
        "language": language or "",
    }
    utm = {
        "utm_source": utm_source or "",
        "utm_medium": utm_medium or "",
        "utm_campaign": utm_campaign or "",
    }
    view = add_channel(
        ws.factory,
        NewChannel(
            name=name,
            platform=platform,
            timezone=timezone,
            api_base=api_base,
            options=options,
            env_prefix=env_prefix,
            hashtags=hashtag or [],
            utm=utm,
            timeout_seconds=timeout,
            slots=slots,
            min_gap=min_gap,
            auto_schedule=auto_schedule or [],
        ),
        now=utcnow(),
    )
    if as_json:
        print_json(view)
        return
    console.print(f"Added channel {view.name} ({view.platform}, {view.timezone}).")
    console.print("Set its credentials in these environment variables:")
    for cred, var in view.credentials_env.items():
        console.print(f"  {var}  ({cred})")
    console.print(f"Then check them: crosspost channels check {view.name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show every channel, its API host, whether its credentials are set, and the last check.

    Example: crosspost channels list
    """
    from crosspost.services.channels import list_channels

    ws = workspace(ctx)
    views = list_channels(ws.factory, ws.environ)
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("No channels yet. Add one: crosspost channels add NAME --platform x")
        return
    rows = []
    for v in views:
        missing = [v.credentials_env[c] for c, ok in v.credentials_set.items() if not ok]
        creds = "set" if not missing else "missing: " + ", ".join(missing)
        if v.last_check_ok is None:
            check = "never checked"
        elif v.last_check_ok:
            check = f"ok ({v.account_name or '?'}) {local_time(v.last_check_at, ws.settings.zone)}"
        else:
            check = f"FAILED {local_time(v.last_check_at, ws.settings.zone)}: {v.last_check_error}"
        if v.paused_at is not None:
            check = f"PAUSED since {local_time(v.paused_at, ws.settings.zone)}: {v.paused_reason}"
        rows.append(
            (v.name, v.platform, v.timezone, ",".join(v.slots) or "-", v.api_base, creds, check)
        )
    console.print(
        table(("channel", "platform", "zone", "slots", "api", "credentials", "state"), rows)
    )


@app.command("check")
def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Channel name.")],
) -> None:
    """Verify a channel's credentials with the platform; posts nothing (exit 1 if they fail).

    Example: crosspost channels check gov-x
    """
    from crosspost.services.channels import check_channel

    ws = workspace(ctx)
    account = check_channel(ws.factory, name, ws.environ, now=utcnow())
    handle = f" (@{account.username})" if account.username else ""
    message = f"Channel {name}: credentials work, posting as {account.name}{handle}"
    console.print(Text(f"{message}, account id {account.account_id}."))
