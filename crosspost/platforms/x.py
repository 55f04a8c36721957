"""X (Twitter) through tweepy's v2 `Client`, OAuth 1.0a user context.

tweepy sends no timeout, hard-codes its host and, with ``wait_on_rate_limit=True``, loops on a
429 without a reset header; so the client is built with ``wait_on_rate_limit=False`` and
``return_type=dict`` behind a `PlatformTransport`, and this module reads the rate-limit
headers itself. Every tweepy/requests failure is mapped into `crosspost.errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from crosspost.errors import (
    CredentialsInvalid,
    Duplicate,
    OutcomeUnknown,
    PermissionDenied,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
    TooLong,
)
from crosspost.platforms.base import (
    AccountInfo,
    ChannelConnection,
    MetricsResult,
    OutgoingPost,
    PublishedPost,
    one_line,
    same_link,
)
from crosspost.platforms.base import text_fingerprint as fingerprint_of
from crosspost.platforms.http import PlatformTransport, RequestNotSent, mount_transport
from crosspost.platforms.registry import PLATFORMS

PLATFORM = "x"
"""The platform name used in configuration and errors."""

PUBLIC_ORIGINS = ("https://api.twitter.com", "https://api.x.com")
"""Origins tweepy sends to (4.17 uses api.twitter.com; newer releases may use api.x.com)."""

DEFAULT_API_BASE = PLATFORMS["x"].default_api_base
"""Where a channel without `api_base` goes."""

CREDENTIAL_NAMES = PLATFORMS["x"].credential_names
"""The OAuth 1.0a user-context credentials a channel needs."""

DEFAULT_RATE_LIMIT_BACKOFF = 60.0
"""Seconds to wait after a 429 without `x-rate-limit-reset`: long enough not to hammer the API,
short enough not to idle a whole 15-minute window on a stray 429."""

LOOKUP_BATCH = 100
"""`GET /2/tweets` takes at most 100 ids."""

TIMELINE_PAGES = 5
"""Pages of 100 read from the account's timeline when reconciling; older posts are not at stake."""

_SNOWFLAKE_EPOCH_MS = 1288834974657

log = logging.getLogger(__name__)


class _DropSigningDetail(logging.Filter):
    """Drops oauthlib / requests-oauthlib DEBUG records: they print the OAuth header with the
    consumer key and access token, which our logs must not carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


for _name in ("oauthlib.oauth1.rfc5849", "requests_oauthlib.oauth1_auth"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _DropSigningDetail) for f in _logger.filters):
        _logger.addFilter(_DropSigningDetail())


def build_x_publisher(connection: ChannelConnection) -> XPublisher:
    """A publisher for one X account, its tweepy client routed through a PlatformTransport."""
    client = tweepy.Client(
        consumer_key=connection.credential("consumer_key").reveal(),
        consumer_secret=connection.credential("consumer_secret").reveal(),
        access_token=connection.credential("access_token").reveal(),
        access_token_secret=connection.credential("access_token_secret").reveal(),
        return_type=dict,
        wait_on_rate_limit=False,
    )
    transport = PlatformTransport(
        public_origins=PUBLIC_ORIGINS,
        api_base=connection.api_base or DEFAULT_API_BASE,
        timeout=(connection.connect_timeout_seconds, connection.timeout_seconds),
    )
    mount_transport(client.session, transport)
    return XPublisher(client)


class XPublisher:
    """One X account. `client` is a tweepy.Client built with ``return_type=dict``."""

    platform = PLATFORM

    def __init__(self, client: Any) -> None:
        self._client = client
        self._user_id: str | None = None

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """Create a post; X has no link field, so a link missing from the text is appended."""
        text = post.text
        if post.link and post.link not in text:
            text = f"{text}\n{post.link}"
        with _mapped("create a post", creating=True):
            body = self._client.create_tweet(text=text, user_auth=True)
        post_id = str((_data(body) or {}).get("id") or "")
        if not post_id:
            # A 2xx without an id: X may well have created it.
            raise OutcomeUnknown("x: the answer to create a post had no post id", platform=PLATFORM)
        return PublishedPost(
            post_id=post_id,
            url=f"https://x.com/i/web/status/{post_id}",
            published_at=_snowflake_time(post_id),
            text=text,
            link=post.link,
        )

    def delete(self, post_id: str) -> None:
        """Delete a post; 404 means it is already gone, which is what we wanted."""
        try:
            with _mapped("delete a post", creating=False):
                self._client.delete_tweet(post_id, user_auth=True)
        except Rejected as exc:
            if exc.code != "404":
                raise

    def check_credentials(self) -> AccountInfo:
        """`GET /2/users/me`: who the tokens act as."""
        with _mapped("check credentials", creating=False):
            body = self._client.get_me(user_auth=True, user_fields=["username", "name"])
        user = _data(body) or {}
        self._user_id = str(user.get("id", ""))
        return AccountInfo(
            account_id=self._user_id,
            name=str(user.get("name", "")),
            username=user.get("username"),
        )

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """Posts on the account's timeline since `since` whose expanded links include `link`
        or whose text has the given fingerprint (X rewrites links to t.co in the text)."""
        if self._user_id is None:
            self.check_credentials()
        found: list[PublishedPost] = []
        token: str | None = None
        for _ in range(TIMELINE_PAGES):
            with _mapped("read the account's posts", creating=False):
                body = self._client.get_users_tweets(
                    self._user_id,
                    user_auth=True,
                    start_time=since,
                    max_results=100,
                    tweet_fields=["created_at", "entities"],
                    pagination_token=token,
                )
            for tweet in _data(body) or []:
                match = _tweet_matches(tweet, link, text_fingerprint)
                if match is not None:
                    found.append(match)
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
        return found

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """Public metrics via `GET /2/tweets`, 100 ids per call."""
        metrics: dict[str, dict[str, int]] = {}
        deleted: set[str] = set()
        unavailable: set[str] = set()
        ids = list(dict.fromkeys(post_ids))
        for start in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[start : start + LOOKUP_BATCH]
            with _mapped("read metrics", creating=False):
                body = self._client.get_tweets(
                    chunk, user_auth=True, tweet_fields=["public_metrics"]
                )
            for tweet in _data(body) or []:
                metrics[str(tweet["id"])] = _normalise(tweet.get("public_metrics") or {})
            for error in body.get("errors") or []:
                missing = str(error.get("resource_id") or error.get("value") or "")
                if str(error.get("type", "")).endswith("/resource-not-found"):
                    deleted.add(missing)
                elif missing:
                    unavailable.add(missing)
        for post_id in ids:
            if post_id not in metrics and post_id not in deleted:
                unavailable.add(post_id)
        return MetricsResult(metrics, frozenset(deleted), frozenset(unavailable - deleted))


def _data(body: Any) -> Any:
    return body.get("data") if isinstance(body, Mapping) else None


def _normalise(public: Mapping[str, Any]) -> dict[str, int]:
    out = {
        "likes": int(public.get("like_count", 0)),
        "shares": int(public.get("retweet_count", 0)),
        "comments": int(public.get("reply_count", 0)),
    }
    for key, name in (
        ("quote_count", "quotes"),
        ("bookmark_count", "bookmarks"),
        ("impression_count", "impressions"),
    ):
        if key in public:
            out[name] = int(public[key])
    return out


def _tweet_matches(
    tweet: Mapping[str, Any], link: str, fingerprint: str | None
) -> PublishedPost | None:
    urls = [u.get("expanded_url", "") for u in (tweet.get("entities") or {}).get("urls", [])]
    text = str(tweet.get("text", ""))
    # An empty link is in every text: it must match nothing, never every post.
    by_link = bool(link.strip()) and (
        any(same_link(url, link) for url in urls if url) or link in text
    )
    by_text = fingerprint is not None and fingerprint_of(text) == fingerprint
    if not (by_link or by_text):
        return None
    post_id = str(tweet["id"])
    created = tweet.get("created_at")
    return PublishedPost(
        post_id=post_id,
        url=f"https://x.com/i/web/status/{post_id}",
        published_at=_parse_time(created) if created else _snowflake_time(post_id),
        text=text,
        link=link if by_link else None,
    )


def _snowflake_time(post_id: str) -> datetime:
    """X ids carry their creation time (ms since the X epoch in the top bits)."""
    try:
        millis = (int(post_id) >> 22) + _SNOWFLAKE_EPOCH_MS
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(tz=UTC)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@contextmanager
def _mapped(action: str, *, creating: bool) -> Iterator[None]:
    """Turn whatever tweepy/requests raise into the crosspost error tree.

    `creating` decides the ambiguous cases: a lost answer or a 5xx on a create may have
    published the post (OutcomeUnknown); on a read it is just RetryLater.
    """
    try:
        yield
    except tweepy.HTTPException as exc:
        raise _from_http(exc, action, creating=creating) from None
    except RequestNotSent as exc:
        raise RetryLater(f"x: could not {action}: {exc}", platform=PLATFORM) from None
    except (requests.RequestException, ValueError) as exc:
        # AnswerLost, a body cut short, a 2xx that is not JSON: the request was sent.
        message = f"x: could not {action}: {type(exc).__name__}: {one_line(str(exc))}"
        if creating:
            raise OutcomeUnknown(message, platform=PLATFORM) from None
        raise RetryLater(message, platform=PLATFORM) from None


def _from_http(exc: tweepy.HTTPException, action: str, *, creating: bool) -> PublishError:
    response = exc.response
    status = int(response.status_code)
    said = "; ".join(str(m) for m in exc.api_messages) or str(response.reason or "")
    message = f"x: could not {action}: HTTP {status}: {one_line(said)}"
    lowered = said.lower()
    code = str(status)
    if status == 429:
        return RateLimited(
            message, platform=PLATFORM, code=code, retry_after=_retry_after(response.headers)
        )
    if status == 401:
        return CredentialsInvalid(message, platform=PLATFORM, code=code)
    if status in (400, 403) and "too long" in lowered:
        return TooLong(message, platform=PLATFORM, code=code)
    if status == 403 and "duplicate" in lowered:
        return Duplicate(message, platform=PLATFORM, code=code)
    if status == 403:
        return PermissionDenied(message, platform=PLATFORM, code=code)
    if status >= 500:
        if creating:
            return OutcomeUnknown(message, platform=PLATFORM, code=code)
        return RetryLater(message, platform=PLATFORM, code=code)
    return Rejected(message, platform=PLATFORM, code=code)


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds until the limit resets: the 24-hour cap when it is exhausted, else the window."""
    now = time.time()
    if headers.get("x-user-limit-24hour-remaining") == "0":
        reset = headers.get("x-user-limit-24hour-reset")
    else:
        reset = headers.get("x-rate-limit-reset")
    try:
        return max(1.0, float(reset) - now) if reset else DEFAULT_RATE_LIMIT_BACKOFF
    except ValueError:
        return DEFAULT_RATE_LIMIT_BACKOFF
