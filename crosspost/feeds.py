"""The feed adapter: HTTP fetch with httpx, parsing with feedparser, into plain domain values.

Every failure leaves here as a FeedError with a one-line reason; nothing else escapes `fetch`.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import ipaddress
import socket
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import feedparser
import httpx

from crosspost.domain.feed import (
    FetchResult,
    ParsedFeed,
    RawEntry,
    judge_parse,
    refuse_unsafe_body,
)
from crosspost.errors import FeedError
from crosspost.settings import IngestSettings

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_MAX_REDIRECTS = 5


class FeedFetcher:
    """Fetches and parses feeds. Build one from settings (bootstrap does); close it when done.

    `client` is the seam for tests and for bootstrap's shared client; without one, a client is
    made with the settings' User-Agent and closed by `close()`.
    """

    def __init__(self, settings: IngestSettings, *, client: httpx.Client | None = None) -> None:
        self._own_client = client is None
        self._client = client or httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept": _ACCEPT},
            timeout=settings.timeout_seconds,
        )

    def close(self) -> None:
        """Close the HTTP client if this fetcher made it."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> FeedFetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        timeout: float,
        max_bytes: int,
        allow_private: bool = False,
    ) -> FetchResult:
        """GET `url` conditionally and parse it; FeedError with a one-line reason on any failure.

        `timeout` bounds the whole download, not only each read, so a server that drips bytes
        cannot hold a run; at most `max_bytes` (after decompression) are read. Unless
        `allow_private`, a URL or redirect that resolves to a private or loopback address is
        refused: a source's URL comes from configuration, but must not reach internal services.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + timeout
        target = url
        try:
            # Redirects are followed by hand so that every hop is checked before it is requested.
            for _hop in range(_MAX_REDIRECTS + 1):
                request = self._client.build_request(
                    "GET", target, headers=headers, timeout=timeout
                )
                if not allow_private:
                    _refuse_private(request.url)
                response = self._client.send(request, stream=True, follow_redirects=False)
                try:
                    if response.next_request is not None:
                        target = str(response.next_request.url)
                        continue
                    return _result(response, etag, last_modified, deadline, timeout, max_bytes)
                finally:
                    response.close()
            raise FeedError(f"more than {_MAX_REDIRECTS} redirects")
        except httpx.TimeoutException:
            raise FeedError(f"timed out after {timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise FeedError(f"cannot connect: {_first_line(exc) or 'connection failed'}") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FeedError(f"unusable feed URL: {_first_line(exc)}") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"HTTP error: {type(exc).__name__}: {_first_line(exc)}") from None


def _result(
    response: httpx.Response,
    etag: str | None,
    last_modified: str | None,
    deadline: float,
    timeout: float,
    max_bytes: int,
) -> FetchResult:
    if response.status_code == httpx.codes.NOT_MODIFIED:
        # A 304 may carry fresh validators; otherwise the ones sent stay valid.
        return FetchResult(
            not_modified=True,
            feed=None,
            etag=response.headers.get("ETag") or etag,
            last_modified=response.headers.get("Last-Modified") or last_modified,
        )
    if not response.is_success:
        raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
    body = _read_capped(response, max_bytes, deadline, timeout)
    feed = parse_feed(
        body, url=str(response.url), content_type=response.headers.get("Content-Type")
    )
    return FetchResult(
        not_modified=False,
        feed=feed,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
    )


def _read_capped(
    response: httpx.Response, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FeedError(f"feed is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedError(f"feed is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FeedError(f"timed out after {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_private(url: httpx.URL) -> None:
    host = url.host
    try:
        infos = socket.getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return  # the request itself already failed or will fail with a clearer error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # drop an IPv6 scope
        if not address.is_global:
            raise FeedError(
                f"refusing to fetch from non-public address {address} ({host}); "
                "allow it on the source if intended"
            )


def parse_feed(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    """Parse a feed body with feedparser; FeedError if it is unsafe or not a usable feed.

    `url` is the final URL after redirects: relative links are resolved against it.
    """
    refuse_unsafe_body(body)
    headers = {"content-location": url, "content-type": _xml_content_type(content_type)}
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # noqa: BLE001 - feedparser's failure modes are not documented
        raise FeedError(f"feed could not be parsed: {type(exc).__name__}") from None
    problem = parsed.get("bozo_exception")
    # feedparser also flags what it merely disagrees with (a charset header overridden by the
    # document, a text/* media type); those are not defects of the feed.
    soft = isinstance(problem, feedparser.exceptions.ThingsNobodyCaresAboutButMe)
    entries = tuple(_raw_entry(entry) for entry in parsed.get("entries", []))
    note = judge_parse(
        bozo=bool(parsed.get("bozo")) and not soft,
        problem=_first_line(problem) if problem else "",
        version=str(parsed.get("version") or ""),
        entry_count=len(entries),
    )
    return ParsedFeed(entries=entries, note=note)


def _xml_content_type(content_type: str | None) -> str:
    # feedparser follows RFC 3023, under which text/xml without a charset is US-ASCII and the XML
    # declaration is ignored; RFC 7303 replaced that, and portals serve UTF-8 and windows-1258 as
    # plain text/xml. So the XML declaration decides unless the server named a charset.
    charset = ""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return f"application/xml; charset={charset}" if charset else "application/xml"


def _raw_entry(entry: Any) -> RawEntry:
    link = entry.get("link")
    if not link:
        # Atom entries may carry only rel="alternate" links, or links without a rel.
        hrefs = [item.get("href") for item in entry.get("links", []) if item.get("href")]
        link = hrefs[0] if hrefs else None
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "")
    # dict.get, not entry.get: FeedParserDict maps "updated" to "published" with a warning.
    parsed_date = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    parser_published = None
    if parsed_date:
        with contextlib.suppress(OverflowError, ValueError, OSError):  # absurd years
            parser_published = datetime.fromtimestamp(calendar.timegm(parsed_date), UTC)
    return RawEntry(
        guid=entry.get("id") or None,
        link=link,
        title=entry.get("title") or "",
        summary=summary,
        published=dict.get(entry, "published") or dict.get(entry, "updated") or None,
        parser_published=parser_published,
    )


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
