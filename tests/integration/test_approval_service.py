"""Officers' decisions on both databases: state, audit entries, all-or-none batches, tampering."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, AuditEntry
from crosspost.db.session import transaction
from crosspost.domain.approval import Decision
from crosspost.errors import InvalidInput, InvalidTransition, NotFound
from crosspost.services import audit
from crosspost.services.articles import decide_articles, list_articles, show_article
from crosspost.services.sources import add_source

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _articles(factory: sessionmaker[Session], n: int) -> list[int]:
    source = add_source(factory, name="ubdt", url="https://ubdt.gov.vn/feed.atom", now=NOW)
    ids = []
    with transaction(factory) as session:
        for i in range(n):
            article = Article(
                canonical_url=f"https://ubdt.gov.vn/tin/{i}",
                link=f"https://ubdt.gov.vn/tin/{i}",
                title=f"Bài viết số {i}",
                summary="Tóm tắt",
                source_id=source.id,
                status="pending",
                published_at=NOW - timedelta(hours=i),
                published_at_estimated=False,
                first_seen_at=NOW,
                updated_at=NOW,
                revision=1,
            )
            session.add(article)
            session.flush()
            ids.append(article.id)
    return ids


def test_approve_then_withdraw_is_recorded_in_order(factory: sessionmaker[Session]) -> None:
    (aid,) = _articles(factory, 1)
    decide_articles(
        factory, [aid], Decision.APPROVE, actor="Nguyễn Văn A", note="đã duyệt", now=NOW
    )
    decide_articles(factory, [aid], Decision.WITHDRAW, actor="Trần Thị B", note="", now=NOW)
    detail = show_article(factory, aid)
    assert detail.article.status == "pending"
    assert [(h.action, h.from_state, h.to_state, h.actor) for h in detail.history] == [
        ("approved", "pending", "approved", "Nguyễn Văn A"),
        ("withdrawn", "approved", "pending", "Trần Thị B"),
    ]
    assert detail.history[0].note == "đã duyệt"
    assert detail.history[0].at == NOW


def test_a_batch_with_one_bad_id_changes_nothing(factory: sessionmaker[Session]) -> None:
    a, b = _articles(factory, 2)
    decide_articles(factory, [b], Decision.REJECT, actor="x", note="trùng nội dung", now=NOW)
    with pytest.raises(InvalidTransition, match=f"article {b} was rejected"):
        decide_articles(factory, [a, b], Decision.APPROVE, actor="x", note="", now=NOW)
    with pytest.raises(NotFound, match="no article with id 999"):
        decide_articles(factory, [a, 999], Decision.APPROVE, actor="x", note="", now=NOW)
    pending, _ = list_articles(factory, status=None)
    assert {v.id: v.status for v in pending} == {a: "pending", b: "rejected"}
    assert len(audit.list_entries(factory)) == 1


def test_reject_needs_a_reason(factory: sessionmaker[Session]) -> None:
    (aid,) = _articles(factory, 1)
    with pytest.raises(InvalidInput, match="reason"):
        decide_articles(factory, [aid], Decision.REJECT, actor="x", note="  ", now=NOW)


def test_verify_finds_an_entry_edited_in_the_database(factory: sessionmaker[Session]) -> None:
    ids = _articles(factory, 3)
    for aid in ids:
        decide_articles(factory, [aid], Decision.APPROVE, actor="A", note="ok", now=NOW)
    assert audit.verify(factory) == (3, [])
    with transaction(factory) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="someone else"))
    count, problems = audit.verify(factory)
    assert count == 3
    assert [p.seq for p in problems] == [2]


def test_verify_finds_a_deleted_newest_entry(factory: sessionmaker[Session]) -> None:
    ids = _articles(factory, 2)
    decide_articles(factory, ids, Decision.APPROVE, actor="A", note="", now=NOW)
    with transaction(factory) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == 2))
    _, problems = audit.verify(factory)
    assert problems
    assert "2 were written" in problems[-1].reason


def test_verify_finds_a_row_rewritten_with_raw_sql(factory: sessionmaker[Session]) -> None:
    (aid,) = _articles(factory, 1)
    decide_articles(factory, [aid], Decision.APPROVE, actor="A", note="", now=NOW)
    with transaction(factory) as session:
        session.execute(text("UPDATE audit_log SET to_state = 'rejected' WHERE id = 1"))
        assert session.scalar(select(AuditEntry.to_state)) == "rejected"
    assert audit.verify(factory)[1]
