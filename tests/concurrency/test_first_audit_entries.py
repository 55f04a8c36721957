"""The very first audit entries of a new database, written by two transactions at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from crosspost.db.session import make_engine, session_factory
from crosspost.services import audit

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def _append(session: Session, who: str) -> None:
    audit.append(
        session, at=NOW, actor=who, action="approved", subject_type="article", subject_id=1
    )


def test_two_first_entries_at_once_both_land_in_one_chain(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    factory = session_factory(engine)
    errors: list[BaseException] = []
    try:
        with factory() as first, first.begin():
            _append(first, "CB 1")  # creates the head row; not committed yet

            def second() -> None:
                try:
                    with factory() as session, session.begin():
                        _append(session, "CB 2")  # waits on the head row, then queues behind
                except BaseException as exc:  # reported below, in the test's thread
                    errors.append(exc)

            racer = threading.Thread(target=second)
            racer.start()
            racer.join(timeout=1.0)
            assert racer.is_alive(), "the second writer did not wait for the first"
        racer.join(timeout=10)
        assert not racer.is_alive()
        assert errors == []
        count, problems = audit.verify(factory)
        assert (count, problems) == (2, [])
        assert [e.actor for e in audit.list_entries(factory)] == ["CB 1", "CB 2"]
    finally:
        engine.dispose()
