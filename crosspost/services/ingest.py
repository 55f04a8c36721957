"""Ingestion: poll sources' feeds and record new articles, duplicates and revisions.

Each run of a source is: read the source (short transaction) → fetch with no transaction open →
one short transaction per batch of up to 100 items → record the outcome. A crash loses at most
the batch in flight, and a rerun finds the rest already stored. The conditional-GET validators
are saved last: a run that died half-way fetches again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Source
from crosspost.db.session import transaction
from crosspost.domain.feed import FetchResult, normalise_entry
from crosspost.domain.text import clean_line
from crosspost.errors import FeedError, NotFound
from crosspost.services.ingest_store import BATCH, Outcome, SourceRef, store_item_in
from crosspost.settings import IngestSettings

_MAX_REASON_CHARS = 300


class Fetcher(Protocol):
    """What ingestion needs from the feed adapter (`crosspost.feeds.FeedFetcher`)."""

    def fetch(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        timeout: float,
        max_bytes: int,
        allow_private: bool = False,
    ) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class RunReport:
    """The outcome of one source's run, as a progress line or `sources list` shows it."""

    source: str
    ok: bool
    error: str | None = None
    not_modified: bool = False
    items: int = 0
    new_articles: int = 0
    revisions: int = 0
    duplicates: int = 0
    skipped: int = 0
    note: str | None = None

    def summary(self) -> str:
        """One line: "hub: 12 items, 3 new, 1 revised, 2 duplicates" or "hub: failed: …"."""
        if not self.ok:
            return f"{self.source}: failed: {self.error}"
        if self.not_modified:
            return f"{self.source}: not modified"
        line = (
            f"{self.source}: {self.items} items, {self.new_articles} new, "
            f"{self.revisions} revised, {self.duplicates} duplicates"
        )
        if self.skipped:
            line += f", {self.skipped} without a usable link"
        return line + (f" ({self.note})" if self.note else "")


def ingest_source(
    factory: sessionmaker[Session],
    source_id: int,
    *,
    fetcher: Fetcher,
    settings: IngestSettings,
    now: Callable[[], datetime],
) -> RunReport:
    """Fetch one source and store what is new; a bad feed is recorded on the source, not raised.

    Raises NotFound for an unknown source id.
    """
    source = _load(factory, source_id, settings)
    try:
        result = fetcher.fetch(
            source.url,
            etag=source.etag,
            last_modified=source.last_modified,
            timeout=source.timeout,
            max_bytes=source.max_bytes,
            allow_private=source.allow_private,
        )
    except FeedError as exc:
        return _record_failure(factory, source, str(exc), now())
    if result.not_modified or result.feed is None:
        _record_success(factory, source, result, now())
        return RunReport(source=source.name, ok=True, not_modified=True)

    counts = dict.fromkeys(Outcome, 0)
    skipped = 0
    entries = result.feed.entries
    try:
        for start in range(0, len(entries), BATCH):
            with transaction(factory) as session:
                for entry in entries[start : start + BATCH]:
                    seen_at = now()  # one reading: an undated item's date is its first-seen time
                    item = normalise_entry(
                        entry,
                        feed_url=source.url,
                        seen_at=seen_at,
                        tracking_params=settings.tracking_params,
                        summary_max_chars=settings.summary_max_chars,
                    )
                    if item is None:
                        skipped += 1
                        continue
                    counts[store_item_in(session, source, item, seen_at)] += 1
    except SQLAlchemyError as exc:
        # Earlier batches are committed; the run is failed so that the next one retries.
        return _record_failure(factory, source, f"database error: {type(exc).__name__}", now())
    _record_success(factory, source, result, now())
    return RunReport(
        source=source.name,
        ok=True,
        items=len(result.feed.entries),
        new_articles=counts[Outcome.NEW],
        revisions=counts[Outcome.REVISED],
        duplicates=counts[Outcome.DUPLICATE],
        skipped=skipped,
        note=result.feed.note,
    )


def ingest_all(
    factory: sessionmaker[Session],
    *,
    fetcher: Fetcher,
    settings: IngestSettings,
    now: Callable[[], datetime],
    on_progress: Callable[[str, RunReport], None] | None = None,
    only: list[str] | None = None,
) -> list[RunReport]:
    """Run every enabled source (or only the named ones, enabled or not) in name order.

    One source's failure, whatever it is, is recorded on it and the others still run.
    Raises NotFound if `only` names a source that does not exist.
    """
    with factory() as session:
        query = select(Source.id, Source.name).order_by(Source.name)
        if only is not None:
            query = query.where(Source.name.in_(only))
        else:
            query = query.where(Source.enabled.is_(True))
        targets = session.execute(query).all()
    if only is not None:
        missing = sorted(set(only) - {name for _, name in targets})
        if missing:
            raise NotFound(f"no source named {', '.join(missing)}")
    reports = []
    for source_id, name in targets:
        try:
            report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=now)
        except Exception as exc:  # noqa: BLE001 - one source's bug must not stop the others
            report = _record_unexpected(factory, source_id, name, exc, now())
        reports.append(report)
        if on_progress is not None:
            on_progress(name, report)
    return reports


def _load(factory: sessionmaker[Session], source_id: int, settings: IngestSettings) -> SourceRef:
    with factory() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFound(f"no source with id {source_id}")
        return SourceRef(
            id=source.id,
            name=source.name,
            url=source.url,
            trusted=source.trusted,
            allow_private=source.allow_private,
            etag=source.etag,
            last_modified=source.last_modified,
            timeout=source.timeout_seconds or settings.timeout_seconds,
            max_bytes=source.max_bytes or settings.max_bytes,
        )


def _record_success(
    factory: sessionmaker[Session], source: SourceRef, result: FetchResult, at: datetime
) -> None:
    with transaction(factory) as session:
        session.execute(
            update(Source)
            .where(Source.id == source.id)
            .values(
                etag=result.etag,
                last_modified=result.last_modified,
                last_run_at=at,
                last_run_ok=True,
                last_success_at=at,
            )
        )


def _record_failure(
    factory: sessionmaker[Session], source: SourceRef, reason: str, at: datetime
) -> RunReport:
    reason = _one_line(reason)
    _mark_failed(factory, source.id, reason, at)
    return RunReport(source=source.name, ok=False, error=reason)


def _record_unexpected(
    factory: sessionmaker[Session], source_id: int, name: str, exc: Exception, at: datetime
) -> RunReport:
    reason = _one_line(f"unexpected error: {type(exc).__name__}: {exc}")
    # If the database itself is failing, the report still tells the caller.
    with contextlib.suppress(SQLAlchemyError):
        _mark_failed(factory, source_id, reason, at)
    return RunReport(source=name, ok=False, error=reason)


def _mark_failed(factory: sessionmaker[Session], source_id: int, reason: str, at: datetime) -> None:
    with transaction(factory) as session:
        session.execute(
            update(Source)
            .where(Source.id == source_id)
            .values(last_run_at=at, last_run_ok=False, last_error=reason, last_error_at=at)
        )


def _one_line(reason: str) -> str:
    line = clean_line(reason) or "unknown error"
    return line if len(line) <= _MAX_REASON_CHARS else line[: _MAX_REASON_CHARS - 1] + "…"
