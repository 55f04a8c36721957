"""The audit hash chain detects edits, deletions, reordering and a dropped newest entry."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crosspost.domain.audit import GENESIS, AuditRecord, entry_hash, verify_chain

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _chain(n: int) -> tuple[list[tuple[AuditRecord, str, str]], tuple[int, str]]:
    triples = []
    prev = GENESIS
    for seq in range(1, n + 1):
        record = AuditRecord(
            seq,
            T0 + timedelta(minutes=seq),
            "Nguyễn Văn A",
            "approved",
            "article",
            seq,
            "pending",
            "approved",
            "đã duyệt",
        )
        digest = entry_hash(prev, record)
        triples.append((record, prev, digest))
        prev = digest
    return triples, (n, prev)


def test_an_untouched_chain_verifies() -> None:
    triples, head = _chain(5)
    assert verify_chain(triples, head) == []


def test_an_edited_note_is_found_at_its_entry() -> None:
    triples, head = _chain(5)
    record, prev, digest = triples[2]
    triples[2] = (replace(record, note="đã duyệt (sửa)"), prev, digest)
    problems = verify_chain(triples, head)
    assert [p.seq for p in problems] == [3]
    assert "changed" in problems[0].reason


def test_a_deleted_middle_entry_is_found() -> None:
    triples, head = _chain(5)
    del triples[1]
    problems = verify_chain(triples, head)
    assert any("entry 2 is missing" in p.reason for p in problems)


def test_a_deleted_newest_entry_is_found_through_the_head() -> None:
    triples, head = _chain(5)
    problems = verify_chain(triples[:-1], head)
    assert problems
    assert "5 were written" in problems[-1].reason


def test_the_hash_does_not_depend_on_the_zone_the_time_was_given_in() -> None:
    record = AuditRecord(1, T0, "a", "approved", "article", 1, None, "approved", "")
    ict = T0.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert entry_hash(GENESIS, record) == entry_hash(GENESIS, replace(record, at=ict))
