"""Parsing and normalising feeds without a network or a database.

The domain rules (`crosspost.domain.feed`) and the adapter's `parse_feed` on fixture bytes.
"""

from __future__ import annotations

import codecs
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crosspost.domain.feed import (
    PROLOG_SCAN_BYTES,
    FeedItem,
    RawEntry,
    judge_parse,
    normalise_entry,
    refuse_unsafe_body,
)
from crosspost.errors import FeedError
from crosspost.feeds import parse_feed
from tests.fixtures.feeds.generate_encoded import WIN1258_TITLE

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"

SEEN = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
FEED_URL = "https://portal.example.vn/rss/home.rss"
ENTITY_REASON = "feed declares XML entities in its DOCTYPE (refused: entity expansion)"


def normalise(entry: RawEntry, summary_max_chars: int = 1000) -> FeedItem | None:
    return normalise_entry(
        entry,
        feed_url=FEED_URL,
        seen_at=SEEN,
        tracking_params=["utm_*"],
        summary_max_chars=summary_max_chars,
    )


def entry(**fields: object) -> RawEntry:
    values: dict[str, object] = {
        "guid": None,
        "link": "/tin/a.htm",
        "title": "Tiêu đề",
        "summary": "",
        "published": None,
    }
    return RawEntry(**(values | fields))  # type: ignore[arg-type]


def test_an_entry_without_a_usable_link_is_skipped() -> None:
    assert normalise(entry(link=None)) is None
    assert normalise(entry(link="javascript:void(0)")) is None


def test_a_permalink_guid_stands_in_for_a_missing_link() -> None:
    item = normalise(entry(link=None, guid="https://portal.example.vn/tin/b.htm"))
    assert item is not None
    assert item.link == "https://portal.example.vn/tin/b.htm"
    assert normalise(entry(link=None, guid="news_12")) is None


def test_a_missing_title_comes_from_the_summary() -> None:
    item = normalise(entry(title="  ", summary="<p>Nội dung " + "rất dài " * 40 + "</p>"))
    assert item is not None
    assert item.title.startswith("Nội dung rất dài")
    assert item.title.endswith("…")
    assert len(item.title) <= 120


def test_an_overlong_guid_is_hashed_to_fit() -> None:
    item = normalise(entry(guid="x" * 5000))
    assert item is not None
    assert item.guid.startswith("sha256:")
    assert len(item.guid) == len("sha256:") + 64


def test_dates_fall_back_to_the_parser_then_to_first_seen() -> None:
    parser_date = datetime(2026, 11, 1, tzinfo=UTC)
    ours = normalise(entry(published="28/11/2026 09:21", parser_published=parser_date))
    theirs = normalise(entry(published="something odd", parser_published=parser_date))
    none = normalise(entry(published="something odd"))
    assert ours is not None
    assert theirs is not None
    assert none is not None
    assert (ours.published_at, ours.date_estimated) == (
        datetime(2026, 11, 28, 2, 21, tzinfo=UTC),
        False,
    )
    assert (theirs.published_at, theirs.date_estimated) == (parser_date, False)
    assert (none.published_at, none.date_estimated) == (SEEN, True)


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels + 1):
        lines.append(f'<!ENTITY lol{level} "' + f"&lol{level - 1};" * 10 + '">')
    subset = "\n".join(lines)
    return f'<?xml version="1.0"?><!DOCTYPE rss [{subset}]><rss>&lol{levels};</rss>'.encode()


def test_billion_laughs_is_refused_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(FeedError) as caught:
        refuse_unsafe_body(billion_laughs(levels=30) + b" " * 5_000_000)
    assert str(caught.value) == ENTITY_REASON
    assert time.perf_counter() - started < 0.2


def test_a_utf16_entity_bomb_is_refused() -> None:
    body = codecs.BOM_UTF16_LE + billion_laughs().decode().encode("utf-16-le")
    with pytest.raises(FeedError, match="entities"):
        refuse_unsafe_body(body)


def test_a_doctype_pushed_past_the_scanned_prefix_is_refused() -> None:
    padding = b"<!-- " + b"x" * PROLOG_SCAN_BYTES + b" -->"
    body = b'<?xml version="1.0"?>' + padding + billion_laughs().split(b"?>", 1)[1]
    with pytest.raises(FeedError, match="no XML element"):
        refuse_unsafe_body(body)


def test_harmless_doctypes_and_feeds_pass() -> None:
    refuse_unsafe_body((FEEDS / "hub.rss").read_bytes())
    refuse_unsafe_body(b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "x.dtd"><rss/>')


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty response"),
        (b"  \n ", "empty response"),
        ((FEEDS / "error.html").read_bytes(), "HTML page"),
        (b'<?xml version="1.0"?>\n<html><body>D1N anti-bot</body></html>', "HTML page"),
    ],
)
def test_bodies_that_are_not_feeds_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        refuse_unsafe_body(body)


def test_judge_parse() -> None:
    assert judge_parse(bozo=False, problem="", version="rss20", entry_count=3) is None
    assert judge_parse(bozo=False, problem="", version="rss20", entry_count=0) is None
    note = judge_parse(
        bozo=True, problem="undefined entity\nline 2", version="rss20", entry_count=2
    )
    assert note == "feed is not well-formed (undefined entity line 2); 2 entries read leniently"
    with pytest.raises(FeedError, match=r"^feed is not well-formed XML: mismatched tag$"):
        judge_parse(bozo=True, problem="mismatched tag", version="rss20", entry_count=0)
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        judge_parse(bozo=False, problem="", version="", entry_count=0)


@pytest.mark.parametrize(
    ("name", "title", "link"),
    [
        (
            "rss10.rdf",
            "Phương án thi tốt nghiệp THPT năm 2027",
            "https://moet.example.vn/tin/thi-tot-nghiep-2027.aspx",
        ),
        (
            "rss091.xml",
            "Thông báo tuyển dụng công chức năm 2027",
            "https://snv.example.vn/thong-bao/tuyen-dung-2027.html",
        ),
        (
            "ministry.atom",
            "Bộ KH&CN hướng dẫn chuyển đổi số",
            "https://mst.example.vn/tin-tuc/huong-dan-chuyen-doi-so-4821.htm",
        ),
    ],
)
def test_rss_0_9x_1_0_and_atom_are_read(name: str, title: str, link: str) -> None:
    feed = parse_feed((FEEDS / name).read_bytes(), url=FEED_URL, content_type="text/xml")
    assert feed.note is None
    first = feed.entries[0]
    assert (first.title, first.link) == (title, link)


def test_a_wrong_charset_header_does_not_garble_windows_1258() -> None:
    body = (FEEDS / "win1258.rss").read_bytes()
    feed = parse_feed(body, url=FEED_URL, content_type="text/xml; charset=utf-8")
    assert feed.note is None  # the header was wrong, not the feed
    item = normalise(feed.entries[0])
    assert item is not None
    assert item.title == WIN1258_TITLE
