"""Zalo Official Accounts through the Zalo OA Open API (plain `requests`; Zalo has no Python SDK).

A post is an OA *article* (title ≤ 150, description ≤ 300 characters, a cover photo, a body),
published in two steps: ``article/create`` answers a processing token, ``article/verify`` turns
it into the article id once Zalo has processed it (until then it answers -214 "being
processed": polled with backoff, never re-created). A channel with ``broadcast`` on then sends
the article to the OA's followers (``oa/message``), which Zalo refuses at night.

Zalo specifics this adapter handles (the tokens in `zalo_auth`, the error codes in
`zalo_errors`):

* errors come in the JSON body, mostly with HTTP 200: ``{"error": -216, "message": …}``;
* access tokens live ~25 hours and the refresh token is single-use: every refresh returns a new
  one (valid ~3 months). Tokens are kept in the channel's `TokenStore` (the engine's is the
  database, encrypted), refreshed ahead of expiry under the store's lock so two workers never
  spend the same refresh token, and refreshed once more when Zalo calls the access token
  invalid (-216) or expired (-220);
* no idempotency: an ambiguous create is settled by reading the OA's article list.

Facts not confirmed against Zalo's own documentation (platform_contracts.md §3: third-party
sources) are options with the believed defaults: ``verify_timeout``, ``broadcast_hours``,
``refresh_days``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any

import requests

from crosspost.domain.compose import ZALO_RULES, ZALO_TITLE_LIMIT
from crosspost.domain.slots import into_hours
from crosspost.domain.text import truncate_words
from crosspost.errors import (
    ConfigError,
    CredentialsInvalid,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
    TooLong,
)
from crosspost.platforms.base import (
    AccountInfo,
    ChannelConnection,
    MemoryTokenStore,
    MetricsResult,
    OutgoingPost,
    PublishedPost,
    Secret,
    TokenStore,
    one_line,
    same_link,
)
from crosspost.platforms.base import (
    text_fingerprint as fingerprint_of,
)
from crosspost.platforms.http import PlatformTransport, RequestNotSent, mount_transport
from crosspost.platforms.registry import PLATFORMS
from crosspost.platforms.zalo_auth import DEFAULT_OAUTH_BASE, DEFAULT_REFRESH_DAYS, ZaloTokens
from crosspost.platforms.zalo_errors import (
    DEFAULT_RATE_LIMIT_BACKOFF,
    EXPIRED_TOKEN,
    PLATFORM,
    VIETNAM,
    error_for,
    json_body,
    retry_after,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BROADCAST_HOURS",
    "DEFAULT_RATE_LIMIT_BACKOFF",
    "PLATFORM",
    "ZaloPublisher",
    "build_zalo_publisher",
    "parse_hours",
    "seconds_until_allowed",
]

DEFAULT_API_BASE = PLATFORMS["zalo"].default_api_base

DEFAULT_VERIFY_TIMEOUT = 60.0
"""Seconds to keep asking ``article/verify`` before the outcome is left to reconciliation; with
the other calls of a publish it stays well inside a delivery job's 120 s
(`crosspost.queue.rq_queue.DELIVERY_TIMEOUT`)."""
DEFAULT_BROADCAST_HOURS = "06:00-22:00"
"""When Zalo accepts broadcasts (-234 outside), Asia/Ho_Chi_Minh; option ``broadcast_hours``."""
SLICE_PAGE = 10
"""Articles per ``article/getslice`` page (Zalo's maximum, per third-party SDKs)."""


def build_zalo_publisher(connection: ChannelConnection) -> ZaloPublisher:
    """A publisher for one OA, its session routed through a PlatformTransport."""
    session = requests.Session()
    base = (connection.api_base or DEFAULT_API_BASE).rstrip("/")
    mount_transport(
        session,
        PlatformTransport(
            public_origins=(),
            api_base=None,
            timeout=(connection.connect_timeout_seconds, connection.timeout_seconds),
        ),
        url=base,
    )
    oauth = base if connection.api_base else DEFAULT_OAUTH_BASE
    options = connection.options
    return ZaloPublisher(
        session,
        api_base=base,
        oauth_base=oauth,
        oa_id=connection.option("oa_id"),
        app_id=connection.option("app_id"),
        app_secret=connection.credential("app_secret"),
        refresh_seed=connection.credential("refresh_token"),
        store=connection.token_store or MemoryTokenStore(),
        cover_url=options.get("cover_url") or None,
        broadcast=options.get("broadcast", "") in ("on", "true", "yes", "1"),
        broadcast_hours=parse_hours(options.get("broadcast_hours") or DEFAULT_BROADCAST_HOURS),
        verify_timeout=_float_option(options, "verify_timeout", DEFAULT_VERIFY_TIMEOUT),
        refresh_days=int(_float_option(options, "refresh_days", DEFAULT_REFRESH_DAYS)),
    )


class ZaloPublisher:
    """One Zalo Official Account."""

    platform = PLATFORM

    def __init__(
        self,
        session: requests.Session,
        *,
        api_base: str,
        oauth_base: str,
        oa_id: str,
        app_id: str,
        app_secret: Secret,
        refresh_seed: Secret,
        store: TokenStore,
        cover_url: str | None = None,
        broadcast: bool = False,
        broadcast_hours: tuple[clock_time, clock_time] = (clock_time(6), clock_time(22)),
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
        refresh_days: int = DEFAULT_REFRESH_DAYS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._api_base = api_base
        self._oa_id = oa_id
        self._tokens = ZaloTokens(
            session,
            oauth_base=oauth_base,
            app_id=app_id,
            app_secret=app_secret,
            refresh_seed=refresh_seed,
            store=store,
            clock=clock,
            refresh_days=refresh_days,
        )
        self._cover_url = cover_url
        self._broadcast = broadcast
        self._hours = broadcast_hours
        self._verify_timeout = verify_timeout
        self._clock = clock
        self._sleep = sleep

    # --- Publisher ---------------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """Create the article, wait for Zalo to process it, broadcast it if the channel says so.

        `post.text` is the description (≤ 300); the title comes from `post.title` (or the
        text's first words), cut at a word to 150; the cover is the article's picture, else
        the channel's `cover_url`. Broadcast channels wait for the allowed
        hours *before* creating anything, so a night-time delivery is simply sent at 06:00.
        """
        description = " ".join(post.text.split())
        if len(description) > ZALO_RULES.limit:
            raise TooLong(
                f"zalo: the description has {len(description)} characters "
                f"(limit {ZALO_RULES.limit})",
                platform=PLATFORM,
                code="-210",
            )
        title = truncate_words(" ".join((post.title or description).split()), ZALO_TITLE_LIMIT)
        cover = post.image_url or self._cover_url
        if not cover:
            raise Rejected(
                "zalo: an OA article needs a cover photo and this article's feed gave none: "
                "give the channel a default one with --cover-url",
                platform=PLATFORM,
                code="-201",
            )
        if self._broadcast:
            wait = seconds_until_allowed(self._clock(), self._hours)
            if wait > 0:
                opens = self._hours[0].strftime("%H:%M")
                closes = self._hours[1].strftime("%H:%M")
                raise RateLimited(
                    f"zalo: broadcasts are refused between {closes} and {opens} "
                    f"(Asia/Ho_Chi_Minh); sending at {opens}",
                    platform=PLATFORM,
                    code="-234",
                    retry_after=wait,
                )
        published_at = self._clock()  # the article exists from the create on
        body: list[dict[str, str]] = [{"type": "text", "content": description}]
        if post.link:
            body.append({"type": "text", "content": f"Xem chi tiết: {post.link}"})
        created = self._call(
            "POST",
            "/v2.0/article/create",
            json={
                "type": "normal",
                "title": title,
                "author": "",
                "description": description,
                "cover": {"cover_type": "photo", "photo_url": cover, "status": "show"},
                "body": body,
                "status": "show",
                "comment": "show",
            },
            action="create an article",
            creating=True,
        )
        token = str(created.get("token", "")) if isinstance(created, Mapping) else ""
        if not token:
            raise OutcomeUnknown(
                "zalo: the answer to create an article had no processing token",
                platform=PLATFORM,
            )
        article_id = self._verify(token)
        url = self._article_url(article_id)
        if self._broadcast:
            self._send_broadcast(article_id)
        return PublishedPost(
            post_id=article_id,
            url=url,
            published_at=published_at,
            text=description,
            link=post.link,
        )

    def delete(self, post_id: str) -> None:
        """``article/remove``; an article that is already gone is not an error."""
        try:
            self._call(
                "POST",
                "/v2.0/article/remove",
                json={"id": post_id},
                action="remove an article",
                creating=False,
            )
        except Rejected as exc:
            if not _says_missing(str(exc)):
                raise

    def check_credentials(self) -> AccountInfo:
        """Refresh the access token if it is due, then read the OA's profile (``oa/getoa``)."""
        data = self._call("GET", "/v2.0/oa/getoa", action="check credentials", creating=False)
        data = data if isinstance(data, Mapping) else {}
        return AccountInfo(
            account_id=str(data.get("oa_id", "")),
            name=str(data.get("name", "")),
            username=None,
        )

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """Articles created since `since` whose body carries `link` or whose description has
        the fingerprint: the OA's article list, newest first, then each candidate's detail."""
        found: list[PublishedPost] = []
        for item in self._articles(stop_before=since):
            detail = self._call(
                "GET",
                "/v2.0/article/getdetail",
                params={"id": str(item.get("id", ""))},
                action="read an article",
                creating=False,
            )
            if not isinstance(detail, Mapping):
                continue
            description = str(detail.get("description", ""))
            links = [
                word
                for block in detail.get("body") or []
                if isinstance(block, Mapping)
                for word in str(block.get("content", "")).split()
                if word.startswith(("http://", "https://"))
            ]
            by_link = bool(link) and any(same_link(link, found_link) for found_link in links)
            by_text = (
                text_fingerprint is not None and fingerprint_of(description) == text_fingerprint
            )
            if by_link or by_text:
                article_id = str(detail.get("id") or item.get("id"))
                found.append(
                    PublishedPost(
                        post_id=article_id,
                        url=str(detail.get("link_view") or self._oa_url()),
                        published_at=_time(item.get("create_date")),
                        text=description,
                        link=link if by_link else None,
                    )
                )
        return found

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """Views and shares from the OA's article list (``total_view``, ``total_share``).

        Zalo has no per-article lookup of numbers: the list is read page by page, newest first,
        until every requested article is seen; one never seen is gone (removed on Zalo). Zalo
        gives no likes or comments for articles, so those are absent ("not available").
        """
        wanted = set(post_ids)
        numbers: dict[str, dict[str, int]] = {}
        for item in self._articles(stop_when_seen=wanted):
            article_id = str(item.get("id", ""))
            if article_id in wanted:
                numbers[article_id] = {
                    "views": _int(item.get("total_view")),
                    "shares": _int(item.get("total_share")),
                }
        return MetricsResult(metrics=numbers, deleted=frozenset(wanted - set(numbers)))

    # --- calls -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        creating: bool,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One OA API call; its ``data`` on success. An access token Zalo calls invalid or
        expired is refreshed and the call made once more (Zalo refused it: nothing happened)."""
        token = self._tokens.access_token()
        try:
            return self._call_once(method, path, token, action, creating, json, params)
        except CredentialsInvalid as exc:
            if exc.code not in {str(c) for c in EXPIRED_TOKEN}:
                raise
        token = self._tokens.refresh(stale=token).access_token
        return self._call_once(method, path, token, action, creating, json, params)

    def _call_once(
        self,
        method: str,
        path: str,
        token: Secret,
        action: str,
        creating: bool,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> Any:
        failure: PublishError | None = None
        try:
            response = self._session.request(
                method,
                f"{self._api_base}{path}",
                json=dict(json) if json is not None else None,
                params=dict(params) if params else None,
                headers={"access_token": token.reveal()},
            )
        except RequestNotSent as exc:
            failure = RetryLater(f"zalo: could not {action}: {exc}", platform=PLATFORM)
        except requests.RequestException as exc:
            said = str(exc) if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            kind = OutcomeUnknown if creating else RetryLater
            failure = kind(f"zalo: could not {action}: {said}", platform=PLATFORM)
        if failure is not None:
            raise failure
        body = json_body(response)
        status = response.status_code
        if body is not None and body.get("error") == 0 and status < 400:
            return body.get("data")
        if status == 429:
            said = one_line(str(body.get("message", ""))) if body else ""
            raise RateLimited(
                f"zalo: could not {action}: HTTP 429 {said}".rstrip(),
                platform=PLATFORM,
                code="429",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        raise error_for(status, body, action, creating=creating)

    def _verify(self, token: str) -> str:
        """Ask ``article/verify`` until Zalo has processed the article: 0.5 s, then doubling up
        to 8 s between asks, for at most `verify_timeout` seconds."""
        deadline = time.monotonic() + self._verify_timeout
        wait = 0.5
        while True:
            try:
                data = self._call(
                    "POST",
                    "/v2.0/article/verify",
                    json={"token": token},
                    action="verify the article",
                    creating=False,
                )
            except RetryLater as exc:
                # -214 "being processed" and transient failures alike: ask again (verifying is
                # a read; re-creating would make a second article).
                if time.monotonic() + wait > deadline:
                    raise OutcomeUnknown(
                        f"zalo: the article was created but not confirmed within "
                        f"{self._verify_timeout:.0f} s ({exc})",
                        platform=PLATFORM,
                        code=exc.code,
                    ) from None
            except PublishError as exc:
                # Refused outright (a revoked token, no permission): the article was created
                # all the same, so this is not a failure to retry from scratch.
                raise OutcomeUnknown(
                    f"zalo: the article was created but could not be confirmed ({exc})",
                    platform=PLATFORM,
                    code=exc.code,
                ) from None
            else:
                article_id = data.get("id") if isinstance(data, Mapping) else None
                if article_id:
                    return str(article_id)
                raise OutcomeUnknown(
                    "zalo: verify answered without an article id", platform=PLATFORM
                )
            self._sleep(wait)
            wait = min(wait * 2, 8.0)

    def _send_broadcast(self, article_id: str) -> None:
        """Send the article to the OA's followers. The article is published whatever happens
        here, so a refusal is logged (for the officer to resend from the OA manager), not
        raised: raising would make the engine create the article a second time."""
        try:
            self._call(
                "POST",
                "/v2.0/oa/message",
                json={
                    "recipient": {"target": {}},
                    "message": {
                        "attachment": {
                            "type": "template",
                            "payload": {
                                "template_type": "media",
                                "elements": [
                                    {"media_type": "article", "attachment_id": article_id}
                                ],
                            },
                        }
                    },
                },
                action="broadcast the article",
                creating=True,
            )
        except PublishError as exc:
            log.warning("zalo: article %s published, but the broadcast failed: %s", article_id, exc)

    def _article_url(self, article_id: str) -> str:
        try:
            detail = self._call(
                "GET",
                "/v2.0/article/getdetail",
                params={"id": article_id},
                action="read the article",
                creating=False,
            )
        except PublishError:
            return self._oa_url()
        link = detail.get("link_view") if isinstance(detail, Mapping) else None
        return str(link) if link else self._oa_url()

    def _oa_url(self) -> str:
        return f"https://zalo.me/{self._oa_id}"

    def _articles(
        self, *, stop_before: datetime | None = None, stop_when_seen: set[str] | None = None
    ) -> list[Mapping[str, Any]]:
        """The OA's articles, newest first, page by page until a stop condition or the end."""
        items: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while True:
            data = self._call(
                "GET",
                "/v2.0/article/getslice",
                params={"offset": str(offset), "limit": str(SLICE_PAGE), "type": "normal"},
                action="list articles",
                creating=False,
            )
            page = data.get("medias") if isinstance(data, Mapping) else None
            page = [m for m in page or [] if isinstance(m, Mapping)]
            for item in page:
                if stop_before is not None and _time(item.get("create_date")) < stop_before:
                    return items
                items.append(item)
                seen.add(str(item.get("id", "")))
            total = _int(data.get("total")) if isinstance(data, Mapping) else 0
            offset += len(page)
            if not page or offset >= total:
                return items
            if stop_when_seen is not None and stop_when_seen <= seen:
                return items


def parse_hours(value: str) -> tuple[clock_time, clock_time]:
    """``"06:00-22:00"`` → (06:00, 22:00); ConfigError on anything else."""
    try:
        start, end = (clock_time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ConfigError(f"zalo: broadcast_hours {value!r} must look like 06:00-22:00") from None
    if not start < end:
        raise ConfigError(f"zalo: broadcast_hours {value!r} must start before it ends")
    return start, end


def seconds_until_allowed(now: datetime, hours: tuple[clock_time, clock_time]) -> float:
    """0 when `now` is within the daily window (Vietnam time), else seconds until it opens."""
    return (into_hours(now, hours, VIETNAM) - now).total_seconds()


def _says_missing(message: str) -> bool:
    lowered = message.lower()
    return "not exist" in lowered or "not found" in lowered


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _time(value: Any) -> datetime:
    """Zalo's ``create_date`` is epoch milliseconds."""
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.now(tz=UTC)


def _float_option(options: Mapping[str, str], name: str, default: float) -> float:
    raw = options.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"zalo channel: option {name!r} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"zalo channel: option {name!r} must be positive")
    return value
