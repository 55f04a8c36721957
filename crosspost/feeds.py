"""The feed adapter: HTTP fetch with httpx, parsing with feedparser, into plain domain values.

Every failure leaves here as a FeedError with a one-line reason; nothing else escapes `fetch`.

Server-side request forgery: a host name is resolved once, per connection, by the network
backend that then connects to the very address it checked (`PinnedBackend`), so a resolver that
answers "public" to a check and "127.0.0.1" to the connection (DNS rebinding) has no second
question to answer. TLS still verifies the certificate for, and sends SNI with, the host name.
Every redirect hop opens its connection through the same backend, so it is checked the same way.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import feedparser
import httpcore
import httpx

from crosspost.domain.feed import (
    FetchResult,
    ParsedFeed,
    RawEntry,
    judge_parse,
    refuse_unsafe_body,
)
from crosspost.domain.urls import is_public_address
from crosspost.errors import FeedError
from crosspost.settings import IngestSettings

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_MAX_REDIRECTS = 5


Resolver = Callable[[str, int], Sequence[str]]
"""Host name and port -> the IP addresses to connect to (`system_resolver` in production)."""


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answers for `host`, as IP address strings, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses it resolved and checked itself.

    The host is resolved once per connection; unless `allow_private`, every answer must be a
    public address (one inside answer refuses them all: a resolver mixing answers is hostile).
    `network` (httpcore's own backend in production; a test may route addresses elsewhere) is
    then asked to connect to a checked address, never to the name, so nothing resolves it
    again. httpcore starts TLS on the returned stream with the URL's host name, so certificate
    verification and SNI are unchanged.
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_private: bool,
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._resolve = resolver
        self._allow_private = allow_private
        self._network = network or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.addresses(host, port):
            try:
                return self._network.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # `addresses` is never empty
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("feeds are not fetched over Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._network.sleep(seconds)

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses for `host`; FeedError if one is not public (and must be)."""
        host = host.strip("[]")
        literal = _ip_literal(host)
        try:
            answers = [literal] if literal else list(self._resolve(host, port))
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not answers:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        if not self._allow_private:
            for answer in answers:
                if not is_public_address(answer):
                    raise FeedError(
                        f"refusing to fetch from non-public address {answer} ({host}); "
                        "allow it on the source if intended"
                    )
        return answers


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0])) if host else None
    except ValueError:
        return None


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool that connects through `PinnedBackend`.

    HTTPTransport takes no network backend, so its pool is replaced: `_pool` is what its
    `handle_request` sends through (httpx 0.28). tests/hostile/test_ssrf.py fails at once if an
    upgrade changes that, since every test there asserts which addresses were dialled.
    """

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext | None) -> None:
        # Proxies from the environment are not used: a proxy would resolve the name itself.
        super().__init__(trust_env=False)
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=backend)


class FeedFetcher:
    """Fetches and parses feeds. Build one from settings (bootstrap does); close it when done.

    `resolver` (the only way names become addresses; production: the operating system's),
    `network` (what connects to a checked address; production: httpcore's sockets) and
    `ssl_context` (which certificates are trusted; production: certifi's) are the seams for
    tests. Two clients are kept, one that refuses non-public addresses and one for
    sources marked `--allow-private`, made when first needed.
    """

    def __init__(
        self,
        settings: IngestSettings,
        *,
        resolver: Resolver = system_resolver,
        network: httpcore.NetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        self._network = network
        self._ssl_context = ssl_context
        self._clients: dict[bool, httpx.Client] = {}

    def _client(self, allow_private: bool) -> httpx.Client:
        client = self._clients.get(allow_private)
        if client is None:
            backend = PinnedBackend(
                self._resolver, allow_private=allow_private, network=self._network
            )
            client = httpx.Client(
                headers={"User-Agent": self._settings.user_agent, "Accept": _ACCEPT},
                timeout=self._settings.timeout_seconds,
                transport=_PinnedTransport(backend, self._ssl_context),
                trust_env=False,
                follow_redirects=False,
            )
            self._clients[allow_private] = client
        return client

    def close(self) -> None:
        """Close the HTTP clients."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

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

        `timeout` bounds the whole fetch, redirects and download included, not only each read,
        so a server that drips bytes cannot hold a run; at most `max_bytes` (after
        decompression) are read; at most `_MAX_REDIRECTS` redirects are followed. Unless
        `allow_private`, a host (of the URL or of any redirect) that resolves to a non-public
        address is refused before anything is sent to it.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + timeout
        client = self._client(allow_private)
        target = url
        try:
            # Redirects are followed by hand: bounded, and each hop gets only the time left.
            for _hop in range(_MAX_REDIRECTS + 1):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FeedError(f"timed out after {timeout:g} s")
                request = client.build_request("GET", target, headers=headers, timeout=left)
                response = client.send(request, stream=True, follow_redirects=False)
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
        except ValueError as exc:  # UnicodeError included
            # httpx raises these for some malformed redirect targets and header values.
            raise FeedError(f"unusable URL or response: {_first_line(exc)}") from None


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


def parse_feed(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    """Parse a feed body with feedparser; FeedError if it is unsafe or not a usable feed.

    `url` is the final URL after redirects: relative links are resolved against it.
    """
    refuse_unsafe_body(body)
    headers = {"content-location": url, "content-type": _xml_content_type(content_type)}
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
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
        images=_images(entry, summary),
    )


_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def _images(entry: Any, html: str) -> tuple[str, ...]:
    """The picture URLs an entry names, best first: media:content (images only),
    media:thumbnail, image enclosures, then the first <img> of its HTML (first 64 KB)."""
    found: list[str] = []
    for media in entry.get("media_content") or []:
        kind = str(media.get("medium") or media.get("type") or "image")
        if kind.startswith("image") and media.get("url"):
            found.append(str(media["url"]))
    found += [str(t["url"]) for t in entry.get("media_thumbnail") or [] if t.get("url")]
    found += [
        str(link["href"])
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure"
        and str(link.get("type", "")).startswith("image/")
        and link.get("href")
    ]
    match = _IMG_SRC.search(html[:65_536])
    if match:
        found.append(match.group(1))
    return tuple(found[:8])


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
