"""`crosspost channels …`: the accounts crosspost publishes to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import JSON_HELP, console, local_time, print_json, table, workspace

if TYPE_CHECKING:
    from crosspost.services.tokens import TokenState

app = typer.Typer(help="Social accounts (channels) to publish to.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. gov-x.")],
    platform: Annotated[
        str, typer.Option("--platform", "-p", help="x, facebook, telegram, mastodon or zalo.")
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
    oa_id: Annotated[
        str | None, typer.Option("--oa-id", help="Zalo: the Official Account's id.")
    ] = None,
    app_id: Annotated[
        str | None, typer.Option("--app-id", help="Zalo: the id of the app authorised on the OA.")
    ] = None,
    cover_url: Annotated[
        str | None,
        typer.Option("--cover-url", help="Zalo: cover photo URL for the OA's articles."),
    ] = None,
    broadcast: Annotated[
        bool,
        typer.Option(
            "--broadcast/--no-broadcast",
            help="Zalo: also send each article to the OA's followers (daytime only).",
        ),
    ] = False,
    broadcast_hours: Annotated[
        str | None,
        typer.Option("--broadcast-hours", help="Zalo: when broadcasts go (default 06:00-22:00)."),
    ] = None,
    verify_timeout: Annotated[
        float | None,
        typer.Option("--verify-timeout", help="Zalo: seconds to wait for an article (60)."),
    ] = None,
    refresh_days: Annotated[
        int | None,
        typer.Option("--refresh-days", help="Zalo: days a refresh token lasts (90)."),
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
        "oa_id": oa_id or "",
        "app_id": app_id or "",
        "cover_url": cover_url or "",
        "broadcast": "on" if broadcast else "",
        "broadcast_hours": broadcast_hours or "",
        "verify_timeout": "" if verify_timeout is None else str(verify_timeout),
        "refresh_days": "" if refresh_days is None else str(refresh_days),
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
    if view.platform == "zalo":
        console.print(
            "  (the refresh token is only the first: crosspost stores each new one, encrypted)"
        )
        if not view.options.get("cover_url"):
            console.print(
                "Warning: no --cover-url: Zalo refuses articles without a cover photo, so articles "
                "whose feed names no picture will fail on this channel."
            )
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
    from crosspost.services.tokens import token_states, token_warning

    ws = workspace(ctx)
    views = list_channels(ws.factory, ws.environ)
    tokens = token_states(ws.factory)
    now = utcnow()
    if as_json:
        print_json(
            [{**asdict(v), "refresh_token_expires_at": _expiry(tokens, v.id)} for v in views]
        )
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
        warning = token_warning(tokens.get(v.id), now)
        if warning:
            check = f"{check}; {warning}"
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
    from crosspost.services.channels import check_channel, get_channel
    from crosspost.services.tokens import store_for, token_cipher, token_states, token_warning

    ws = workspace(ctx)
    account = check_channel(
        ws.factory,
        name,
        ws.environ,
        now=utcnow(),
        token_store_for=lambda view: store_for(
            ws.factory,
            view.id,
            view.platform,
            lambda: token_cipher(ws.environ, ws.settings.workspace),
            clock=utcnow,
            actor="channels check",
        ),
    )
    handle = f" (@{account.username})" if account.username else ""
    message = f"Channel {name}: credentials work, posting as {account.name}{handle}"
    console.print(Text(f"{message}, account id {account.account_id}."))
    state = token_states(ws.factory).get(get_channel(ws.factory, name, ws.environ).id)
    if state is not None:
        zone = ws.settings.zone
        console.print(
            f"Access token valid until {local_time(state.access_expires_at, zone)}; "
            f"refresh token expires {local_time(state.refresh_expires_at, zone)} "
            f"(in {max(0, (state.refresh_expires_at - utcnow()).days)} days)."
        )
        warning = token_warning(state, utcnow())
        if warning:
            console.print(Text(f"Warning: {warning}", style="bold yellow"))


def _expiry(tokens: Mapping[int, TokenState], channel_id: int) -> str | None:
    state = tokens.get(channel_id)
    return state.refresh_expires_at.isoformat() if state else None
