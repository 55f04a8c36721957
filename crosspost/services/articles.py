"""Articles: listing, detail, and the officers' decisions (approve, reject, withdraw)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, ArticleRevision, Delivery, Source, SourceItem
from crosspost.db.session import transaction
from crosspost.domain.approval import ACTION_FOR, ArticleStatus, Decision, decide
from crosspost.domain.text import clean_line
from crosspost.errors import InvalidInput, NotFound
from crosspost.services import audit
from crosspost.services.scheduling import cancel_for_article, is_published
from crosspost.services.sources import get_source_id


@dataclass(frozen=True, slots=True)
class ArticleView:
    """One article as listed."""

    id: int
    status: str
    title: str
    source: str
    link: str
    canonical_url: str
    published_at: datetime
    published_at_estimated: bool
    first_seen_at: datetime
    revision: int


@dataclass(frozen=True, slots=True)
class RevisionView:
    revision: int
    title: str
    summary: str
    source: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleDetail:
    """Everything `articles show` prints."""

    article: ArticleView
    summary: str
    carried_by: list[str]
    revisions: list[RevisionView]
    history: list[audit.AuditView]


@dataclass(frozen=True, slots=True)
class DecisionResult:
    id: int
    from_status: str
    to_status: str


def list_articles(
    factory: sessionmaker[Session],
    *,
    status: ArticleStatus | None = None,
    source: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ArticleView], int]:
    """A page of articles, newest publication first, and how many match in all."""
    if limit < 1 or offset < 0:
        raise InvalidInput("--limit must be at least 1 and --offset at least 0")
    with factory() as session:
        query = select(Article, Source.name).join(Source, Source.id == Article.source_id)
        count = select(func.count()).select_from(Article)
        if status is not None:
            query = query.where(Article.status == status.value)
            count = count.where(Article.status == status.value)
        if source is not None:
            source_id = get_source_id(session, source)
            query = query.where(Article.source_id == source_id)
            count = count.where(Article.source_id == source_id)
        rows = session.execute(
            query.order_by(Article.published_at.desc(), Article.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        total = session.scalar(count) or 0
        return [_view(article, name) for article, name in rows], total


def show_article(factory: sessionmaker[Session], article_id: int) -> ArticleDetail:
    """One article with its revisions, the sources carrying it and its audit history."""
    with factory() as session:
        row = session.execute(
            select(Article, Source.name)
            .join(Source, Source.id == Article.source_id)
            .where(Article.id == article_id)
        ).first()
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        article, source_name = row
        carried_by = list(
            session.scalars(
                select(Source.name)
                .join(SourceItem, SourceItem.source_id == Source.id)
                .where(SourceItem.article_id == article_id)
                .distinct()
                .order_by(Source.name)
            )
        )
        revisions = [
            RevisionView(rev.revision, rev.title, rev.summary, name, rev.recorded_at)
            for rev, name in session.execute(
                select(ArticleRevision, Source.name)
                .join(Source, Source.id == ArticleRevision.source_id)
                .where(ArticleRevision.article_id == article_id)
                .order_by(ArticleRevision.revision)
            ).all()
        ]
        view = _view(article, source_name)
        summary = article.summary
    history = audit.list_entries(factory, article_id=article_id)
    return ArticleDetail(view, summary, carried_by, revisions, history)


def decide_articles(
    factory: sessionmaker[Session],
    ids: Sequence[int],
    decision: Decision,
    *,
    actor: str,
    note: str,
    now: datetime,
) -> list[DecisionResult]:
    """Apply one decision to several articles, all or none, each recorded in the audit log.

    If any id is unknown or any move is not allowed, nothing changes and the first problem is
    raised, so an officer never has to work out which half of a batch went through.
    """
    if not ids:
        raise InvalidInput("give at least one article id")
    actor = clean_line(actor)
    if not actor:
        raise InvalidInput("who decided (--by) must not be empty")
    note = clean_line(note)
    if decision is Decision.REJECT and not note:
        raise InvalidInput("a rejection needs a reason (--reason)")
    results: list[DecisionResult] = []
    wanted = list(dict.fromkeys(ids))
    with transaction(factory) as session:
        # Locked in id order, whatever order the officer typed: two batches naming the same
        # articles in different orders would otherwise deadlock each other on PostgreSQL.
        locked = {
            a.id: a
            for a in session.scalars(
                select(Article).where(Article.id.in_(wanted)).order_by(Article.id).with_for_update()
            )
        }
        for article_id in wanted:
            article = locked.get(article_id)
            if article is None:
                raise NotFound(f"no article with id {article_id}")
            current = ArticleStatus(article.status)
            if decision is not Decision.APPROVE:
                _lock_deliveries(session, article_id)
            published = decision is Decision.WITHDRAW and is_published(session, article_id)
            target = decide(article_id, current, decision, published=published)
            article.status = target.value
            audit.append(
                session,
                at=now,
                actor=actor,
                action=ACTION_FOR[decision],
                subject_type="article",
                subject_id=article_id,
                from_state=current.value,
                to_state=target.value,
                note=note,
            )
            if target is not ArticleStatus.APPROVED:
                cancel_for_article(
                    session,
                    article_id,
                    actor=actor,
                    now=now,
                    reason=f"article {ACTION_FOR[decision]}" + (f": {note}" if note else ""),
                )
            results.append(DecisionResult(article_id, current.value, target.value))
    return results


def _lock_deliveries(session: Session, article_id: int) -> None:
    """Wait for any worker that is claiming one of the article's deliveries right now.

    A claim (scheduled -> sending) that committed first shows up as `sending`, so the article
    counts as published and can no longer be withdrawn; a claim that comes after this lock finds
    its delivery cancelled. Without the lock a withdrawal could land between a claim and the
    platform call, and an article no longer approved would be posted.
    """
    session.execute(
        select(Delivery.id)
        .where(Delivery.article_id == article_id)
        .order_by(Delivery.id)
        .with_for_update()
    ).all()


def _view(article: Article, source_name: str) -> ArticleView:
    return ArticleView(
        id=article.id,
        status=article.status,
        title=article.title,
        source=source_name,
        link=article.link,
        canonical_url=article.canonical_url,
        published_at=article.published_at,
        published_at_estimated=article.published_at_estimated,
        first_seen_at=article.first_seen_at,
        revision=article.revision,
    )
