"""Sources: the portal feeds crosspost polls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Source
from crosspost.db.session import transaction
from crosspost.errors import InvalidInput, NotFound

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class SourceView:
    """A source as shown by `sources list`."""

    id: int
    name: str
    url: str
    trusted: bool
    enabled: bool
    interval_minutes: int | None
    created_at: datetime
    last_run_at: datetime | None
    last_run_ok: bool | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_new_item_at: datetime | None
    items_seen: int
    articles_created: int
    revisions_recorded: int
    articles_pending: int
    stale: bool


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            f"source name {name!r} must be 1-64 lower-case letters, digits, '-' or '_'"
        )
    return name


def validate_feed_url(url: str) -> str:
    """An absolute http(s) URL with a host, or InvalidInput."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"feed URL {url!r} must be an absolute http:// or https:// URL")
    if any(ch.isspace() for ch in url):
        raise InvalidInput(f"feed URL {url!r} contains spaces")
    return url


def add_source(
    factory: sessionmaker[Session],
    *,
    name: str,
    url: str,
    now: datetime,
    trusted: bool = False,
    interval_minutes: int | None = None,
    timeout_seconds: float | None = None,
    max_bytes: int | None = None,
    allow_private: bool = False,
) -> SourceView:
    """Register a feed. Names and URLs are unique; a repeated one is refused."""
    validate_name(name)
    url = validate_feed_url(url)
    if interval_minutes is not None and interval_minutes < 1:
        raise InvalidInput("--interval must be at least 1 minute")
    if timeout_seconds is not None and not 0 < timeout_seconds <= 600:
        raise InvalidInput("--timeout must be between 0 and 600 seconds")
    if max_bytes is not None and max_bytes < 1024:
        raise InvalidInput("--max-bytes must be at least 1024")
    with transaction(factory) as session:
        if session.scalar(select(Source.id).where(Source.name == name)) is not None:
            raise InvalidInput(f"a source named {name!r} already exists")
        clash = session.scalar(select(Source.name).where(Source.url == url))
        if clash is not None:
            raise InvalidInput(f"source {clash!r} already polls {url}")
        source = Source(
            name=name,
            url=url,
            trusted=trusted,
            enabled=True,
            allow_private=allow_private,
            interval_minutes=interval_minutes,
            timeout_seconds=timeout_seconds,
            max_bytes=max_bytes,
            created_at=now,
            items_seen=0,
            articles_created=0,
            revisions_recorded=0,
        )
        session.add(source)
        session.flush()
        return _view(source, 0, now, timedelta(hours=48))


def list_sources(
    factory: sessionmaker[Session], *, now: datetime, stale_after: timedelta
) -> list[SourceView]:
    """Every source with its last run, counters and staleness."""
    with factory() as session:
        pending = dict(
            session.execute(
                select(Article.source_id, func.count())
                .where(Article.status == "pending")
                .group_by(Article.source_id)
            ).all()
        )
        sources = session.scalars(select(Source).order_by(Source.name)).all()
        return [_view(s, pending.get(s.id, 0), now, stale_after) for s in sources]


def set_enabled(factory: sessionmaker[Session], name: str, enabled: bool) -> None:
    """Enable or disable polling of a source (its articles stay)."""
    with transaction(factory) as session:
        source = session.scalar(select(Source).where(Source.name == name))
        if source is None:
            raise NotFound(f"no source named {name!r}")
        source.enabled = enabled


def get_source_id(session: Session, name: str) -> int:
    found = session.scalar(select(Source.id).where(Source.name == name))
    if found is None:
        raise NotFound(f"no source named {name!r}")
    return found


def _view(source: Source, pending: int, now: datetime, stale_after: timedelta) -> SourceView:
    reference: datetime | None = source.last_new_item_at or source.created_at
    stale = bool(source.enabled and reference is not None and now - reference > stale_after)
    return SourceView(
        id=source.id,
        name=source.name,
        url=source.url,
        trusted=source.trusted,
        enabled=source.enabled,
        interval_minutes=source.interval_minutes,
        created_at=source.created_at,
        last_run_at=source.last_run_at,
        last_run_ok=source.last_run_ok,
        last_success_at=source.last_success_at,
        last_error=source.last_error,
        last_error_at=source.last_error_at,
        last_new_item_at=source.last_new_item_at,
        items_seen=source.items_seen,
        articles_created=source.articles_created,
        revisions_recorded=source.revisions_recorded,
        articles_pending=pending,
        stale=stale,
    )
