"""What each platform brings to the shared contract test: connections, wire bodies, paths.

Every test talks to a real sandbox over HTTP on 127.0.0.1 (port 0) through the real SDK
clients; nothing of crosspost is patched.
"""

from __future__ import annotations

import contextlib
import json
import socket
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from crosspost.platforms.base import ChannelConnection, MemoryTokenStore, Publisher, Secret
from crosspost.platforms.registry import build_publisher
from crosspost.sandbox import DEMO_PAGE, DEMO_X_ACCOUNT, Sandbox
from crosspost.sandbox.state import (
    DEMO_MASTODON_ACCOUNT,
    DEMO_TELEGRAM_BOT,
    DEMO_ZALO_OA,
    RequestRecord,
)

FIXTURES = Path(__file__).parent / "fixtures"
TIMEOUT = 0.5
"""Client read/connect timeout in these tests: short, so timeout cases stay fast."""


@dataclass(frozen=True)
class Kit:
    """One platform's side of the contract test."""

    name: str
    credentials: Mapping[str, str]
    options: Mapping[str, str]
    account: str  # what check_credentials returns as account_id, and what revoke takes
    create: Mapping[str, str]  # fault matcher for the create call
    read: Mapping[str, str]  # fault matcher for check_credentials' call
    metrics_batch: int
    is_metrics_call: Callable[[RequestRecord], bool]
    too_long_text: str
    limit: tuple[str, int]  # a per-account sandbox limit that the second publish exceeds
    rate_limit_with_reset: Mapping[str, Any]  # fault spec; retry_after should be ~120 s
    api_base_of: Callable[[Sandbox], str] = field(repr=False, default=lambda sb: sb.url)
    rejects_duplicates: bool = True  # X and Graph refuse the same text twice; others post it
    reads_back: bool = True  # find_recent_by_link can see the account's posts (not Telegram)
    has_metrics: bool = True  # fetch_metrics returns numbers (not Telegram: all unavailable)
    metric_names: frozenset[str] = frozenset({"likes", "shares", "comments"})
    metrics_by_listing: bool = False  # numbers come from listing the account's posts (Zalo)

    def connection(
        self,
        sb: Sandbox | None,
        *,
        api_base: str | None = None,
        credentials: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> ChannelConnection:
        """A channel pointed at the sandbox (or at `api_base`)."""
        values = credentials if credentials is not None else self.credentials
        base = api_base if api_base is not None else self.api_base_of(sb) if sb else None
        # Rotating tokens (Zalo): every publisher of one sandbox shares the chain, as the
        # workers of one workspace share the database's.
        chains = _STORES.setdefault(sb, {}) if sb is not None else {}
        store = chains.setdefault(values.get("refresh_token", ""), MemoryTokenStore())
        return ChannelConnection(
            platform=self.name,
            credentials={k: Secret(v) for k, v in values.items()},
            api_base=base,
            timeout_seconds=timeout,
            connect_timeout_seconds=timeout,
            options={**self.options, **(options or {})},
            token_store=store,
        )

    def publisher(self, sb: Sandbox | None, **kwargs: Any) -> Publisher:
        """The real adapter, built through the registry."""
        return build_publisher(self.connection(sb, **kwargs))

    def wire(self, name: str) -> dict[str, Any]:
        """A `respond` fault from this platform's fixture file `name`.json."""
        data = json.loads((FIXTURES / self.name / f"{name}.json").read_text(encoding="utf-8"))
        return {"action": "respond", **{k: v for k, v in data.items() if not k.startswith("_")}}


_STORES: weakref.WeakKeyDictionary[Sandbox, dict[str, MemoryTokenStore]] = (
    weakref.WeakKeyDictionary()
)


X_KIT = Kit(
    name="x",
    credentials={
        "consumer_key": DEMO_X_ACCOUNT.consumer_key,
        "consumer_secret": DEMO_X_ACCOUNT.consumer_secret,
        "access_token": DEMO_X_ACCOUNT.access_token,
        "access_token_secret": DEMO_X_ACCOUNT.access_token_secret,
    },
    options={},
    account=DEMO_X_ACCOUNT.user_id,
    create={"platform": "x", "method": "POST", "path": "/2/tweets"},
    read={"platform": "x", "method": "GET", "path": "/2/users/me"},
    metrics_batch=100,
    is_metrics_call=lambda r: r.method == "GET" and r.path == "/2/tweets",
    too_long_text="Thông báo " + "a" * 280,
    limit=("x:create", 1),
    rate_limit_with_reset={"action": "rate_limit", "reset_header": True, "reset_in": 120},
    api_base_of=lambda sb: sb.x_api_base,
)

FACEBOOK_KIT = Kit(
    name="facebook",
    credentials={"page_access_token": DEMO_PAGE.access_token},
    options={"page_id": DEMO_PAGE.page_id, "graph_version": "v21.0"},
    account=DEMO_PAGE.page_id,
    create={"platform": "facebook", "method": "POST", "path": "/feed"},
    read={"platform": "facebook", "method": "GET", "path": "/me"},
    metrics_batch=50,
    is_metrics_call=lambda r: r.method == "POST" and r.path.rstrip("/").count("/") == 1,
    too_long_text="Thông báo " + "a" * 63206,
    # Graph counts every call per Page: a publish is a create and a read, so the 3rd call fails.
    limit=("facebook:calls", 2),
    rate_limit_with_reset={"action": "rate_limit", "code": 80001, "reset_in": 120},
    api_base_of=lambda sb: sb.graph_api_base,
)

TELEGRAM_KIT = Kit(
    name="telegram",
    credentials={"bot_token": DEMO_TELEGRAM_BOT.token},
    options={"chat": "@" + DEMO_TELEGRAM_BOT.chat_username},
    account=DEMO_TELEGRAM_BOT.bot_id,
    create={"platform": "telegram", "method": "POST", "path": "/sendMessage"},
    read={"platform": "telegram", "method": "POST", "path": "/getMe"},
    metrics_batch=1,
    is_metrics_call=lambda r: False,
    too_long_text="Thông báo " + "a" * 4096,
    limit=("telegram:send", 1),
    rate_limit_with_reset={"action": "rate_limit", "reset_in": 120},
    api_base_of=lambda sb: sb.telegram_api_base,
    rejects_duplicates=False,
    reads_back=False,
    has_metrics=False,
)

MASTODON_KIT = Kit(
    name="mastodon",
    credentials={"access_token": DEMO_MASTODON_ACCOUNT.access_token},
    options={},
    account=DEMO_MASTODON_ACCOUNT.account_id,
    create={"platform": "mastodon", "method": "POST", "path": "/api/v1/statuses"},
    read={"platform": "mastodon", "method": "GET", "path": "/verify_credentials"},
    metrics_batch=1,  # one GET /api/v1/statuses/:id per status
    is_metrics_call=lambda r: r.method == "GET" and r.path.startswith("/api/v1/statuses/"),
    too_long_text="Thông báo " + "a" * 500,
    limit=("mastodon:calls", 1),
    rate_limit_with_reset={"action": "rate_limit", "reset_in": 120},
    api_base_of=lambda sb: sb.mastodon_api_base,
    rejects_duplicates=False,
)

ZALO_KIT = Kit(
    name="zalo",
    credentials={
        "app_secret": DEMO_ZALO_OA.app_secret,
        "refresh_token": DEMO_ZALO_OA.refresh_token,
    },
    options={
        "oa_id": DEMO_ZALO_OA.oa_id,
        "app_id": DEMO_ZALO_OA.app_id,
        "cover_url": "https://moh.gov.vn/static/cover.jpg",
    },
    account=DEMO_ZALO_OA.oa_id,
    create={"platform": "zalo", "method": "POST", "path": "/v2.0/article/create"},
    read={"platform": "zalo", "method": "GET", "path": "/v2.0/oa/getoa"},
    metrics_batch=10,  # articles per getslice page
    is_metrics_call=lambda r: r.path == "/v2.0/article/getslice",
    too_long_text="Thông báo " + "a" * 300,
    # Every OA API call counts: a publish is create, 3 verifies (2 "processing"), a detail read.
    limit=("zalo:calls", 5),
    rate_limit_with_reset={
        "action": "respond",
        **{
            k: v
            for k, v in json.loads(
                (FIXTURES / "zalo" / "rate_limited_with_reset.json").read_text(encoding="utf-8")
            ).items()
            if not k.startswith("_")
        },
    },
    api_base_of=lambda sb: sb.zalo_api_base,
    rejects_duplicates=False,
    metric_names=frozenset({"views", "shares"}),
    metrics_by_listing=True,
)

KITS = {kit.name: kit for kit in (X_KIT, FACEBOOK_KIT, TELEGRAM_KIT, MASTODON_KIT, ZALO_KIT)}


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> Kit:
    """Each platform in turn."""
    return KITS[request.param]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox on a free port."""
    with Sandbox.start(port=0) as sb:
        yield sb


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A local port whose accept queue is full: a new connection's SYN is dropped, so the
    connect times out (an unroutable address would not do: some sandboxes intercept it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port: int = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, server]:
        sock.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
