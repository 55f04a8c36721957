"""Storing one feed item: a new article, another source's copy, or a revision.

Items are stored in short transactions of at most `BATCH` items (a commit, with its disk sync,
per item was most of an ingest's time), so they are committed before anything else happens to
them. A trusted source's new article is approved at once, and so is a pending article that a
trusted source turns out to carry too (the hub republishing a ministry's article vouches for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, ArticleRevision, Source, SourceItem
from crosspost.db.session import transaction
from crosspost.domain.approval import ArticleStatus, Decision, decide, trusted_rule_actor
from crosspost.domain.feed import FeedItem
from crosspost.services import audit


class Outcome(StrEnum):
    """What storing one feed item did."""

    NEW = "new"  # a new article, with its first source item
    DUPLICATE = "duplicate"  # a new item of this source for an article already known
    REVISED = "revised"  # the article's title or summary changed
    UNCHANGED = "unchanged"  # seen before, nothing changed


@dataclass(frozen=True, slots=True)
class SourceRef:
    """The source fields storing needs, read once per run."""

    id: int
    name: str
    url: str
    trusted: bool
    allow_private: bool
    etag: str | None
    last_modified: str | None
    timeout: float
    max_bytes: int


BATCH = 100
"""Items stored per transaction by `ingest_source`: short enough that a worker waiting on SQLite's
write lock waits a fraction of a second."""


def store_item(
    factory: sessionmaker[Session], source: SourceRef, item: FeedItem, at: datetime
) -> Outcome:
    """Store one item in its own transaction."""
    with transaction(factory) as session:
        return store_item_in(session, source, item, at)


def store_item_in(session: Session, source: SourceRef, item: FeedItem, at: datetime) -> Outcome:
    """Store one item in the caller's transaction (a savepoint guards the inserts)."""
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
        session.execute(update(Source).where(Source.id == source.id).values(last_new_item_at=at))
        if created:
            _announce(session, article, source, at)
            return Outcome.NEW
        revised = _revise(session, article, item, source, at)
        if source.trusted:
            # Locked and read again: an officer's rejection committed a moment ago must not
            # be overwritten by this rule's approval.
            session.refresh(article, with_for_update=True)
            if article.status == ArticleStatus.PENDING.value:
                _approve_by_rule(session, article, source, at, note="carried by a trusted source")
        return Outcome.REVISED if revised else Outcome.DUPLICATE
    raise AssertionError("unreachable: the second pass returns or raises")


def _new_article(session: Session, source: SourceRef, item: FeedItem, at: datetime) -> Article:
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
        image_url=item.image_url,
    )
    session.add(article)
    session.flush()
    session.add(_revision_row(article, source.id, at))
    return article


def _announce(session: Session, article: Article, source: SourceRef, at: datetime) -> None:
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
    if source.trusted:
        _approve_by_rule(session, article, source, at, note="trusted source")


def _approve_by_rule(
    session: Session, article: Article, source: SourceRef, at: datetime, *, note: str
) -> None:
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
        note=note,
    )


def _revise(
    session: Session, article: Article, item: FeedItem, source: SourceRef, at: datetime
) -> bool:
    """Record a revision if the item carries a title/summary never recorded for this article.

    Comparing with every earlier version, not just the latest, keeps two feeds that carry the
    same article under different titles (the hub edits ministries' titles) from flip-flopping.
    """
    if item.image_url and article.image_url is None:
        article.image_url = item.image_url  # a picture the first feed lacked: not a revision
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
