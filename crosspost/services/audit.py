"""The audit log: append inside the caller's transaction, list, verify."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import AuditEntry, AuditHead
from crosspost.domain.audit import GENESIS, AuditRecord, ChainProblem, entry_hash, verify_chain
from crosspost.domain.text import clean_line

_HEAD_ID = 1


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction.

    The head row is updated first: on PostgreSQL that takes its row lock and on SQLite the write
    lock, so concurrent writers queue up here and every entry links to the one before it. The
    head is created by the first entry ever; two first entries at once both try, one waits for
    the other's commit, loses, and queues up like any later writer.
    """
    bump = update(AuditHead).where(AuditHead.id == _HEAD_ID).values(seq=AuditHead.seq + 1)
    if session.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(AuditHead(id=_HEAD_ID, seq=1, hash=GENESIS))
        except IntegrityError:
            # The very first entries, written at the same moment (two officers on a new
            # database): the other writer created the head first; queue behind it.
            session.execute(bump)
    head = session.execute(select(AuditHead).where(AuditHead.id == _HEAD_ID)).scalar_one()
    session.refresh(head)
    prev_hash = head.hash
    record = AuditRecord(
        seq=head.seq,
        at=at,
        actor=clean_line(actor)[:200],
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        from_state=from_state,
        to_state=to_state,
        note=clean_line(note),
    )
    digest = entry_hash(prev_hash, record)
    entry = AuditEntry(
        id=record.seq,
        at=record.at,
        actor=record.actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        from_state=from_state,
        to_state=to_state,
        note=record.note,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(entry)
    head.hash = digest
    session.flush()
    return entry


AuditView = AuditRecord
"""One audit entry as shown to people and scripts: the fields the hash covers."""


def list_entries(
    factory: sessionmaker[Session],
    *,
    article_id: int | None = None,
    limit: int | None = None,
) -> list[AuditView]:
    """Entries in order, optionally only those about one article; `limit` keeps the newest."""
    with factory() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc())
        if article_id is not None:
            query = query.where(
                AuditEntry.subject_type == "article", AuditEntry.subject_id == article_id
            )
        if limit is not None:
            query = query.limit(limit)
        rows = list(session.scalars(query))
    return [_record(row) for row in reversed(rows)]


def verify(factory: sessionmaker[Session]) -> tuple[int, list[ChainProblem]]:
    """Recompute the whole chain; returns (entries checked, problems)."""
    with factory() as session:
        head_row = session.get(AuditHead, _HEAD_ID)
        head = (head_row.seq, head_row.hash) if head_row else None
        count = 0
        triples = []
        for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            count += 1
            triples.append((_record(row), row.prev_hash, row.hash))
        return count, verify_chain(triples, head)


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        from_state=row.from_state,
        to_state=row.to_state,
        note=row.note,
    )
