"""Zalo Official Accounts through the Zalo OA Open API (plain `requests`; Zalo has no Python SDK).

A post is an OA *article* (title ≤ 150, description ≤ 300 characters, a cover photo, a body),
published in two steps: ``article/create`` answers a processing token, ``article/verify`` turns
it into the article id once Zalo has processed it (until then it answers -214 "being
processed": polled with backoff, never re-created). A channel with ``broadcast`` on then sends
the article to the OA's followers (``oa/message``), which Zalo refuses at night.

Zalo specifics this adapter handles:

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
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import requests

from crosspost.domain.compose import fit_words
from crosspost.domain.slots import into_hours
from crosspost.errors import (
    ConfigError,
    CredentialsInvalid,
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
    IssuedTokens,
    MemoryTokenStore,
    MetricsResult,
    OutgoingPost,
    PublishedPost,
    Secret,
    TokenStore,
    one_line,
    same_link,
    secret_digest,
)
from crosspost.platforms.base import (
    text_fingerprint as fingerprint_of,
)
from crosspost.platforms.http import PlatformTransport, RequestNotSent, mount_transport
from crosspost.platforms.registry import PLATFORMS

log = logging.getLogger(__name__)

PLATFORM = "zalo"
DEFAULT_API_BASE = PLATFORMS["zalo"].default_api_base
DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
"""Token endpoint host. A channel with `api_base` (the sandbox, a gateway) sends both there."""

TITLE_MAX = 150
DESCRIPTION_MAX = 300
ACCESS_REFRESH_MARGIN = timedelta(minutes=30)
"""Refresh an access token this long before Zalo says it expires."""
DEFAULT_REFRESH_DAYS = 90
"""A refresh token's life (Zalo: "3 months"); option ``refresh_days``."""
DEFAULT_VERIFY_TIMEOUT = 60.0
"""Seconds to keep asking ``article/verify`` before the outcome is left to reconciliation; with
the other calls of a publish it stays well inside a delivery job's 120 s
(`crosspost.queue.rq_queue.DELIVERY_TIMEOUT`)."""
DEFAULT_BROADCAST_HOURS = "06:00-22:00"
"""When Zalo accepts broadcasts (-234 outside), Asia/Ho_Chi_Minh; option ``broadcast_hours``."""
DEFAULT_RATE_LIMIT_BACKOFF = 60.0
"""Seconds to wait after -32 ("reached limit call api"): Zalo sends no reset time."""
SLICE_PAGE = 10
"""Articles per ``article/getslice`` page (Zalo's maximum, per third-party SDKs)."""
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

_EXPIRED_TOKEN = {-216, -220}
_NO_PERMISSION = {-204, -205, -209, -212, -221, -223, -224, -230, -232}
_BAD_CREDENTIALS = {-219, -242}


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
        self._oauth_base = oauth_base
        self._oa_id = oa_id
        self._app_id = app_id
        self._app_secret = app_secret
        self._seed = refresh_seed
        self._seed_digest = secret_digest(refresh_seed)
        self._store = store
        self._cover_url = cover_url
        self._broadcast = broadcast
        self._hours = broadcast_hours
        self._verify_timeout = verify_timeout
        self._refresh_life = timedelta(days=refresh_days)
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
        if len(description) > DESCRIPTION_MAX:
            raise TooLong(
                f"zalo: the description has {len(description)} characters "
                f"(limit {DESCRIPTION_MAX})",
                platform=PLATFORM,
                code="-210",
            )
        title = fit_words(" ".join((post.title or description).split()), TITLE_MAX)
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

    # --- tokens ------------------------------------------------------------------------------

    def tokens(self) -> IssuedTokens | None:
        """The stored tokens when they descend from the configured refresh token."""
        stored = self._store.load()
        if stored is not None and stored.seeded_from == self._seed_digest:
            return stored
        return None

    def _access_token(self) -> Secret:
        current = self.tokens()
        if (
            current is not None
            and current.access_expires_at - ACCESS_REFRESH_MARGIN > self._clock()
        ):
            return current.access_token
        return self._refresh(stale=None).access_token

    def _refresh(self, *, stale: Secret | None) -> IssuedTokens:
        """New tokens under the store's lock; a process that waited for the lock finds the
        tokens another one just stored and uses them instead of spending a refresh token."""

        def refresh(current: IssuedTokens | None) -> IssuedTokens | None:
            mine = current if current and current.seeded_from == self._seed_digest else None
            if (
                mine is not None
                and mine.access_expires_at - ACCESS_REFRESH_MARGIN > self._clock()
                and mine.access_token != stale
            ):
                return None
            return self._exchange(mine.refresh_token if mine else self._seed)

        tokens = self._store.rotate(refresh)
        if tokens is None:  # pragma: no cover - a store that dropped what it was given
            raise RetryLater("zalo: the token store kept no tokens", platform=PLATFORM)
        return tokens

    def _exchange(self, refresh_token: Secret) -> IssuedTokens:
        """``POST /v4/oa/access_token`` with ``grant_type=refresh_token`` (spends the token)."""
        url = f"{self._oauth_base}/v4/oa/access_token"
        failure: PublishError | None = None
        try:
            response = self._session.post(
                url,
                data={
                    "refresh_token": refresh_token.reveal(),
                    "app_id": self._app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._app_secret.reveal()},
            )
        except requests.RequestException as exc:
            said = str(exc) if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            # A lost answer may have spent the refresh token; the next attempt will tell.
            failure = RetryLater(
                f"zalo: could not refresh the access token: {said}", platform=PLATFORM
            )
        if failure is not None:
            raise failure
        body = _json(response)
        access = body.get("access_token") if body else None
        refresh = body.get("refresh_token") if body else None
        if response.status_code >= 500 or body is None:
            raise RetryLater(
                f"zalo: could not refresh the access token: HTTP {response.status_code}",
                platform=PLATFORM,
                code=str(response.status_code),
            )
        if not access or not refresh:
            code = str(body.get("error", response.status_code))
            said = one_line(str(body.get("error_description") or body.get("message") or ""))
            raise CredentialsInvalid(
                f"zalo: the refresh token was refused ({code}: {said}); authorise the OA "
                "again and set the channel's refresh token variable",
                platform=PLATFORM,
                code=code,
            )
        now = self._clock()
        try:
            lifetime = float(body.get("expires_in", 90000))
        except (TypeError, ValueError):
            lifetime = 90000.0
        return IssuedTokens(
            access_token=Secret(str(access)),
            refresh_token=Secret(str(refresh)),
            access_expires_at=now + timedelta(seconds=lifetime),
            refresh_expires_at=now + self._refresh_life,
            seeded_from=self._seed_digest,
        )

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
        token = self._access_token()
        try:
            return self._call_once(method, path, token, action, creating, json, params)
        except CredentialsInvalid as exc:
            if exc.code not in {str(c) for c in _EXPIRED_TOKEN}:
                raise
        token = self._refresh(stale=token).access_token
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
        body = _json(response)
        status = response.status_code
        if body is not None and body.get("error") == 0 and status < 400:
            return body.get("data")
        if status == 429:
            said = one_line(str(body.get("message", ""))) if body else ""
            raise RateLimited(
                f"zalo: could not {action}: HTTP 429 {said}".rstrip(),
                platform=PLATFORM,
                code="429",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        raise _error(status, body, action, creating=creating)

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


def _error(
    status: int, body: Mapping[str, Any] | None, action: str, *, creating: bool
) -> PublishError:
    if body is None or not isinstance(body.get("error"), int):
        message = f"zalo: could not {action}: HTTP {status}, no OA API answer"
        if creating:
            return OutcomeUnknown(message, platform=PLATFORM, code=str(status))
        return RetryLater(message, platform=PLATFORM, code=str(status))
    code = int(body["error"])
    said = one_line(str(body.get("message", "")))
    message = f"zalo: could not {action}: {code} {said}".rstrip()
    tag = str(code)
    if code == -32:
        return RateLimited(
            message, platform=PLATFORM, code=tag, retry_after=DEFAULT_RATE_LIMIT_BACKOFF
        )
    if code == -211:
        return RateLimited(message, platform=PLATFORM, code=tag, retry_after=_until_midnight())
    if code == -214:
        return RetryLater(message, platform=PLATFORM, code=tag)
    if code in _EXPIRED_TOKEN or code in _BAD_CREDENTIALS:
        return CredentialsInvalid(message, platform=PLATFORM, code=tag)
    if code in _NO_PERMISSION:
        return PermissionDenied(message, platform=PLATFORM, code=tag)
    if code == -210 or "exceed" in said.lower() or "too long" in said.lower():
        return TooLong(message, platform=PLATFORM, code=tag)
    if code == -234:
        return RateLimited(message, platform=PLATFORM, code=tag, retry_after=3600.0)
    if status >= 500:
        return (
            OutcomeUnknown(message, platform=PLATFORM, code=tag)
            if creating
            else RetryLater(message, platform=PLATFORM, code=tag)
        )
    return Rejected(message, platform=PLATFORM, code=tag)


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


def _until_midnight() -> float:
    local = datetime.now(VIETNAM)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    return (midnight - local).total_seconds()


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_RATE_LIMIT_BACKOFF
    except ValueError:
        seconds = DEFAULT_RATE_LIMIT_BACKOFF
    return max(1.0, seconds)


def _says_missing(message: str) -> bool:
    lowered = message.lower()
    return "not exist" in lowered or "not found" in lowered


def _json(response: requests.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


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
