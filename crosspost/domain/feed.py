"""Feed items as plain values, and the decisions about them that need no I/O.

The adapter (`crosspost.feeds`) turns HTTP bytes and feedparser's output into `RawEntry` values;
everything after that (which link, which text, which date, is this body safe to parse, is this
parse good enough) is decided here and unit-tested without a network.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crosspost.domain.dates import parse_date
from crosspost.domain.text import clean_line, html_to_text, truncate_words
from crosspost.domain.urls import absolute_url, canonical_url
from crosspost.errors import FeedError

MAX_URL_CHARS = 2048
"""Longest canonical URL or GUID stored (the columns' size)."""

MAX_TITLE_CHARS = 500
"""Longest title stored: a headline is never this long, a hostile feed's may be megabytes."""

PROLOG_SCAN_BYTES = 64 * 1024
"""How much of a body is searched for a DOCTYPE before parsing."""

_TITLE_FROM_SUMMARY_CHARS = 120


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One feed entry as the parser read it; strings may hold HTML, dates are unparsed."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    published: str | None
    # The parser's own reading of the date (UTC), used when `published` is in no format we know.
    parser_published: datetime | None = None
    # Picture URLs the entry names, best first (media:content, media:thumbnail, an image
    # enclosure, the first <img> of its HTML); may be relative.
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its entries, and a note when it was accepted despite being ill-formed."""

    entries: tuple[RawEntry, ...]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetch: either `not_modified` (HTTP 304) or a parsed feed, plus the new validators."""

    not_modified: bool
    feed: ParsedFeed | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """A feed entry ready to store: absolute links, plain NFC text, an aware UTC date."""

    guid: str
    link: str
    canonical_url: str
    title: str
    summary: str
    published_at: datetime
    date_estimated: bool
    image_url: str | None = None


def normalise_entry(
    entry: RawEntry,
    *,
    feed_url: str,
    seen_at: datetime,
    tracking_params: Sequence[str],
    summary_max_chars: int,
) -> FeedItem | None:
    """The storable form of `entry`, or None when it has no usable http(s) link.

    A missing or unreadable date becomes `seen_at` with `date_estimated` set; a missing GUID
    becomes the canonical URL; a missing title is taken from the summary.
    """
    link = absolute_url(entry.link, feed_url)
    if link is None and entry.guid:
        # RSS guids are permalinks unless marked otherwise; some feeds put the link only there.
        link = absolute_url(entry.guid, feed_url) if "://" in entry.guid else None
    if link is None:
        return None
    try:
        canonical = canonical_url(link, tracking_params)
    except ValueError:
        return None
    if len(canonical) > MAX_URL_CHARS:
        return None
    summary = truncate_words(
        html_to_text(entry.summary, enough=summary_max_chars), summary_max_chars
    )
    title = truncate_words(
        html_to_text(entry.title, enough=MAX_TITLE_CHARS), MAX_TITLE_CHARS
    ) or truncate_words(summary, _TITLE_FROM_SUMMARY_CHARS)
    published = parse_date(entry.published) or entry.parser_published
    return FeedItem(
        guid=_guid(entry.guid, canonical),
        link=link,
        canonical_url=canonical,
        title=title or canonical,
        summary=summary,
        published_at=published or seen_at,
        date_estimated=published is None,
        image_url=_image(entry.images, link),
    )


def _image(candidates: Sequence[str], base: str) -> str | None:
    """The first candidate that is an absolute http(s) URL (after resolving it against the
    article's link) of a sane length; tracking parameters are kept (a CDN may need them)."""
    for candidate in candidates:
        url = absolute_url(candidate, base)
        if url is not None and len(url) <= MAX_URL_CHARS:
            return url
    return None


def _guid(raw: str | None, canonical: str) -> str:
    guid = clean_line(raw or "")
    if not guid:
        return canonical
    if len(guid) > MAX_URL_CHARS:
        # Still unique per item, and fits the column.
        return "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    return guid


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
_INTERNAL_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_HTML_START = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!DOCTYPE\s+html|html)\b",
                         re.IGNORECASE | re.DOTALL)  # fmt: skip


def _head_text(body: bytes) -> str:
    head = body[:PROLOG_SCAN_BYTES]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if head[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM
        return head.decode("utf-16-le" if head[0] else "utf-16-be", errors="replace")
    # Every other encoding a feed may use is ASCII-compatible for markup; latin-1 never fails.
    return head.decode("latin-1")


_DECLARED_ENCODING = re.compile(
    r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
_EBCDIC_XML_DECL = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC


def _declared_views(body: bytes, head: str) -> list[str]:
    """The head as the parser will read it, when that differs from the ASCII view.

    The parser converts a document to its declared encoding first; in UTF-7 or EBCDIC a DOCTYPE
    is invisible to a byte-level search ("+ADw-!ENTITY" is "<!ENTITY" in UTF-7).
    """
    raw = body[:PROLOG_SCAN_BYTES]
    views = []
    if raw.startswith(_EBCDIC_XML_DECL):
        views.append(raw.decode("cp037", errors="replace"))
    declared = _DECLARED_ENCODING.match(head)
    if declared:
        # An encoding unknown to Python is unknown to the parser too: no other view then.
        with contextlib.suppress(LookupError, ValueError):
            views.append(raw.decode(declared.group(1), errors="replace"))
    return views


def refuse_unsafe_body(body: bytes) -> None:
    """Raise FeedError when `body` must not reach an XML parser, or is plainly not a feed.

    Entity declarations in a DOCTYPE's internal subset are how the billion-laughs and external
    entity attacks work; feeds never need them, so they are refused before any parsing happens.
    Only the first `PROLOG_SCAN_BYTES` are read: a DOCTYPE can only come before the root element.
    """
    head = _head_text(body)
    if not head.strip():
        raise FeedError("the server sent an empty response, not a feed")
    for view in (head, *_declared_views(body, head)):
        if _INTERNAL_SUBSET.search(view) and _ENTITY_DECL.search(view):
            raise FeedError("feed declares XML entities in its DOCTYPE (refused: entity expansion)")
    if _HTML_START.match(head):
        raise FeedError("the server sent an HTML page, not a feed")
    if len(body) > PROLOG_SCAN_BYTES and not re.search(r"<[A-Za-z_]", head):
        raise FeedError(f"no XML element in the first {PROLOG_SCAN_BYTES} bytes: not a feed")


def judge_parse(*, bozo: bool, problem: str, version: str, entry_count: int) -> str | None:
    """Whether a parse is usable: raises FeedError if not, else returns a note (or None).

    A well-formed feed with zero items is fine (NukeViet returns that when RSS is switched off).
    An ill-formed one with entries is accepted, because the lenient parser recovered them, and
    the note says so; an ill-formed one without entries is a failure.
    """
    problem = clean_line(problem)[:200] or "unknown problem"
    if bozo and entry_count == 0:
        raise FeedError(f"feed is not well-formed XML: {problem}")
    if not version and entry_count == 0:
        raise FeedError("not an RSS or Atom feed")
    if bozo:
        return f"feed is not well-formed ({problem}); {entry_count} entries read leniently"
    return None
