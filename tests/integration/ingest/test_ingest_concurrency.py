"""Two writers storing the same article at once: the loser treats it as already seen."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article
from crosspost.feeds import FeedFetcher
from crosspost.services.ingest import RunReport, ingest_source
from crosspost.settings import IngestSettings
from tests.integration.ingest import state
from tests.integration.ingest.conftest import AddSource, Clock, FeedServer

SHARED = "https://mof.example.vn/tin-tuc/huong-dan-ke-khai-thue-2026-771.htm"


def _wait_until_blocked(factory: sessionmaker[Session], thread: threading.Thread) -> None:
    """Until the ingest thread waits on the other writer's lock (or a short while on SQLite)."""
    deadline = time.monotonic() + 5
    with factory() as probe:
        if probe.get_bind().dialect.name != "postgresql":
            time.sleep(0.3)  # SQLite: the thread is queued behind the write lock
            return
        while time.monotonic() < deadline and thread.is_alive():
            waiting = probe.scalar(
                text("select count(*) from pg_stat_activity where wait_event_type = 'Lock'")
            )
            probe.rollback()
            if waiting:
                return
            time.sleep(0.02)


def test_an_article_inserted_concurrently_by_another_writer_becomes_a_duplicate(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    other = add_source("hub", server.url("/unused.rss"))
    mof = add_source("mof", server.serve_file("/mof.rss", "revised_v1.rss"))
    reports: list[RunReport] = []

    # Another writer has inserted the same article and not committed yet: on PostgreSQL the
    # ingest's INSERT waits on the unique index and then fails; on SQLite it waits to begin.
    with factory() as blocker, blocker.begin():
        blocker.add(
            Article(
                canonical_url=SHARED,
                link=SHARED,
                title="Hướng dẫn kê khai thuế năm 2026",
                summary="Cục Thuế hướng dẫn người nộp thuế.",
                source_id=other,
                status="pending",
                published_at=clock(),
                published_at_estimated=False,
                first_seen_at=clock(),
                updated_at=clock(),
                revision=1,
            )
        )
        blocker.flush()
        thread = threading.Thread(
            target=lambda: reports.append(
                ingest_source(factory, mof, fetcher=fetcher, settings=settings, now=clock)
            )
        )
        thread.start()
        _wait_until_blocked(factory, thread)
    thread.join(timeout=10)

    [report] = reports
    assert report.ok, report.error
    assert (report.new_articles, report.duplicates) == (0, 1)
    [article] = state.articles(factory)
    assert article.source_id == other
    [item] = state.source_items(factory)
    assert (item.source_id, item.article_id) == (mof, article.id)
    assert state.source(factory, mof).articles_created == 0
