"""The audit chain: each entry's hash covers its fields and the previous entry's hash.

Pure functions; the service layer stores entries. Editing any stored field, deleting or reordering
entries, or dropping the newest one (the head records the last sequence number) breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64
"""The previous-hash of the first entry."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """The fields of one audit entry that the hash covers."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: int
    from_state: str | None
    to_state: str | None
    note: str


def entry_hash(prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 over the previous hash and a canonical JSON form of the record."""
    at = record.at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    body = json.dumps(
        [
            prev_hash,
            record.seq,
            at,
            record.actor,
            record.action,
            record.subject_type,
            record.subject_id,
            record.from_state,
            record.to_state,
            record.note,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where the chain breaks and why."""

    seq: int
    reason: str


def verify_chain(
    entries: Iterable[tuple[AuditRecord, str, str]], head: tuple[int, str] | None
) -> list[ChainProblem]:
    """Check (record, prev_hash, stored hash) triples in sequence order against the head.

    Returns every problem found; an empty list means the log is intact.
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    expected_seq = 1
    last_hash = GENESIS
    for record, prev_hash, stored in entries:
        if record.seq != expected_seq:
            problems.append(
                ChainProblem(record.seq, f"entry {expected_seq} is missing (next is {record.seq})")
            )
        if prev_hash != expected_prev:
            problems.append(ChainProblem(record.seq, "does not link to the entry before it"))
        if entry_hash(prev_hash, record) != stored:
            problems.append(ChainProblem(record.seq, "content changed after it was written"))
        expected_prev = stored
        expected_seq = record.seq + 1
        last_hash = stored
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    if expected_seq - 1 != head_seq or last_hash != head_hash:
        problems.append(
            ChainProblem(
                head_seq,
                f"the log ends at entry {expected_seq - 1} but {head_seq} were written",
            )
        )
    return problems
