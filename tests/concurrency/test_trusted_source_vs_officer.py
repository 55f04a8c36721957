"""A trusted source's rule approval racing an officer's rejection, on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crosspost.db.models import Article
from crosspost.db.session import make_engine, session_factory
from crosspost.domain.feed import FeedItem
from crosspost.services import audit
from crosspost.services.ingest_store import Outcome, SourceRef, store_item
from crosspost.services.sources import add_source

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
URL = "https://bo.example/tin/1.htm"


def test_a_rejection_committed_first_is_not_overwritten_by_the_rule(postgres_url: str) -> None:
    """The hub republishes a ministry's pending article at the moment an officer rejects it.
    Whoever commits first wins, and the loser sees it: the article ends rejected, never approved
    over the officer's decision (the rule approval would let the article be published)."""
    engine = make_engine(postgres_url)
    factory = session_factory(engine)
    refs = {}
    for name, trusted in (("bo", False), ("hub", True)):
        view = add_source(
            factory, name=name, url=f"https://{name}.example/rss", trusted=trusted, now=NOW
        )
        refs[name] = SourceRef(view.id, name, view.url, trusted, False, None, None, 5.0, 10**6)
    item = FeedItem("bo-1", URL, URL, "Tin của Bộ", "Tóm tắt", NOW, False)
    assert store_item(factory, refs["bo"], item, NOW) is Outcome.NEW
    outcomes: list[object] = []
    try:
        # The officer's decision, in flight: the article locked and rejected, not yet committed.
        with factory() as officer, officer.begin():
            article = officer.scalars(
                select(Article).where(Article.canonical_url == URL).with_for_update()
            ).one()
            article.status = "rejected"
            audit.append(
                officer,
                at=NOW,
                actor="CB 1",
                action="rejected",
                subject_type="article",
                subject_id=article.id,
                from_state="pending",
                to_state="rejected",
                note="sai",
            )
            officer.flush()
            hub_item = FeedItem("hub-1", URL, URL, "Tin của Bộ", "Tóm tắt", NOW, False)

            def hub_run() -> None:
                try:
                    outcomes.append(store_item(factory, refs["hub"], hub_item, NOW))
                except BaseException as exc:  # reported in the test's thread
                    outcomes.append(exc)

            hub = threading.Thread(target=hub_run)
            hub.start()
            hub.join(timeout=1.0)
        hub.join(timeout=10)
        assert outcomes == [Outcome.DUPLICATE]
        with factory() as session:
            status = session.scalars(select(Article.status).where(Article.canonical_url == URL))
            assert status.one() == "rejected"
        actions = [(e.actor, e.action) for e in audit.list_entries(factory)]
        assert ("rule:trusted-source:hub", "approved") not in actions, actions
        assert audit.verify(factory)[1] == []
    finally:
        engine.dispose()
