"""Ingestion: poll sources' feeds and record new articles, duplicates and revisions.

Each run of a source is: read the source (short transaction) → fetch with no transaction open →
one short transaction per item → record the outcome. An item is committed before anything else
happens to it, so a crash loses at most the item in flight, and a rerun finds the rest already
stored. The conditional-GET validators are saved last: a run that died half-way fetches again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, ArticleRevision, Source, SourceItem
from crosspost.db.session import transaction
from crosspost.domain.approval import ArticleStatus, Decision, decide, trusted_rule_actor
from crosspost.domain.feed import FeedItem, FetchResult, normalise_entry
from crosspost.domain.text import clean_line
from crosspost.errors import FeedError, NotFound
from crosspost.services import audit
from crosspost.settings import IngestSettings

_MAX_REASON_CHARS = 300


class Outcome(StrEnum):
    """What storing one feed item did."""

    NEW = "new"  # a new article, with its first source item
    DUPLICATE = "duplicate"  # a new item of this source for an article already known
    REVISED = "revised"  # the article's title or summary changed
    UNCHANGED = "unchanged"  # seen before, nothing changed


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


@dataclass(frozen=True, slots=True)
class _SourceView:
    id: int
    name: str
    url: str
    trusted: bool
    allow_private: bool
    etag: str | None
    last_modified: str | None
    timeout: float
    max_bytes: int


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
    try:
        for entry in result.feed.entries:
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
            counts[_store(factory, source, item, seen_at)] += 1
    except SQLAlchemyError as exc:
        # Items before this one are committed; the run is failed so that the next one retries.
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


def _load(factory: sessionmaker[Session], source_id: int, settings: IngestSettings) -> _SourceView:
    with factory() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFound(f"no source with id {source_id}")
        return _SourceView(
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


def _store(
    factory: sessionmaker[Session], source: _SourceView, item: FeedItem, at: datetime
) -> Outcome:
    """Store one item in its own transaction."""
    with transaction(factory) as session:
        for attempt in range(2):
            known = session.scalars(
                select(SourceItem).where(
                    SourceItem.source_id == source.id, SourceItem.guid == item.guid
                )
            ).one_or_none()
            if known is not None:
                known.last_seen_at = at
                article = session.get_one(Article, known.article_id)
                revised = _revise(session, article, item, source, at)
                return Outcome.REVISED if revised else Outcome.UNCHANGED
            article_or_none = session.scalars(
                select(Article).where(Article.canonical_url == item.canonical_url)
            ).one_or_none()
            try:
                # A concurrent ingest (another source carrying the same article, or the same
                # source run twice) may insert either row first; the savepoint keeps this
                # transaction usable on PostgreSQL, and the second pass finds their rows.
                with session.begin_nested():
                    created = article_or_none is None
                    article = article_or_none or _new_article(session, source, item, at)
                    session.add(
                        SourceItem(
                            source_id=source.id,
                            article_id=article.id,
                            guid=item.guid,
                            first_seen_at=at,
                            last_seen_at=at,
                        )
                    )
                    session.flush()
            except IntegrityError:
                if attempt:
                    raise
                continue
            _bump(session, source.id, items_seen=1, articles_created=int(created))
            session.execute(
                update(Source).where(Source.id == source.id).values(last_new_item_at=at)
            )
            if created:
                _announce(session, article, source, at)
                return Outcome.NEW
            revised = _revise(session, article, item, source, at)
            return Outcome.REVISED if revised else Outcome.DUPLICATE
    raise AssertionError("unreachable: the second pass returns or raises")


def _new_article(session: Session, source: _SourceView, item: FeedItem, at: datetime) -> Article:
    article = Article(
        canonical_url=item.canonical_url,
        link=item.link,
        title=item.title,
        summary=item.summary,
        source_id=source.id,
        status=ArticleStatus.PENDING.value,
        published_at=item.published_at,
        published_at_estimated=item.date_estimated,
        first_seen_at=at,
        updated_at=at,
        revision=1,
    )
    session.add(article)
    session.flush()
    session.add(_revision_row(article, source.id, at))
    return article


def _announce(session: Session, article: Article, source: _SourceView, at: datetime) -> None:
    """Audit a new article and, for a trusted source, approve it in the same transaction."""
    audit.append(
        session,
        at=at,
        actor=f"ingest:{source.name}",
        action="ingested",
        subject_type="article",
        subject_id=article.id,
        from_state=None,
        to_state=ArticleStatus.PENDING.value,
    )
    if not source.trusted:
        return
    approved = decide(article.id, ArticleStatus.PENDING, Decision.APPROVE)
    article.status = approved.value
    audit.append(
        session,
        at=at,
        actor=trusted_rule_actor(source.name),
        action="approved",
        subject_type="article",
        subject_id=article.id,
        from_state=ArticleStatus.PENDING.value,
        to_state=approved.value,
        note="trusted source",
    )


def _revise(
    session: Session, article: Article, item: FeedItem, source: _SourceView, at: datetime
) -> bool:
    """Record a revision if the item carries a title/summary never recorded for this article.

    Comparing with every earlier version, not just the latest, keeps two feeds that carry the
    same article under different titles (the hub edits ministries' titles) from flip-flopping.
    """
    if (article.title, article.summary) == (item.title, item.summary):
        return False
    # Lock the article: concurrent revisers would both pick the same next revision number.
    session.refresh(article, with_for_update=True)
    known = session.execute(
        select(ArticleRevision.id)
        .where(
            ArticleRevision.article_id == article.id,
            ArticleRevision.title == item.title,
            ArticleRevision.summary == item.summary,
        )
        .limit(1)
    ).first()
    if known is not None:
        return False
    changed = [
        name
        for name, old, new in (
            ("title", article.title, item.title),
            ("summary", article.summary, item.summary),
        )
        if old != new
    ]
    article.revision += 1
    article.title = item.title
    article.summary = item.summary
    article.updated_at = at
    session.add(_revision_row(article, source.id, at))
    _bump(session, source.id, revisions_recorded=1)
    audit.append(
        session,
        at=at,
        actor=f"ingest:{source.name}",
        action="revised",
        subject_type="article",
        subject_id=article.id,
        note=f"revision {article.revision}: {' and '.join(changed)} changed",
    )
    return True


def _revision_row(article: Article, source_id: int, at: datetime) -> ArticleRevision:
    return ArticleRevision(
        article_id=article.id,
        revision=article.revision,
        title=article.title,
        summary=article.summary,
        source_id=source_id,
        recorded_at=at,
    )


def _bump(session: Session, source_id: int, **counters: int) -> None:
    # Increments in SQL, not read-modify-write, so concurrent runs do not lose counts.
    values = {name: getattr(Source, name) + amount for name, amount in counters.items() if amount}
    if values:
        session.execute(update(Source).where(Source.id == source_id).values(**values))


def _record_success(
    factory: sessionmaker[Session], source: _SourceView, result: FetchResult, at: datetime
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
    factory: sessionmaker[Session], source: _SourceView, reason: str, at: datetime
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
