"""Ingesting well-behaved (and nearly well-behaved) feeds: what ends up in the database."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from crosspost.feeds import FeedFetcher
from crosspost.services.ingest import RunReport, ingest_all, ingest_source
from crosspost.settings import IngestSettings
from tests.fixtures.feeds.generate_encoded import (
    NFD_SUMMARY,
    NFD_TITLE,
    WIN1258_SUMMARY,
    WIN1258_TITLE,
)
from tests.integration.ingest import state
from tests.integration.ingest.conftest import FEEDS, AddSource, Clock, FeedServer, Route

MST_ARTICLE = "https://mst.example.vn/tin-tuc/huong-dan-chuyen-doi-so-4821.htm"
HUB_ARTICLE = "https://chinhphu.example.vn/thu-tuong-chu-tri-phien-hop-102261128092100001.htm"


def run(
    factory: sessionmaker[Session],
    source_id: int,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> RunReport:
    return ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)


def test_nfd_feed_is_stored_nfc(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    raw = (FEEDS / "nfd.rss").read_text(encoding="utf-8")
    assert not unicodedata.is_normalized("NFC", raw), "the fixture must really be NFD"
    source_id = add_source("hub", server.serve_file("/nfd.rss", "nfd.rss"))

    report = run(factory, source_id, fetcher, settings, clock)

    assert report.ok
    assert report.new_articles == 1
    [article] = state.articles(factory)
    assert article.title == NFD_TITLE
    assert article.summary == NFD_SUMMARY
    assert unicodedata.is_normalized("NFC", article.title + article.summary)


def test_windows_1258_feed_served_as_plain_text_xml_is_decoded_and_stored_nfc(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    body = (FEEDS / "win1258.rss").read_bytes()
    assert not unicodedata.is_normalized("NFC", body.decode("cp1258"))
    # text/xml without a charset, as portals serve it: the XML declaration must decide.
    url = server.serve("/win.rss", Route(body=body, content_type="text/xml"))
    source_id = add_source("mof", url)

    report = run(factory, source_id, fetcher, settings, clock)

    assert report.ok, report.error
    [article] = state.articles(factory)
    assert article.title == WIN1258_TITLE
    assert article.summary == WIN1258_SUMMARY


def test_long_summary_is_cut_at_a_word_boundary(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    clock: Clock,
) -> None:
    settings = IngestSettings(summary_max_chars=50)
    source_id = add_source("hub", server.serve_file("/hub.rss", "hub.rss"))

    run(factory, source_id, fetcher, settings, clock)

    article = state.article_by_url(factory, HUB_ARTICLE)
    # The full text is 60 characters: "… Chính phủ thường kỳ."
    assert article.summary == "Sáng 28/11, Thủ tướng chủ trì phiên họp Chính phủ…"
    assert len(article.summary) <= 50


def test_relative_links_are_made_absolute_with_xml_base_and_the_feed_url(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    atom = add_source("mst", server.serve_file("/mst/feed.atom", "ministry.atom"))
    province = add_source("tinh", server.serve_file("/vi/news/rss/", "relative.rss"))

    run(factory, atom, fetcher, settings, clock)
    run(factory, province, fetcher, settings, clock)

    links = {a.link for a in state.articles(factory)}
    assert links == {
        MST_ARTICLE,  # feed-level xml:base
        "https://mst.example.vn/van-ban/thong-tu-12-2026.htm",  # entry-level xml:base
        server.url("/vi/news/chi-dao/trien-khai-nghi-dinh-42-1234.html"),  # leading space
        server.url("/vi/news/rss/lich-tiep-cong-dan-1235.html"),  # relative to the feed URL
    }


def test_hub_feed_items_are_normalised_and_counted(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("hub", server.serve_file("/hub.rss", "hub.rss"))

    report = run(factory, source_id, fetcher, settings, clock)

    assert report.summary() == "hub: 3 items, 3 new, 0 revised, 0 duplicates"
    relative = server.url("/chinh-sach-moi/nghi-dinh-224-2026-102261127150000002.htm?id=224&page=2")
    by_url = {a.canonical_url: a for a in state.articles(factory)}
    # Tracking parameters gone, others kept in order; host lowercased, :443 and #fragment gone.
    assert set(by_url) == {HUB_ARTICLE, MST_ARTICLE, relative}
    # HTML stripped, entities decoded once, scripts and styles dropped.
    assert by_url[HUB_ARTICLE].summary == (
        "Sáng 28/11, Thủ tướng chủ trì phiên họp Chính phủ thường kỳ."
    )
    assert by_url[MST_ARTICLE].title == "Bộ KH&CN hướng dẫn chuyển đổi số"
    # The link keeps its parameters (minus whitespace); only the canonical form drops them.
    assert by_url[MST_ARTICLE].link == (
        "HTTPS://MST.Example.VN:443/tin-tuc/huong-dan-chuyen-doi-so-4821.htm"
        "?utm_source=chinhphu&utm_medium=rss&fbclid=abc#binh-luan"
    )
    # An item without a GUID is keyed by its canonical link.
    guids = {item.guid for item in state.source_items(factory)}
    assert guids == {"102261128092100001", MST_ARTICLE, relative}
    row = state.source(factory, source_id)
    assert (row.items_seen, row.articles_created, row.revisions_recorded) == (3, 3, 0)
    assert row.last_run_ok is True
    assert row.last_success_at == row.last_run_at
    assert row.last_new_item_at is not None
    assert row.last_run_at is not None
    assert row.last_new_item_at <= row.last_run_at
    assert row.etag
    assert row.last_modified
    assert row.last_error is None


def test_the_same_article_in_two_feeds_is_one_article_with_two_source_items(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    mst = add_source("mst", server.serve_file("/mst.atom", "ministry.atom"))
    hub = add_source("hub", server.serve_file("/hub.rss", "hub.rss"))

    first = run(factory, mst, fetcher, settings, clock)
    second = run(factory, hub, fetcher, settings, clock)

    assert (first.new_articles, first.duplicates) == (2, 0)
    assert (second.new_articles, second.duplicates, second.revisions) == (2, 1, 0)
    assert len(state.articles(factory)) == 4
    shared = state.article_by_url(factory, MST_ARTICLE)
    assert shared.source_id == mst  # the first source to carry it
    carriers = {i.source_id for i in state.source_items(factory) if i.article_id == shared.id}
    assert carriers == {mst, hub}
    assert [r.revision for r in state.revisions(factory, shared.id)] == [1]
    assert state.source(factory, hub).articles_created == 2
    assert state.source(factory, hub).items_seen == 3


def test_a_pending_article_that_a_trusted_source_also_carries_is_approved_by_the_rule(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    from crosspost.services import audit

    mst = add_source("mst", server.serve_file("/mst.atom", "ministry.atom"))
    hub = add_source("hub", server.serve_file("/hub.rss", "hub.rss"), trusted=True)
    run(factory, mst, fetcher, settings, clock)
    shared = state.article_by_url(factory, MST_ARTICLE)
    assert shared.status == "pending"
    run(factory, hub, fetcher, settings, clock)
    assert state.article_by_url(factory, MST_ARTICLE).status == "approved"
    history = [
        (e.action, e.actor, e.note) for e in audit.list_entries(factory, article_id=shared.id)
    ]
    assert history[-1] == ("approved", "rule:trusted-source:hub", "carried by a trusted source")
    # the ministry's other article, which the hub does not carry, still waits for an officer
    others = [a for a in state.articles(factory) if a.source_id == mst and a.id != shared.id]
    assert {a.status for a in others} == {"pending"}


def test_a_changed_title_is_a_revision_with_its_history_kept(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    url = server.serve_file("/mof.rss", "revised_v1.rss")
    source_id = add_source("mof", url)
    run(factory, source_id, fetcher, settings, clock)
    server.serve_file("/mof.rss", "revised_v2.rss")

    report = run(factory, source_id, fetcher, settings, clock)
    again = run(factory, source_id, fetcher, settings, clock)

    assert (report.new_articles, report.revisions) == (0, 1)
    assert again.not_modified
    [article] = state.articles(factory)
    assert article.revision == 2
    assert article.title == "Hướng dẫn kê khai, quyết toán thuế năm 2026"
    assert article.summary == "Cục Thuế hướng dẫn người nộp thuế quyết toán trước 31/3."
    history = state.revisions(factory, article.id)
    assert [(r.revision, r.title) for r in history] == [
        (1, "Hướng dẫn kê khai thuế năm 2026"),
        (2, "Hướng dẫn kê khai, quyết toán thuế năm 2026"),
    ]
    assert len(state.source_items(factory)) == 1
    assert state.source(factory, source_id).revisions_recorded == 1
    actions = [(e.action, e.note) for e in state.audit_entries(factory, article.id)]
    assert actions == [("ingested", ""), ("revised", "revision 2: title and summary changed")]


def test_vietnamese_date_formats_in_a_feed(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("tinh", server.serve_file("/dates.rss", "vn_dates.rss"))

    run(factory, source_id, fetcher, settings, clock)

    # Items are told apart by link: tinh.example.vn/<n>.html, in the fixture's order.
    found = {
        int(a.link.rsplit("/", 1)[1].split(".")[0]): (a.published_at, a.published_at_estimated)
        for a in state.articles(factory)
    }
    seen = {
        int(a.link.rsplit("/", 1)[1].split(".")[0]): a.first_seen_at
        for a in state.articles(factory)
    }

    def utc(year: int, month: int, day: int, hour: int, minute: int) -> tuple[datetime, bool]:
        return datetime(year, month, day, hour, minute, tzinfo=UTC), False

    assert found[1] == utc(2026, 11, 28, 2, 21)  # 28/11/2026 09:21
    assert found[2] == utc(2026, 11, 27, 17, 0)  # 28/11/2026
    assert found[3] == utc(2026, 11, 26, 17, 0)  # 27-11-2026
    for n in (4, 5, 6, 7):  # 14:05 local as dd-mm-yyyy, +07, GMT+7, (GMT+7)
        assert found[n] == utc(2026, 11, 27, 7, 5), n
    for n in (8, 9):  # missing, unreadable
        assert found[n] == (seen[n], True), n


def test_ingesting_the_same_feed_twice_creates_nothing_new(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    # No validators: the second run downloads and reads the whole feed again.
    body = (FEEDS / "hub.rss").read_bytes()
    source_id = add_source("hub", server.serve("/hub.rss", Route(body=body, conditional=False)))
    run(factory, source_id, fetcher, settings, clock)
    before = state.counts(factory)
    counters = state.source(factory, source_id)

    report = run(factory, source_id, fetcher, settings, clock)

    assert report.ok
    assert not report.not_modified
    assert (report.items, report.new_articles, report.revisions, report.duplicates) == (3, 0, 0, 0)
    assert state.counts(factory) == before
    after = state.source(factory, source_id)
    assert (after.items_seen, after.articles_created, after.revisions_recorded) == (3, 3, 0)
    assert after.last_new_item_at == counters.last_new_item_at


def test_trusted_source_articles_are_approved_with_both_audit_entries(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    trusted = add_source("chinhphu", server.serve_file("/nfd.rss", "nfd.rss"), trusted=True)
    untrusted = add_source("mof", server.serve_file("/mof.rss", "revised_v1.rss"))

    ingest_all(factory, fetcher=fetcher, settings=settings, now=clock)

    status = {a.source_id: a for a in state.articles(factory)}
    assert status[trusted].status == "approved"
    assert status[untrusted].status == "pending"
    trail = [
        (e.action, e.from_state, e.to_state, e.actor, e.note)
        for e in state.audit_entries(factory, status[trusted].id)
    ]
    assert trail == [
        ("ingested", None, "pending", "ingest:chinhphu", ""),
        ("approved", "pending", "approved", "rule:trusted-source:chinhphu", "trusted source"),
    ]
    assert [e.action for e in state.audit_entries(factory, status[untrusted].id)] == ["ingested"]


def test_a_partly_ill_formed_feed_with_entries_is_accepted_with_a_note(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("stp", server.serve_file("/stp.rss", "partial.rss"))

    report = run(factory, source_id, fetcher, settings, clock)

    assert report.ok
    assert report.new_articles == 2
    assert report.note is not None
    assert "not well-formed" in report.note
    assert "Hội nghị tập huấn" in {a.title for a in state.articles(factory)}
    assert state.source(factory, source_id).last_run_ok is True
