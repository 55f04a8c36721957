"""Mastodon through its REST API (plain `requests`, no SDK).

Every instance is its own host, so a channel must set `api_base` to the instance
(``https://social.example.gov``); there is no default. The access token (scope
``write:statuses read:statuses read:accounts``) goes in an ``Authorization: Bearer`` header.

Mastodon is the one platform here with real idempotency: a create carries
``Idempotency-Key: <post.idempotency_key>``, and for an hour the instance answers a repeat of
that key with the original status instead of posting again. So a publish retried after an
OutcomeUnknown within the hour cannot double-post; reconciliation by link still works after.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

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
    MetricsResult,
    OutgoingPost,
    PublishedPost,
    one_line,
    same_link,
)
from crosspost.platforms.base import text_fingerprint as fingerprint_of
from crosspost.platforms.http import PlatformTransport, RequestNotSent, mount_transport

PLATFORM = "mastodon"
"""The platform name used in configuration and errors."""

DEFAULT_LANGUAGE = "vi"
"""The ISO 639 language of statuses unless the channel's ``language`` option says otherwise."""

DEFAULT_RATE_LIMIT_BACKOFF = 300.0
"""Seconds to wait after a 429 without ``X-RateLimit-Reset``: Mastodon's API window is 5 min."""

TIMELINE_PAGE_SIZE = 40
"""``GET /api/v1/accounts/:id/statuses`` returns at most 40 statuses a page."""

TIMELINE_PAGES = 5
"""Pages read from the account's statuses when reconciling; older posts are not at stake."""

_HREF = re.compile(r"""href="([^"]*)\"""")
_TAG = re.compile(r"<[^>]+>")


def build_mastodon_publisher(connection: ChannelConnection) -> MastodonPublisher:
    """A publisher for one account; `api_base` is the instance and is required."""
    if not connection.api_base:
        raise ConfigError(
            "mastodon channel: set api_base to the instance, e.g. https://social.example.gov"
        )
    token = connection.credential("access_token").reveal()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    mount_transport(
        session,
        PlatformTransport(
            public_origins=(),
            api_base=None,
            timeout=(connection.connect_timeout_seconds, connection.timeout_seconds),
        ),
        url=connection.api_base,
    )
    language = connection.options.get("language") or DEFAULT_LANGUAGE
    return MastodonPublisher(session, api_base=connection.api_base.rstrip("/"), language=language)


class MastodonPublisher:
    """One Mastodon account. `session` already sends the Bearer token."""

    platform = PLATFORM

    def __init__(
        self, session: requests.Session, *, api_base: str, language: str = DEFAULT_LANGUAGE
    ) -> None:
        self._session = session
        self._api_base = api_base
        self._language = language
        self._account_id: str | None = None

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """`POST /api/v1/statuses`, public, with the delivery's Idempotency-Key.

        Mastodon has no link field (the first link in the text becomes the preview card), so a
        link missing from the text is appended.
        """
        text = post.text
        if post.link and post.link not in text:
            text = f"{text}\n{post.link}"
        headers = {"Idempotency-Key": post.idempotency_key} if post.idempotency_key else {}
        status = self._call(
            "POST",
            "/api/v1/statuses",
            action="create a status",
            creating=True,
            json={"status": text, "visibility": "public", "language": self._language},
            headers=headers,
        )
        if not isinstance(status, Mapping) or not status.get("id"):
            raise OutcomeUnknown(
                "mastodon: the answer to create a status had no id", platform=PLATFORM
            )
        return PublishedPost(
            post_id=str(status["id"]),
            url=str(status.get("url") or status.get("uri") or ""),
            published_at=_parse_time(status.get("created_at")),
            text=text,
            link=post.link,
        )

    def delete(self, post_id: str) -> None:
        """`DELETE /api/v1/statuses/:id`; 404 means it is already gone."""
        try:
            self._call("DELETE", f"/api/v1/statuses/{post_id}", action="delete a status")
        except Rejected as exc:
            if exc.code != "404":
                raise

    def check_credentials(self) -> AccountInfo:
        """`GET /api/v1/accounts/verify_credentials`: who the token acts as."""
        account = self._call(
            "GET", "/api/v1/accounts/verify_credentials", action="check credentials"
        )
        account = account if isinstance(account, Mapping) else {}
        self._account_id = str(account.get("id", ""))
        return AccountInfo(
            account_id=self._account_id,
            name=str(account.get("display_name") or account.get("username") or ""),
            username=account.get("acct") or account.get("username"),
        )

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """The account's statuses since `since` linking to `link` or with the fingerprint,
        newest first, reading at most `TIMELINE_PAGES` pages of 40."""
        if self._account_id is None:
            self.check_credentials()
        found: list[PublishedPost] = []
        params: dict[str, Any] = {"limit": TIMELINE_PAGE_SIZE, "exclude_reblogs": "true"}
        for _ in range(TIMELINE_PAGES):
            page = self._call(
                "GET",
                f"/api/v1/accounts/{self._account_id}/statuses",
                action="read the account's statuses",
                params=params,
            )
            statuses = [s for s in page if isinstance(s, Mapping)] if isinstance(page, list) else []
            for status in statuses:
                if _parse_time(status.get("created_at")) < since:
                    return found
                match = _status_matches(status, link, text_fingerprint)
                if match is not None:
                    found.append(match)
            if len(statuses) < TIMELINE_PAGE_SIZE:
                break
            params["max_id"] = str(statuses[-1].get("id"))
        return found

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """Favourites, boosts and replies from `GET /api/v1/statuses/:id`, one call per status.

        The batch form (``GET /api/v1/statuses?id[]=``) exists only on newer instances and
        silently leaves out missing statuses, so deleted could not be told from hidden.
        """
        metrics: dict[str, dict[str, int]] = {}
        deleted: set[str] = set()
        unavailable: set[str] = set()
        for post_id in dict.fromkeys(post_ids):
            try:
                status = self._call("GET", f"/api/v1/statuses/{post_id}", action="read metrics")
            except (CredentialsInvalid, RateLimited):
                raise  # the whole account is affected, not this status
            except Rejected as exc:
                (deleted if exc.code == "404" else unavailable).add(post_id)
                continue
            if not isinstance(status, Mapping):
                unavailable.add(post_id)
                continue
            metrics[post_id] = {
                "likes": int(status.get("favourites_count") or 0),
                "shares": int(status.get("reblogs_count") or 0),
                "comments": int(status.get("replies_count") or 0),
            }
        return MetricsResult(metrics, frozenset(deleted), frozenset(unavailable))

    def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        creating: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One API call; the decoded JSON of a 2xx, else the mapped error."""
        failure: PublishError | None = None
        try:
            response = self._session.request(method, self._api_base + path, **kwargs)
        except RequestNotSent as exc:
            failure = RetryLater(f"mastodon: could not {action}: {exc}", platform=PLATFORM)
        except requests.RequestException as exc:
            said = str(exc) if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            kind = OutcomeUnknown if creating else RetryLater
            failure = kind(f"mastodon: could not {action}: {said}", platform=PLATFORM)
        if failure is not None:
            raise failure
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= response.status_code < 300 and body is not None:
            return body
        raise _error(response, body, action, creating=creating)


def _error(response: requests.Response, body: Any, action: str, *, creating: bool) -> PublishError:
    status = response.status_code
    said = body.get("error") if isinstance(body, Mapping) else None
    said = one_line(str(said)) if said else "no Mastodon error body"
    message = f"mastodon: could not {action}: HTTP {status}: {said}"
    code = str(status)
    lowered = said.lower()
    if status == 429:
        wait = _retry_after(response.headers.get("X-RateLimit-Reset"))
        return RateLimited(message, platform=PLATFORM, code=code, retry_after=wait)
    if status == 401:
        return CredentialsInvalid(message, platform=PLATFORM, code=code)
    if status in (403, 422) and ("character limit" in lowered or "too long" in lowered):
        return TooLong(message, platform=PLATFORM, code=code)
    if status == 403:
        return PermissionDenied(message, platform=PLATFORM, code=code)
    if status >= 500 or status < 400:
        if creating:
            return OutcomeUnknown(message, platform=PLATFORM, code=code)
        return RetryLater(message, platform=PLATFORM, code=code)
    return Rejected(message, platform=PLATFORM, code=code)


def _retry_after(reset: str | None) -> float:
    """Seconds until ``X-RateLimit-Reset`` (an ISO 8601 time), at least 1."""
    if not reset:
        return DEFAULT_RATE_LIMIT_BACKOFF
    try:
        moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return DEFAULT_RATE_LIMIT_BACKOFF
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(1.0, moment.timestamp() - time.time())


def status_text(content: str) -> str:
    """A status's plain text from its HTML ``content`` (paragraphs, <br />, links)."""
    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(_TAG.sub("", text))


def _status_matches(
    status: Mapping[str, Any], link: str, fingerprint: str | None
) -> PublishedPost | None:
    content = str(status.get("content", ""))
    text = status_text(content)
    hrefs = [html.unescape(h) for h in _HREF.findall(content)]
    card = status.get("card")
    if isinstance(card, Mapping) and card.get("url"):
        hrefs.append(str(card["url"]))
    # An empty link is in every text: it must match nothing, never every post.
    by_link = bool(link.strip()) and (any(same_link(h, link) for h in hrefs) or link in text)
    by_text = fingerprint is not None and fingerprint_of(text) == fingerprint
    if not (by_link or by_text):
        return None
    return PublishedPost(
        post_id=str(status["id"]),
        url=str(status.get("url") or status.get("uri") or ""),
        published_at=_parse_time(status.get("created_at")),
        text=text,
        link=link if by_link else None,
    )


def _parse_time(value: Any) -> datetime:
    """Mastodon's ``2024-05-01T10:00:00.000Z``; the local time when it is missing."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(tz=UTC)
