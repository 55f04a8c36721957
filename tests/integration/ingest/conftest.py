"""A local feed server, a clock, the real fetcher, and a helper to register sources.

The server runs on 127.0.0.1, port 0, in a thread. Each path is a `Route` the test sets: fixture
bytes with a content type, or a misbehaviour (status, delay, endless body). It honours
If-None-Match / If-Modified-Since with 304 as a well-behaved portal does.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Source
from crosspost.db.session import transaction
from crosspost.feeds import FeedFetcher
from crosspost.settings import IngestSettings

FEEDS = Path(__file__).parents[2] / "fixtures" / "feeds"
LAST_MODIFIED = "Sat, 28 Nov 2026 02:30:00 GMT"
CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "text/xml",
    ".html": "text/html; charset=utf-8",
}


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    content_type: str = "application/rss+xml"
    status: int = 200
    delay: float = 0.0  # seconds before the headers are sent
    conditional: bool = True  # send ETag/Last-Modified and answer 304 when they match
    stream_forever: bool = False  # send chunks until the client hangs up, no Content-Length
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """The running server: `url(path)`, `serve(path, route)`, `serve_file(path, name)`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, int]] = []  # (path, status sent), for failure messages
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def serve(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def serve_file(self, path: str, name: str, content_type: str | None = None) -> str:
        file = FEEDS / name
        return self.serve(
            path, Route(body=file.read_bytes(), content_type=content_type or _type_of(file))
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    route = Route(
                        status=404, body=b"<html>Not found</html>", content_type="text/html"
                    )
                if route.delay:
                    time.sleep(route.delay)
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if route.conditional and route.status == 200 and self._matches(etag):
                    self._send(304, b"", {"ETag": etag, "Last-Modified": LAST_MODIFIED})
                    return
                headers = {"Content-Type": route.content_type, **route.headers}
                if route.conditional and route.status == 200:
                    headers |= {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                if route.stream_forever:
                    self._stream(route, headers)
                    return
                self._send(route.status, route.body, headers)

            def _matches(self, etag: str) -> bool:
                sent = self.headers.get("If-None-Match")
                if sent is not None:
                    return sent == etag
                return self.headers.get("If-Modified-Since") == LAST_MODIFIED

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                server.requests.append((self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        # The client stopped reading (a size cap, a timeout): as intended.
                        self.close_connection = True

            def _stream(self, route: Route, headers: dict[str, str]) -> None:
                server.requests.append((self.path, route.status))
                self.send_response(route.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = route.body or b"<!-- padding -->" * 4096
                try:
                    for _ in range(100_000):  # bounded, in case a client never hangs up
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        return Handler


def _type_of(file: Path) -> str:
    return CONTENT_TYPES.get(file.suffix, "application/octet-stream")


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(feed_server: FeedServer) -> Iterator[FeedServer]:
    """The shared server with this test's routes, cleared afterwards."""
    yield feed_server
    feed_server.routes.clear()
    feed_server.requests.clear()


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(timeout_seconds=5, summary_max_chars=200)


@pytest.fixture
def fetcher(settings: IngestSettings) -> Iterator[FeedFetcher]:
    with FeedFetcher(settings) as real:
        yield real


class Clock:
    """A clock that moves a second forward at each reading, so 'first seen' times differ."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))


AddSource = Callable[..., int]


@pytest.fixture
def add_source(factory: sessionmaker[Session], clock: Clock) -> AddSource:
    """Register a source and return its id; local test servers need allow_private."""

    def add(name: str, url: str, **fields: Any) -> int:
        values: dict[str, Any] = {"trusted": False, "enabled": True, "allow_private": True}
        values |= fields
        with transaction(factory) as session:
            source = Source(
                name=name,
                url=url,
                created_at=clock(),
                items_seen=0,
                articles_created=0,
                revisions_recorded=0,
                **values,
            )
            session.add(source)
            session.flush()
            return source.id

    return add


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a local port that nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.rss"
