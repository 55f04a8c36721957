"""What the sandbox remembers: accounts, accepted posts, the request log, faults, limits, clock.

One lock guards everything; the HTTP handlers and the Python API both go through here.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from crosspost.sandbox.faults import Fault

X_EPOCH_MS = 1288834974657
"""X ids are (ms since this epoch) << 22, so the id carries the creation time."""

TOKEN_MARK = os.environ.get("CROSSPOST_SANDBOX_TOKEN_MARK", "")
"""Appended to every demo credential. The test suite puts a canary here and proves, after the
whole session, that no credential reached a log, a database, an output or a request body."""


@dataclass
class XAccount:
    """An X user the sandbox knows, with its four OAuth 1.0a values."""

    user_id: str
    username: str
    name: str
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    revoked: bool = False


@dataclass
class GraphPage:
    """A Facebook Page the sandbox knows, with its Page access token."""

    page_id: str
    name: str
    access_token: str
    revoked: bool = False


DEMO_X_ACCOUNT = XAccount(
    user_id="1790000000000000001",
    username="congthongtin_demo",
    name="Cổng thông tin điện tử (demo)",
    consumer_key="sandbox-x-consumer-key" + TOKEN_MARK,
    consumer_secret="sandbox-x-consumer-secret" + TOKEN_MARK,  # fake, sandbox only
    access_token="1790000000000000001-sandbox-access-token" + TOKEN_MARK,  # fake, sandbox only
    access_token_secret="sandbox-x-access-token-secret" + TOKEN_MARK,  # fake, sandbox only
)
"""The X account every sandbox starts with."""

DEMO_PAGE = GraphPage(
    page_id="100000000000001",
    name="Cổng thông tin điện tử (demo)",
    access_token="sandbox-page-access-token" + TOKEN_MARK,  # fake, sandbox only
)
"""The Facebook Page every sandbox starts with."""


@dataclass
class TelegramBot:
    """A Telegram bot the sandbox knows, admin of one channel (`chat_*`)."""

    bot_id: str
    username: str
    first_name: str
    token: str
    chat_id: str
    chat_username: str
    chat_title: str
    revoked: bool = False


@dataclass
class MastodonAccount:
    """A Mastodon account on the sandbox's instance, with its OAuth access token."""

    account_id: str
    username: str
    display_name: str
    access_token: str
    domain: str = "social.example.gov"
    revoked: bool = False


@dataclass
class ZaloOA:
    """A Zalo Official Account and the app authorised on it.

    `refresh_token` is the one refresh token that works now: each refresh spends it and issues
    another (single use). `access_tokens` maps issued access tokens to their expiry (sandbox
    time); every refresh adds one, older ones stay valid until they expire, as on Zalo.
    """

    oa_id: str
    name: str
    app_id: str
    app_secret: str
    refresh_token: str
    access_tokens: dict[str, float] = field(default_factory=dict)
    revoked: bool = False
    token_prefix: str = "zalo"  # noqa: S105 - a label, not a secret
    """Tokens the sandbox issues start with this (tests put a canary in it)."""


DEMO_TELEGRAM_BOT = TelegramBot(
    bot_id="7000000001",
    username="congthongtin_demo_bot",
    first_name="Cổng thông tin (demo bot)",
    token="7000000001:sandbox-telegram-bot-token" + TOKEN_MARK,  # fake, sandbox only
    chat_id="-1001000000001",
    chat_username="congthongtin_demo",
    chat_title="Cổng thông tin điện tử (demo)",
)
"""The Telegram bot (and its channel) every sandbox starts with."""

DEMO_MASTODON_ACCOUNT = MastodonAccount(
    account_id="110000000000000001",
    username="congthongtin",
    display_name="Cổng thông tin điện tử (demo)",
    access_token="sandbox-mastodon-access-token" + TOKEN_MARK,  # fake, sandbox only
)
"""The Mastodon account every sandbox starts with."""

DEMO_ZALO_OA = ZaloOA(
    oa_id="2000000000000000001",
    name="Cổng thông tin điện tử (demo OA)",
    app_id="3000000000000000001",
    app_secret="sandbox-zalo-app-secret" + TOKEN_MARK,  # fake, sandbox only
    refresh_token="sandbox-zalo-refresh-token" + TOKEN_MARK,  # fake, sandbox only
    token_prefix="zalo" + TOKEN_MARK,  # the tokens it issues carry the canary too
)
"""The Zalo OA every sandbox starts with; its refresh token is the first of a rotating chain."""

DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "x:create": (100, 900.0),
    "x:read": (900, 900.0),
    "facebook:calls": (4800, 3600.0),
    "telegram:send": (20, 60.0),
    "mastodon:calls": (300, 300.0),
    "zalo:calls": (2000, 3600.0),
}
"""Per-account limits as (calls, window seconds): X per 15 minutes, Graph per hour, Telegram
20 messages a minute per channel, Mastodon 300 API calls per 5 minutes."""


@dataclass
class Post:
    """A post the sandbox accepted."""

    platform: str
    account: str
    id: str
    text: str
    link: str | None
    created_at: datetime
    deleted: bool = False
    title: str | None = None
    """Zalo articles: the title (the text is the description)."""
    broadcasts: int = 0
    """Zalo articles: how many times it was sent to the OA's followers."""
    cover: str | None = None
    """Zalo articles: the cover photo's URL."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the time in ISO 8601."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass
class RequestRecord:
    """One platform call as the sandbox saw it (tokens never recorded)."""

    platform: str
    method: str
    path: str
    query: dict[str, str]
    at: float
    body: str = ""
    """The request body as text, form fields carrying credentials removed."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def engagement(age_seconds: float) -> dict[str, int]:
    """Numbers that grow with a post's age, the same for every run: tests can assert growth."""
    age = max(0, int(age_seconds))
    return {
        "likes": age // 60,
        "shares": age // 300,
        "comments": age // 600,
        "quotes": age // 1800,
        "bookmarks": age // 900,
        "impressions": age // 2,
    }


@dataclass
class SandboxState:
    """Everything the fake platforms know. Use `lock()` around multi-step changes."""

    x_accounts: list[XAccount] = field(default_factory=lambda: [replace(DEMO_X_ACCOUNT)])
    pages: list[GraphPage] = field(default_factory=lambda: [replace(DEMO_PAGE)])
    telegram_bots: list[TelegramBot] = field(default_factory=lambda: [replace(DEMO_TELEGRAM_BOT)])
    mastodon_accounts: list[MastodonAccount] = field(
        default_factory=lambda: [replace(DEMO_MASTODON_ACCOUNT)]
    )
    zalo_oas: list[ZaloOA] = field(
        default_factory=lambda: [replace(DEMO_ZALO_OA, access_tokens={})]
    )
    zalo_processing: dict[str, list[Any]] = field(default_factory=dict)
    """Zalo create tokens → [article id, verify calls left answering -214]."""
    zalo_processing_polls: int = 2
    """How many verify calls answer "being processed" before the article id (POST
    /_sandbox/zalo {"processing_polls": n})."""
    idempotency: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    """Mastodon's Idempotency-Key memory: (account id, key) → (status id, when)."""
    posts: list[Post] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    clock_offset: float = 0.0
    _calls: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    _seq: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the state lock."""
        with self._lock:
            yield

    def now(self) -> float:
        """Sandbox time: wall clock plus whatever `advance` added."""
        return time.time() + self.clock_offset

    def now_dt(self) -> datetime:
        """Sandbox time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward (engagement grows, rate windows pass)."""
        with self._lock:
            self.clock_offset += seconds

    def reset(self) -> None:
        """Forget posts, requests, faults, call counts, clock and revocations."""
        with self._lock:
            self.posts.clear()
            self.requests.clear()
            self.faults.clear()
            self._calls.clear()
            self.idempotency.clear()
            self.zalo_processing.clear()
            self.clock_offset = 0.0
            self.limits = dict(DEFAULT_LIMITS)
            for account in self.x_accounts:
                account.revoked = False
            for page in self.pages:
                page.revoked = False
            for bot in self.telegram_bots:
                bot.revoked = False
            for masto in self.mastodon_accounts:
                masto.revoked = False
            for oa in self.zalo_oas:
                oa.revoked = False

    def next_x_id(self) -> str:
        """A fresh X-style id whose top bits encode the sandbox time."""
        with self._lock:
            self._seq += 1
            millis = int(self.now() * 1000) - X_EPOCH_MS
            return str((millis << 22) | (self._seq & 0x3FFFFF))

    def next_seq(self) -> int:
        """A fresh sequence number (Graph post ids)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def add_post(self, post: Post) -> Post:
        """Record an accepted post."""
        with self._lock:
            self.posts.append(post)
        return post

    def find_post(self, platform: str, post_id: str) -> Post | None:
        """A live (not deleted) post by id."""
        with self._lock:
            for post in self.posts:
                if post.platform == platform and post.id == post_id and not post.deleted:
                    return post
        return None

    def live_posts(self, platform: str, account: str) -> list[Post]:
        """The account's live posts, newest first."""
        with self._lock:
            mine = [
                p
                for p in self.posts
                if p.platform == platform and p.account == account and not p.deleted
            ]
        return sorted(mine, key=lambda p: (p.created_at, p.id), reverse=True)

    def log_request(self, record: RequestRecord) -> None:
        """Append to the request log."""
        with self._lock:
            self.requests.append(record)

    def take_fault(self, platform: str, method: str, path: str) -> Fault | None:
        """The first fault matching this call, with one use consumed."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(platform, method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def over_limit(self, key: str, account: str) -> float | None:
        """Count one call against `key` for `account`; seconds until reset when over the limit."""
        limit, window = self.limits.get(key, (0, 0.0))
        if limit <= 0:
            return None
        now = self.now()
        with self._lock:
            calls = [t for t in self._calls[(key, account)] if t > now - window]
            if len(calls) >= limit:
                self._calls[(key, account)] = calls
                return max(1.0, calls[0] + window - now)
            calls.append(now)
            self._calls[(key, account)] = calls
        return None

    def usage(self, key: str, account: str) -> tuple[int, int, float]:
        """(limit, remaining, reset epoch) for the rate-limit headers."""
        limit, window = self.limits.get(key, (0, 0.0))
        now = self.now()
        with self._lock:
            calls = [t for t in self._calls.get((key, account), []) if t > now - window]
        reset = (calls[0] + window) if calls else now + window
        return limit, max(0, limit - len(calls)), reset
