"""Read the database's end state after a run: what the tests assert on."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, ArticleRevision, AuditEntry, Source, SourceItem


def articles(factory: sessionmaker[Session]) -> list[Article]:
    with factory() as session:
        return list(session.scalars(select(Article).order_by(Article.id)))


def article_by_url(factory: sessionmaker[Session], canonical_url: str) -> Article:
    with factory() as session:
        return session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one()


def source_items(factory: sessionmaker[Session]) -> list[SourceItem]:
    with factory() as session:
        return list(session.scalars(select(SourceItem).order_by(SourceItem.id)))


def revisions(factory: sessionmaker[Session], article_id: int) -> list[ArticleRevision]:
    with factory() as session:
        return list(
            session.scalars(
                select(ArticleRevision)
                .where(ArticleRevision.article_id == article_id)
                .order_by(ArticleRevision.revision)
            )
        )


def audit_entries(factory: sessionmaker[Session], article_id: int) -> list[AuditEntry]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_type == "article", AuditEntry.subject_id == article_id)
                .order_by(AuditEntry.id)
            )
        )


def source(factory: sessionmaker[Session], source_id: int) -> Source:
    with factory() as session:
        return session.get_one(Source, source_id)


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Row counts of every table ingestion writes to."""
    with factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Article, SourceItem, ArticleRevision, AuditEntry)
        }
