"""Channels: the accounts crosspost publishes to, their settings, and credential checks.

Credentials live in environment variables named per channel (never in the database); this module
resolves them into `Secret`s only when a connection is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel
from crosspost.db.session import transaction
from crosspost.domain.slots import parse_gap, parse_slots
from crosspost.errors import ConfigError, InvalidInput, NotFound, PublishError
from crosspost.platforms.base import (
    AccountInfo,
    ChannelConnection,
    Publisher,
    Secret,
    TokenStore,
)
from crosspost.platforms.registry import PLATFORMS, build_publisher, platform_info
from crosspost.services import audit

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HASHTAG = re.compile(r"^#\w+$")
_UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel as listed: settings, where its credentials come from, and whether they are set."""

    id: int
    name: str
    platform: str
    timezone: str
    api_base: str
    options: dict[str, str]
    credentials_env: dict[str, str]
    credentials_set: dict[str, bool]
    hashtags: list[str]
    utm: dict[str, str]
    timeout_seconds: float | None
    enabled: bool
    created_at: datetime
    last_check_at: datetime | None
    last_check_ok: bool | None
    last_check_error: str | None
    account_name: str | None
    slots: list[str]
    min_gap_seconds: int
    auto_schedule: list[str]
    paused_at: datetime | None
    paused_reason: str | None


@dataclass(frozen=True, slots=True)
class NewChannel:
    """What `channels add` asks for."""

    name: str
    platform: str
    timezone: str = "Asia/Ho_Chi_Minh"
    api_base: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    env_prefix: str | None = None
    hashtags: Sequence[str] = ()
    utm: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None
    slots: str = ""
    min_gap: str = "0"
    auto_schedule: Sequence[str] = ()


def default_env_name(channel: str, credential: str) -> str:
    """CROSSPOST_<CHANNEL>_<CREDENTIAL>, e.g. CROSSPOST_GOV_X_ACCESS_TOKEN."""
    return re.sub(r"[^A-Z0-9]", "_", f"CROSSPOST_{channel}_{credential}".upper())


def add_channel(factory: sessionmaker[Session], new: NewChannel, *, now: datetime) -> ChannelView:
    """Register a channel after checking every setting; nothing is written if one is wrong."""
    if not _NAME.match(new.name):
        raise InvalidInput(
            f"channel name {new.name!r} must be 1-64 lower-case letters, digits, '-' or '_'"
        )
    if new.platform not in PLATFORMS:
        raise InvalidInput(
            f"unknown platform {new.platform!r} (known: {', '.join(sorted(PLATFORMS))})"
        )
    info = platform_info(new.platform)
    _check_zone(new.timezone)
    api_base = _check_api_base(new.api_base) if new.api_base else None
    options = {k: v.strip() for k, v in new.options.items() if v and v.strip()}
    unknown = set(options) - set(info.option_names)
    if unknown:
        raise InvalidInput(f"{new.platform} channels take no option {', '.join(sorted(unknown))}")
    if new.platform == "facebook" and not options.get("page_id", "").isdigit():
        raise InvalidInput("a facebook channel needs --page-id with the Page's numeric id")
    if new.platform == "telegram" and not options.get("chat"):
        raise InvalidInput("a telegram channel needs its chat: '@channelname' or the -100… id")
    if new.platform == "mastodon" and not api_base:
        raise InvalidInput("a mastodon channel needs --api-base with its instance's URL")
    if new.platform == "zalo":
        _check_zalo(options)
    hashtags = [h.strip() for h in new.hashtags if h.strip()]
    bad = [h for h in hashtags if not _HASHTAG.match(h)]
    if bad:
        raise InvalidInput(f"hashtag {bad[0]!r} must be '#' followed by letters or digits")
    utm = {k: v for k, v in new.utm.items() if v}
    if set(utm) - set(_UTM_KEYS):
        raise InvalidInput(f"UTM parameters are {', '.join(_UTM_KEYS)}")
    if new.timeout_seconds is not None and not 0 < new.timeout_seconds <= 120:
        raise InvalidInput("--timeout must be between 0 and 120 seconds")
    slots = [t.strftime("%H:%M") for t in parse_slots(new.slots)]
    gap = parse_gap(new.min_gap)
    prefix = new.env_prefix
    credentials_env = {
        cred: (f"{prefix}{cred.upper()}" if prefix else default_env_name(new.name, cred))
        for cred in info.credential_names
    }
    with transaction(factory) as session:
        if session.scalar(select(Channel.id).where(Channel.name == new.name)) is not None:
            raise InvalidInput(f"a channel named {new.name!r} already exists")
        row = Channel(
            name=new.name,
            platform=new.platform,
            timezone=new.timezone,
            api_base=api_base,
            options=options,
            credentials_env=credentials_env,
            hashtags=hashtags,
            utm=utm,
            timeout_seconds=new.timeout_seconds,
            slots=slots,
            min_gap_seconds=int(gap.total_seconds()),
            auto_schedule=[a.strip() for a in new.auto_schedule if a.strip()],
            enabled=True,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return _view(row, {})


def list_channels(factory: sessionmaker[Session], environ: Mapping[str, str]) -> list[ChannelView]:
    """Every channel, with whether each of its credential variables is set (never the value)."""
    with factory() as session:
        return [_view(c, environ) for c in session.scalars(select(Channel).order_by(Channel.name))]


def get_channel(
    factory: sessionmaker[Session], name: str, environ: Mapping[str, str]
) -> ChannelView:
    with factory() as session:
        return _view(_row(session, name), environ)


def connection_for(
    view: ChannelView, environ: Mapping[str, str], *, token_store: TokenStore | None = None
) -> ChannelConnection:
    """The adapter's connection for a channel, with credentials read from the environment.

    Platforms with rotating tokens (`PlatformInfo.rotating_tokens`) need `token_store`.
    """
    credentials = {
        cred: Secret(environ[var]) for cred, var in view.credentials_env.items() if environ.get(var)
    }
    missing = [var for cred, var in view.credentials_env.items() if cred not in credentials]
    if missing:
        raise InvalidInput(
            f"channel {view.name}: credential variable(s) not set: {', '.join(missing)}"
        )
    kwargs: dict[str, float] = {}
    if view.timeout_seconds is not None:
        kwargs["timeout_seconds"] = view.timeout_seconds
    return ChannelConnection(
        platform=view.platform,
        credentials=credentials,
        api_base=view.api_base,
        options=view.options,
        token_store=token_store,
        **kwargs,
    )


def check_channel(
    factory: sessionmaker[Session],
    name: str,
    environ: Mapping[str, str],
    *,
    now: datetime,
    build: Callable[[ChannelConnection], Publisher] = build_publisher,
    token_store_for: Callable[[ChannelView], TokenStore | None] = lambda view: None,
) -> AccountInfo:
    """Verify a channel's credentials with the platform (posts nothing); the result is recorded.

    For a platform with rotating tokens this may refresh them (into `token_store_for`'s store).
    """
    view = get_channel(factory, name, environ)
    try:
        connection = connection_for(view, environ, token_store=token_store_for(view))
        account = build(connection).check_credentials()
    except (PublishError, InvalidInput) as exc:
        _record_check(factory, name, now, ok=False, error=str(exc), account=None)
        raise
    _record_check(factory, name, now, ok=True, error=None, account=account.name)
    return account


def _record_check(
    factory: sessionmaker[Session],
    name: str,
    now: datetime,
    *,
    ok: bool,
    error: str | None,
    account: str | None,
) -> None:
    with transaction(factory) as session:
        row = _row(session, name)
        row.last_check_at = now
        row.last_check_ok = ok
        row.last_check_error = error
        if account is not None:
            row.account_name = account
        if ok and row.paused_at is not None:
            # The platform accepts the credentials again: the channel's waiting deliveries go.
            audit.append(
                session,
                at=now,
                actor="channels check",
                action="resumed",
                subject_type="channel",
                subject_id=row.id,
                from_state="paused",
                to_state="active",
                note=f"credentials accepted (paused: {row.paused_reason})",
            )
            row.paused_at = None
            row.paused_reason = None


def _row(session: Session, name: str) -> Channel:
    row = session.scalar(select(Channel).where(Channel.name == name))
    if row is None:
        raise NotFound(f"no channel named {name!r}")
    return row


def _check_zone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: OSError
        raise InvalidInput(
            f"unknown time zone {zone!r} (use an IANA name such as Asia/Ho_Chi_Minh)"
        ) from None


def _check_zalo(options: Mapping[str, str]) -> None:
    for name, flag in (("oa_id", "--oa-id"), ("app_id", "--app-id")):
        if not options.get(name, "").isdigit():
            raise InvalidInput(f"a zalo channel needs {flag} with the numeric id")
    cover = options.get("cover_url", "")
    if cover and (urlsplit(cover).scheme not in ("http", "https") or not urlsplit(cover).hostname):
        raise InvalidInput(f"--cover-url {cover!r} must be an http(s) URL of an image")
    # verify: the whole publish must fit a delivery job's 120 s; refresh: at most a year.
    for name, most in (("verify_timeout", 90.0), ("refresh_days", 365.0)):
        raw = options.get(name)
        if raw is not None and not _within(raw, most):
            flag = "--" + name.replace("_", "-")
            raise InvalidInput(f"{flag} must be a number above 0 and at most {most:g}, not {raw!r}")
    if "broadcast_hours" in options:
        from crosspost.platforms.zalo import parse_hours

        try:
            parse_hours(options["broadcast_hours"])
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None


def _within(raw: str, most: float) -> bool:
    try:
        return 0 < float(raw) <= most
    except ValueError:
        return False


def _check_api_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput(f"--api-base {url!r} must be an http(s) URL without query or fragment")
    return url.strip().rstrip("/")


def _default_base(platform: str) -> str:
    return platform_info(platform).default_api_base


def _view(row: Channel, environ: Mapping[str, str]) -> ChannelView:
    return ChannelView(
        id=row.id,
        name=row.name,
        platform=row.platform,
        timezone=row.timezone,
        api_base=row.api_base or _default_base(row.platform),
        options=dict(row.options),
        credentials_env=dict(row.credentials_env),
        credentials_set={cred: bool(environ.get(var)) for cred, var in row.credentials_env.items()},
        hashtags=list(row.hashtags),
        utm=dict(row.utm),
        timeout_seconds=row.timeout_seconds,
        enabled=row.enabled,
        created_at=row.created_at,
        last_check_at=row.last_check_at,
        last_check_ok=row.last_check_ok,
        last_check_error=row.last_check_error,
        account_name=row.account_name,
        slots=list(row.slots),
        min_gap_seconds=row.min_gap_seconds,
        auto_schedule=list(row.auto_schedule),
        paused_at=row.paused_at,
        paused_reason=row.paused_reason,
    )
