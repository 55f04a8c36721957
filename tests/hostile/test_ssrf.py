"""Outbound fetches never reach a private, loopback or link-local address unless allowed.

The network is real (a local HTTP server on 127.0.0.1) with two seams the fetcher offers: its
`resolver` (names to addresses; here a scripted DNS) and its `network` (httpcore's backend that
connects to an address; here a router that sends a public address, 93.184.216.34, to the local
server, as the internet would send it to a portal). So "a public portal" is reachable, and a
connection to any other address goes where it says: straight to loopback.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from crosspost.errors import FeedError
from crosspost.feeds import FeedFetcher, system_resolver
from crosspost.settings import IngestSettings
from tests.hostile.network import HUB, PORTAL, PUBLIC, Dns, Router
from tests.integration.ingest.conftest import FeedServer, Route


@pytest.fixture
def router(server: FeedServer) -> Router:
    return Router(int(server.url("/").rsplit(":", 1)[1].strip("/")))


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(timeout_seconds=3)


def fetch(
    settings: IngestSettings,
    dns: Dns | Any,
    router: Router,
    url: str,
    *,
    allow_private: bool = False,
    timeout: float = 3.0,
) -> Any:
    with FeedFetcher(settings, resolver=dns, network=router) as fetcher:
        return fetcher.fetch(
            url,
            etag=None,
            last_modified=None,
            timeout=timeout,
            max_bytes=1_000_000,
            allow_private=allow_private,
        )


def portal_dns(**extra: list[list[str]]) -> Dns:
    return Dns({PORTAL: [[PUBLIC]], "localhost": [["127.0.0.1", "::1"]], **extra})


def test_a_public_portal_is_fetched(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/feed.rss", Route(body=HUB))

    result = fetch(settings, portal_dns(), router, f"http://{PORTAL}/feed.rss")

    assert result.feed is not None
    assert len(result.feed.entries) > 0
    assert router.dialled == [(PUBLIC, 80)]


INSIDE = [
    "http://127.0.0.1:{port}/feed.rss",
    "http://localhost:{port}/feed.rss",
    "http://[::1]:{port}/feed.rss",
    "http://[::ffff:127.0.0.1]:{port}/feed.rss",
    "http://0.0.0.0:{port}/feed.rss",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/feed.rss",
    "http://[fc00::1]/feed.rss",
    "http://10.0.0.1/feed.rss",
    "http://172.16.5.4/feed.rss",
    "http://192.168.1.1/feed.rss",
    "http://100.64.0.1/feed.rss",
    "http://224.0.0.1/feed.rss",
    "http://[ff02::1]/feed.rss",
    "http://240.0.0.1/feed.rss",
    "http://255.255.255.255/feed.rss",
    "http://intranet.gov.test/feed.rss",  # DNS answers a private address
    "http://mixed.gov.test/feed.rss",  # DNS answers one public and one loopback address
]
"""URLs that lead inside: loopback, private, link-local, metadata, mapped, multicast, reserved."""


INSIDE_DNS = {"intranet.gov.test": [["192.168.10.5"]], "mixed.gov.test": [[PUBLIC, "127.0.0.1"]]}


@pytest.mark.parametrize("template", INSIDE)
def test_an_inside_address_is_refused_before_connecting(
    template: str, server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/feed.rss", Route(body=HUB))
    url = template.format(port=router.server_port)

    with pytest.raises(FeedError, match=r"^refusing to fetch from non-public address "):
        fetch(settings, portal_dns(**INSIDE_DNS), router, url)

    assert router.dialled == []
    assert server.requests == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1"])
def test_numeric_spellings_of_loopback_are_refused(
    host: str, server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    # The system resolver reads these as 127.0.0.1 (inet_aton), so the check must see its answer.
    url = f"http://{host}:{router.server_port}/feed.rss"
    server.serve("/feed.rss", Route(body=HUB))

    # httpx itself rejects some spellings as invalid URLs; either way nothing is dialled.
    with pytest.raises(FeedError, match=r"non-public address 127\.0\.0\.1|^unusable feed URL"):
        fetch(settings, system_resolver, router, url)

    assert router.dialled == []


@pytest.mark.parametrize("template", INSIDE)
def test_a_redirect_inside_is_refused(
    template: str, server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    target = template.format(port=router.server_port)
    server.serve("/feed.rss", Route(body=HUB))
    server.serve("/go", Route(status=302, headers={"Location": target}, conditional=False))

    with pytest.raises(FeedError, match=r"^refusing to fetch from non-public address "):
        fetch(settings, portal_dns(**INSIDE_DNS), router, f"http://{PORTAL}/go")

    assert router.dialled == [(PUBLIC, 80)]  # the portal, and nothing after it
    assert [path for path, _ in server.requests] == ["/go"]


def test_dns_rebinding_gets_no_second_answer(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    # The name answers public once, then loopback: a check-then-connect fetcher would ask twice
    # and connect to 127.0.0.1. The pinned connection asks once and connects where it checked.
    server.serve("/feed.rss", Route(body=HUB))
    dns = Dns({PORTAL: [[PUBLIC], ["127.0.0.1"]]})

    result = fetch(settings, dns, router, f"http://{PORTAL}/feed.rss")

    assert result.feed is not None
    assert dns.questions == [PORTAL]
    assert router.dialled == [(PUBLIC, 80)]
    # The next connection asks again, gets the inside answer, and is refused.
    with pytest.raises(FeedError, match=r"non-public address 127\.0\.0\.1 \(portal\.gov\.test\)"):
        fetch(settings, dns, router, f"http://{PORTAL}/feed.rss")
    assert router.dialled == [(PUBLIC, 80)]


def test_a_redirect_to_a_name_that_rebinds_inside_is_refused(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/go", Route(status=301, headers={"Location": "http://cdn.gov.test/x.rss"}))
    dns = portal_dns(**{"cdn.gov.test": [["10.1.2.3"]]})

    with pytest.raises(FeedError, match=r"non-public address 10\.1\.2\.3 \(cdn\.gov\.test\)"):
        fetch(settings, dns, router, f"http://{PORTAL}/go")

    assert router.dialled == [(PUBLIC, 80)]


def test_redirects_are_followed_a_bounded_number_of_times(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/feed.rss", Route(body=HUB))
    for hop in range(7):
        server.serve(f"/r{hop}", Route(status=302, headers={"Location": f"/r{hop + 1}"}))
    server.serve("/r7", Route(status=302, headers={"Location": "/feed.rss"}))

    assert fetch(settings, portal_dns(), router, f"http://{PORTAL}/r3").feed is not None
    server.requests.clear()
    with pytest.raises(FeedError, match=r"^more than 5 redirects$"):
        fetch(settings, portal_dns(), router, f"http://{PORTAL}/r0")
    assert len(server.requests) == 6


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://portal.gov.test/feed.rss", "gopher://x/1"]
)
def test_a_redirect_to_another_scheme_is_refused(
    location: str, server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/go", Route(status=302, headers={"Location": location}))

    with pytest.raises(FeedError, match=r"^unusable feed URL"):
        fetch(settings, portal_dns(), router, f"http://{PORTAL}/go")


def test_the_time_limit_covers_every_redirect_hop(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    # Each hop answers in 0.4 s, under the limit; five of them are not.
    for hop in range(5):
        server.serve(
            f"/slow{hop}", Route(status=302, delay=0.4, headers={"Location": f"/slow{hop + 1}"})
        )
    server.serve("/slow5", Route(body=HUB, delay=0.4))

    started = time.monotonic()
    with pytest.raises(FeedError, match=r"^timed out after 1 s$"):
        fetch(settings, portal_dns(), router, f"http://{PORTAL}/slow0", timeout=1.0)
    assert time.monotonic() - started < 1.6


def test_allow_private_reaches_the_local_server(
    server: FeedServer, router: Router, settings: IngestSettings
) -> None:
    server.serve("/feed.rss", Route(body=HUB))
    url = f"http://localhost:{router.server_port}/feed.rss"

    result = fetch(settings, portal_dns(), router, url, allow_private=True)

    assert result.feed is not None
    assert router.dialled[0] in {("127.0.0.1", router.server_port), ("::1", router.server_port)}


def test_proxy_variables_do_not_bypass_the_check(
    server: FeedServer, router: Router, settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would resolve the name itself, outside the check: the fetcher ignores the variables.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    server.serve("/feed.rss", Route(body=HUB))

    assert fetch(settings, portal_dns(), router, f"http://{PORTAL}/feed.rss").feed is not None
    assert router.dialled == [(PUBLIC, 80)]


def test_a_server_that_drips_bytes_is_cut_off_at_the_time_limit(
    router: Router, settings: IngestSettings
) -> None:
    # Each byte arrives well within a read timeout; the whole body never would.
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                         b"Content-Length: 100000\r\n\r\n<rss>")  # fmt: skip
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    router.server_port = listener.getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(FeedError, match=r"^timed out after 1 s$"):
            fetch(settings, portal_dns(), router, f"http://{PORTAL}/feed.rss", timeout=1.0)
        assert time.monotonic() - started < 1.5
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
