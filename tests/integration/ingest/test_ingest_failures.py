"""Bad feeds and bad servers: each marks its source failed with a one-line reason, nothing more."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crosspost.errors import NotFound
from crosspost.feeds import FeedFetcher
from crosspost.services.ingest import RunReport, ingest_all, ingest_source
from crosspost.settings import IngestSettings
from tests.integration.ingest import state
from tests.integration.ingest.conftest import FEEDS, AddSource, Clock, FeedServer, Route

EMPTY = {"articles": 0, "source_items": 0, "article_revisions": 0, "audit_log": 0}


def fails_with(
    factory: sessionmaker[Session],
    source_id: int,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> str:
    """Run the source; assert it failed cleanly, wrote no article rows; return the reason."""
    report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    assert not report.ok
    assert report.error is not None
    assert "\n" not in report.error
    row = state.source(factory, source_id)
    assert row.last_run_ok is False
    assert row.last_error == report.error
    assert row.last_error_at == row.last_run_at is not None
    assert row.last_success_at is None
    assert state.counts(factory) == EMPTY
    return report.error


def test_entity_expansion_bomb_is_refused_before_parsing(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("bomb", server.serve_file("/bomb.xml", "bomb.xml"))

    started = time.perf_counter()
    reason = fails_with(factory, source_id, fetcher, settings, clock)
    elapsed = time.perf_counter() - started

    assert reason == "feed declares XML entities in its DOCTYPE (refused: entity expansion)"
    assert elapsed < 1.0


def test_a_private_address_is_refused_unless_the_source_allows_it(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("lan", server.serve_file("/hub.rss", "hub.rss"), allow_private=False)

    reason = fails_with(factory, source_id, fetcher, settings, clock)

    assert reason.startswith("refusing to fetch from non-public address 127.0.0.1")
    assert "/hub.rss" not in {path for path, _ in server.requests}  # refused before sending


def test_each_bad_feed_fails_its_own_source_and_the_others_still_run(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
    closed_port_url: str,
) -> None:
    html = (FEEDS / "error.html").read_bytes()
    hub = (FEEDS / "hub.rss").read_bytes()
    # Source name → (its URL, its own settings, the reason it must fail with; None = succeeds).
    cases: dict[str, tuple[str, dict[str, Any], str | None]] = {
        "broken": (server.serve_file("/broken.xml", "illformed.xml"), {}, "not well-formed"),
        # An HTML page served as if it were a feed: the body, not the header, gives it away.
        "html": (
            server.serve("/rss", Route(body=html, content_type="text/xml")),
            {},
            "the server sent an HTML page, not a feed",
        ),
        "http404": (server.url("/rss/home.rss"), {}, "HTTP 404 Not Found"),
        "http500": (
            server.serve("/500.rss", Route(status=500, body=b"oops")),
            {},
            "HTTP 500 Internal Server Error",
        ),
        "hub-good": (server.serve_file("/hub.rss", "hub.rss"), {}, None),
        "slow": (
            server.serve("/slow.rss", Route(body=hub, delay=3)),
            {"timeout_seconds": 0.3},
            "timed out after 0.3 s",
        ),
        "endless": (
            server.serve("/endless.rss", Route(stream_forever=True)),
            {"max_bytes": 100_000},
            "feed is larger than 100000 bytes",
        ),
        "declared-big": (
            server.serve("/big.rss", Route(body=b"<rss>" + b" " * 10_000 + b"</rss>")),
            {"max_bytes": 4096},
            "feed is larger than 4096 bytes",
        ),
        "refused": (closed_port_url, {}, "cannot connect: "),
        "mof-good": (server.serve_file("/mof.rss", "revised_v1.rss"), {}, None),
    }
    ids = {name: add_source(name, url, **fields) for name, (url, fields, _) in cases.items()}
    add_source("switched-off", server.serve_file("/off.rss", "nfd.rss"), enabled=False)
    progress: list[tuple[str, RunReport]] = []

    started = time.perf_counter()
    reports = ingest_all(
        factory,
        fetcher=fetcher,
        settings=settings,
        now=clock,
        on_progress=lambda name, report: progress.append((name, report)),
    )

    assert time.perf_counter() - started < 5
    assert [name for name, _ in progress] == sorted(cases)
    assert [r.source for r in reports] == sorted(cases)
    for report in reports:
        expected = cases[report.source][2]
        row = state.source(factory, ids[report.source])
        if expected is None:
            assert report.ok, report.error
            assert row.last_run_ok is True
            continue
        assert not report.ok
        assert report.error is not None
        assert expected in report.error, report.source
        assert "\n" not in report.error
        assert report.summary() == f"{report.source}: failed: {report.error}"
        assert (row.last_run_ok, row.last_error) == (False, report.error)
        assert row.last_error_at == row.last_run_at is not None
        assert row.last_success_at is None
        assert (row.items_seen, row.articles_created) == (0, 0)
    assert {a.source_id for a in state.articles(factory)} == {ids["hub-good"], ids["mof-good"]}
    assert len(state.articles(factory)) == 4


def test_only_runs_the_named_sources_and_rejects_unknown_names(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    add_source("hub", server.serve_file("/hub.rss", "hub.rss"))
    add_source("mof", server.serve_file("/mof.rss", "revised_v1.rss"))

    reports = ingest_all(factory, fetcher=fetcher, settings=settings, now=clock, only=["mof"])

    assert [r.source for r in reports] == ["mof"]
    with pytest.raises(NotFound, match="no source named nope"):
        ingest_all(factory, fetcher=fetcher, settings=settings, now=clock, only=["nope"])


def test_an_unchanged_feed_costs_one_304_and_writes_no_rows(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("hub", server.serve_file("/hub.rss", "hub.rss"))
    ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    before = state.counts(factory)
    first = state.source(factory, source_id)
    assert first.etag
    assert first.last_modified

    report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)

    assert report.ok
    assert report.not_modified
    assert server.requests[-1] == ("/hub.rss", 304)
    assert state.counts(factory) == before
    after = state.source(factory, source_id)
    assert (after.etag, after.last_modified) == (first.etag, first.last_modified)
    assert after.last_run_at is not None
    assert first.last_run_at is not None
    assert after.last_run_at > first.last_run_at
    assert after.last_new_item_at == first.last_new_item_at
    assert (after.items_seen, after.articles_created) == (first.items_seen, first.articles_created)
    assert [i.last_seen_at for i in state.source_items(factory)] == [
        i.first_seen_at for i in state.source_items(factory)
    ]


def test_last_modified_alone_also_gets_a_304(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    url = server.serve_file("/hub.rss", "hub.rss")
    source_id = add_source("hub", url, last_modified="Sat, 28 Nov 2026 02:30:00 GMT")

    report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)

    assert report.not_modified
    assert state.counts(factory) == EMPTY


def test_a_failure_after_a_success_keeps_the_success_time_and_recovers(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("hub", server.serve_file("/hub.rss", "hub.rss"))
    ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    succeeded_at = state.source(factory, source_id).last_success_at
    server.serve("/hub.rss", Route(status=500))

    ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    failed = state.source(factory, source_id)
    server.serve_file("/hub.rss", "hub.rss")
    ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    recovered = state.source(factory, source_id)

    assert (failed.last_run_ok, failed.last_success_at) == (False, succeeded_at)
    assert failed.last_error == "HTTP 500 Internal Server Error"
    assert recovered.last_run_ok is True
    assert recovered.last_success_at == recovered.last_run_at
    assert recovered.last_success_at is not None
    assert succeeded_at is not None
    assert recovered.last_success_at > succeeded_at
    # The last error stays as history; last_run_ok says it is over.
    assert recovered.last_error == "HTTP 500 Internal Server Error"
