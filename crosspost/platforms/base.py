"""The small interface every platform adapter implements, and the plain values it speaks in.

The engine only sees `Publisher` and these frozen dataclasses; which SDK sits behind an adapter
is the adapter's business. Every failure an adapter raises is a `crosspost.errors.PublishError`
subclass, so the engine can decide "retry later", "give up" or "reconcile first" without
knowing the platform.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS = 20.0
"""Read timeout for one platform call when the channel does not say otherwise."""

DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
"""Connect timeout: a platform that cannot accept a TCP connection in 5 s is down."""


class Secret:
    """A credential value that never shows itself in repr(), str() or f-strings.

    Call `reveal()` at the one place the value must go on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself; keep it out of messages and logs."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, format_spec: str) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self  # immutable: copies may share it

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the value into job payloads and caches; refuse loudly.
        raise TypeError("Secret values are not picklable")


@dataclass(frozen=True)
class ChannelConnection:
    """How to reach one account on one platform.

    `api_base` of None means the platform's public host (see the registry); set it to point the
    channel at the sandbox or an outbound gateway, e.g. ``http://127.0.0.1:8700/x``.
    `options` holds platform settings (Facebook: ``page_id``, ``graph_version`` such as
    ``"v21.0"``); `credentials` maps a credential name to its `Secret`, resolved by the caller
    from environment variables.
    """

    platform: str
    credentials: Mapping[str, Secret] = field(default_factory=dict)
    api_base: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    options: Mapping[str, str] = field(default_factory=dict)
    token_store: TokenStore | None = field(default=None, compare=False)
    """Where a platform with rotating OAuth tokens (Zalo) keeps the tokens it was issued; the
    engine passes one backed by the database, so every worker sees the latest rotation."""

    def credential(self, name: str) -> Secret:
        """The credential called `name`; ConfigError names the missing one (never a value)."""
        from crosspost.errors import ConfigError

        secret = self.credentials.get(name)
        if secret is None or not secret:
            raise ConfigError(f"{self.platform} channel: credential {name!r} is not set")
        return secret

    def option(self, name: str) -> str:
        """The platform option called `name`; ConfigError when it is missing."""
        from crosspost.errors import ConfigError

        value = self.options.get(name, "")
        if not value:
            raise ConfigError(f"{self.platform} channel: option {name!r} is not set")
        return value


@dataclass(frozen=True)
class OutgoingPost:
    """What to publish: the final text and, separately, the article link.

    Platforms with a link field (Facebook) send `link` there; platforms without one (X) expect
    the composer to have put it in `text` already and append it only when it is missing.
    """

    text: str
    link: str | None = None
    idempotency_key: str | None = None
    """Stable for one delivery across retries; platforms that honour one (Mastodon's
    Idempotency-Key) return the original post for a repeated request instead of a second."""
    title: str | None = None
    """The article's title, for platforms whose posts have one (a Zalo OA article); the
    adapter fits it to the platform's limit."""
    image_url: str | None = None
    """The article's picture, for platforms that show one (a Zalo OA article's cover)."""


@dataclass(frozen=True)
class PublishedPost:
    """A post as it exists on the platform.

    `published_at` is the platform's timestamp when the platform gives one (X post ids encode
    it; Graph answers `created_time`), otherwise the local time the answer arrived.
    """

    post_id: str
    url: str
    published_at: datetime
    text: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class IssuedTokens:
    """An OAuth access token and the single-use refresh token issued with it.

    `seeded_from` is a digest of the refresh token the officer configured (the environment
    variable): when the officer authorises again and sets a new one, the stored chain is
    replaced by it.
    """

    access_token: Secret
    refresh_token: Secret
    access_expires_at: datetime
    refresh_expires_at: datetime
    seeded_from: str


class TokenStore(Protocol):
    """Keeps one channel's `IssuedTokens` between calls, processes and restarts."""

    def load(self) -> IssuedTokens | None:
        """The tokens last stored, or None."""
        ...

    def rotate(
        self, refresh: Callable[[IssuedTokens | None], IssuedTokens | None]
    ) -> IssuedTokens | None:
        """Call `refresh` with the stored tokens while no other process can rotate them, and
        store what it returns (None: keep the stored ones, someone else just refreshed them).
        Returns the tokens now stored."""
        ...


class MemoryTokenStore:
    """A `TokenStore` in this process's memory: for tests and one-off checks only, since a
    rotation it saw is lost when the process ends (the refresh token it replaced is spent)."""

    def __init__(self) -> None:
        self._tokens: IssuedTokens | None = None
        self._lock = threading.Lock()

    def load(self) -> IssuedTokens | None:
        return self._tokens

    def rotate(
        self, refresh: Callable[[IssuedTokens | None], IssuedTokens | None]
    ) -> IssuedTokens | None:
        with self._lock:
            new = refresh(self._tokens)
            if new is not None:
                self._tokens = new
            return self._tokens


def secret_digest(secret: Secret) -> str:
    """A SHA-256 digest of a secret, to recognise it later without storing it."""
    return hashlib.sha256(secret.reveal().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AccountInfo:
    """Who the credentials act as; `check_credentials` returns it."""

    account_id: str
    name: str
    username: str | None = None


@dataclass(frozen=True)
class MetricsResult:
    """Engagement numbers for many posts from one `fetch_metrics` call.

    `metrics[post_id]` has the numbers the platform gives: ``likes``, ``shares`` and
    ``comments`` where it has them, plus platform extras (X: ``quotes``, ``bookmarks``,
    ``impressions``; Zalo has only ``views`` and ``shares``). A number a platform does not give
    is absent, never zero, so reports can say "not available". A post the platform says no
    longer exists is in `deleted`, not in `metrics`; one it would not show (protected, no
    permission, a per-item error) is in `unavailable`.
    """

    metrics: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    deleted: frozenset[str] = frozenset()
    unavailable: frozenset[str] = frozenset()


@runtime_checkable
class Publisher(Protocol):
    """One account on one platform. Every method raises only PublishError subclasses."""

    platform: str

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """Create the post. OutcomeUnknown means it may exist: reconcile before retrying."""
        ...

    def delete(self, post_id: str) -> None:
        """Delete a post; a post that is already gone is not an error."""
        ...

    def check_credentials(self) -> AccountInfo:
        """Verify the credentials with one read-only call; posts nothing."""
        ...

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """Posts on the account since `since` that carry `link` or match the fingerprint.

        Used to settle an OutcomeUnknown: if the post is found, it was published.
        """
        ...

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """Engagement for many posts in as few calls as the platform allows."""
        ...


_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def text_fingerprint(text: str) -> str:
    """A short, stable digest of a post's words, for matching a post read back from a platform.

    Platforms rewrite links (X turns them into t.co) and whitespace, so the digest ignores
    URLs, case and spacing: NFC, drop URLs, casefold, collapse whitespace, SHA-256, 16 hex.
    """
    normal = unicodedata.normalize("NFC", text)
    normal = _URL.sub(" ", normal).casefold()
    normal = " ".join(normal.split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def same_link(a: str, b: str) -> bool:
    """Whether two links point at the same article, ignoring scheme case and a trailing slash."""

    def norm(url: str) -> tuple[str, str, str, str]:
        parts = urlsplit(url.strip())
        return (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query)

    return norm(a) == norm(b)


def one_line(text: str, limit: int = 300) -> str:
    """A platform's text as one bounded line, fit for exception messages and logs."""
    return " ".join(text.split())[:limit]
