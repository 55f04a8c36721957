"""Facebook Pages through facebook-sdk's `GraphAPI`.

facebook-sdk 3.1.0 is unmaintained and has three traps this module works around:

* its constructor rejects every current Graph version, so it is built without one and
  ``graph.version`` is set from configuration afterwards;
* it ignores HTTP status codes and needs a JSON ``Content-Type``: an HTML 502 becomes
  ``GraphAPIError("Maintype was not …")`` (or a KeyError without the header, a ValueError on a
  broken JSON body), and a 5xx with a JSON body that has no ``error`` key passes as success.
  The `PlatformTransport` records the real status, and `_call` checks it;
* it puts the access token in the query string of GET/DELETE requests, where urllib3's DEBUG
  log, proxies and gateways would record it. `_token_to_header` moves it into an
  ``Authorization: Bearer`` header (which Graph accepts) before anything is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import facebook
import requests
from requests.models import PreparedRequest

from crosspost.errors import (
    ConfigError,
    CredentialsInvalid,
    OutcomeUnknown,
    PermissionDenied,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
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
from crosspost.platforms.graph_errors import (
    DEFAULT_RATE_LIMIT_BACKOFF as DEFAULT_RATE_LIMIT_BACKOFF,  # part of this module's facts
)
from crosspost.platforms.graph_errors import (
    from_graph_body,
    from_status,
    is_not_found_code,
)
from crosspost.platforms.http import (
    LastResponse,
    PlatformTransport,
    RequestNotSent,
    mount_transport,
)
from crosspost.platforms.registry import PLATFORMS

PLATFORM = "facebook"
"""The platform name used in configuration and errors."""

PUBLIC_ORIGINS = ("https://graph.facebook.com",)
"""The origin facebook-sdk sends to (its module global FACEBOOK_GRAPH_URL)."""

DEFAULT_API_BASE = PLATFORMS["facebook"].default_api_base
"""Where a channel without `api_base` goes."""

CREDENTIAL_NAMES = PLATFORMS["facebook"].credential_names
"""A Page access token with pages_manage_posts and pages_read_engagement."""

DEFAULT_GRAPH_VERSION = "v21.0"
"""Used when the channel's `graph_version` option is not set; pin it in configuration."""

BATCH_SIZE = 50
"""Graph refuses batches of more than 50 operations."""

TIMELINE_PAGES = 5
"""Pages of 100 read from `published_posts` when reconciling."""

DEFAULT_METRIC_FIELDS = ("reactions", "comments", "shares")
"""Engagement by object fields: the insights metrics keep being deprecated, these do not.
The connection's ``metric_fields`` option (comma-separated; the engine fills it from
``[metrics] facebook_fields``) replaces the list when Meta retires one."""

_FIELD_QUERIES = {
    "reactions": "reactions.summary(total_count).limit(0)",
    "comments": "comments.summary(true).limit(0)",
}
"""Edges read as a count only; any other field is asked for by its bare name."""

_SNAPSHOT_NAMES = {"reactions": "likes"}
"""Fields stored under the cross-platform name (reactions are Facebook's likes)."""

_VERSION = re.compile(r"^v?(\d+\.\d+)$")


def build_facebook_publisher(connection: ChannelConnection) -> FacebookPublisher:
    """A publisher for one Page; the GraphAPI session is routed through a PlatformTransport."""
    token = connection.credential("page_access_token").reveal()
    page_id = connection.option("page_id")
    version = connection.options.get("graph_version") or DEFAULT_GRAPH_VERSION
    match = _VERSION.match(version)
    if match is None:
        raise ConfigError(f"facebook channel: graph_version {version!r} is not like 'v21.0'")
    session = requests.Session()
    transport = PlatformTransport(
        public_origins=PUBLIC_ORIGINS,
        api_base=connection.api_base or DEFAULT_API_BASE,
        timeout=(connection.connect_timeout_seconds, connection.timeout_seconds),
        before_send=_token_to_header,
    )
    mount_transport(session, transport)
    # No version= here: facebook-sdk 3.1.0 only accepts 2.8-3.1 (see module docstring).
    graph = facebook.GraphAPI(access_token=token, session=session)
    graph.version = "v" + match.group(1)
    fields = connection.options.get("metric_fields") or ",".join(DEFAULT_METRIC_FIELDS)
    metric_fields = tuple(f.strip() for f in fields.split(",") if f.strip())
    return FacebookPublisher(graph, page_id=page_id, metric_fields=metric_fields)


def _token_to_header(request: PreparedRequest) -> None:
    """Move ``access_token`` from the query or form body into an Authorization header."""
    token: str | None = None
    parts = urlsplit(request.url or "")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "access_token" for k, _ in query):
        token = next(v for k, v in query if k == "access_token")
        kept = urlencode([(k, v) for k, v in query if k != "access_token"])
        request.url = urlunsplit(parts._replace(query=kept))
    content_type = request.headers.get("Content-Type", "")
    if request.body and content_type.startswith("application/x-www-form-urlencoded"):
        raw = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = parse_qsl(raw, keep_blank_values=True)
        if any(k == "access_token" for k, _ in form):
            token = next(v for k, v in form if k == "access_token")
            body = urlencode([(k, v) for k, v in form if k != "access_token"])
            request.body = body
            request.headers["Content-Length"] = str(len(body.encode()))
    if token:
        request.headers["Authorization"] = f"Bearer {token}"


class FacebookPublisher:
    """One Facebook Page. `graph` is a facebook.GraphAPI whose session has a PlatformTransport."""

    platform = PLATFORM

    def __init__(
        self, graph: Any, *, page_id: str, metric_fields: Sequence[str] = DEFAULT_METRIC_FIELDS
    ) -> None:
        self._graph = graph
        self._page_id = page_id
        self._metric_fields = tuple(metric_fields)
        self._metric_query = ",".join(_FIELD_QUERIES.get(f, f) for f in self._metric_fields)
        adapter = graph.session.get_adapter(PUBLIC_ORIGINS[0] + "/")
        self._transport = adapter if isinstance(adapter, PlatformTransport) else None

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """`POST /{page}/feed` with message and link, then one read for time and permalink."""
        fields = {"message": post.text}
        if post.link:
            fields["link"] = post.link
        result = self._call(
            "create a post", True, self._graph.put_object, self._page_id, "feed", **fields
        )
        post_id = str(result.get("id", "")) if isinstance(result, Mapping) else ""
        if not post_id:
            raise OutcomeUnknown(
                "facebook: the answer to create a post had no post id", platform=PLATFORM
            )
        try:
            details = self._call(
                "read the new post",
                False,
                self._graph.get_object,
                post_id,
                fields="created_time,permalink_url",
            )
        except PublishError:
            details = {}  # the post exists; the details are a nicety
        return PublishedPost(
            post_id=post_id,
            url=str(details.get("permalink_url") or f"https://www.facebook.com/{post_id}"),
            published_at=_parse_time(details.get("created_time")),
            text=post.text,
            link=post.link,
        )

    def delete(self, post_id: str) -> None:
        """`DELETE /{post}`; a post that no longer exists counts as deleted."""
        try:
            self._call("delete a post", False, self._graph.delete_object, post_id)
        except Rejected as exc:
            if not is_not_found_code(exc.code):
                raise

    def check_credentials(self) -> AccountInfo:
        """`GET /me`: with a Page token that is the Page; any other answer is refused."""
        me = self._call("check credentials", False, self._graph.get_object, "me", fields="id,name")
        account_id = str(me.get("id", "")) if isinstance(me, Mapping) else ""
        if account_id != self._page_id:
            raise PermissionDenied(
                f"facebook: the token acts as {account_id or 'nobody'}, not Page {self._page_id}",
                platform=PLATFORM,
            )
        return AccountInfo(account_id=account_id, name=str(me.get("name", "")))

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """Page posts since `since` whose attachment or message carries `link`, or whose
        message has the fingerprint."""
        found: list[PublishedPost] = []
        args: dict[str, Any] = {
            "fields": "id,message,created_time,permalink_url,attachments{unshimmed_url,url}",
            "since": int(since.timestamp()),
            "limit": 100,
        }
        for _ in range(TIMELINE_PAGES):
            page = self._call(
                "read the Page's posts",
                False,
                self._graph.get_connections,
                self._page_id,
                "published_posts",
                **args,
            )
            for item in page.get("data", []) if isinstance(page, Mapping) else []:
                match = _post_matches(item, link, text_fingerprint)
                if match is not None:
                    found.append(match)
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (page.get("paging") or {}).get("next"):
                break
            args["after"] = after
        return found

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """Reactions, comments and shares through batch requests of 50 operations."""
        metrics: dict[str, dict[str, int]] = {}
        deleted: set[str] = set()
        unavailable: set[str] = set()
        ids = list(dict.fromkeys(post_ids))
        version = self._graph.version
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            ops = [
                {"method": "GET", "relative_url": f"{version}/{pid}?fields={self._metric_query}"}
                for pid in chunk
            ]
            answers = self._call(
                "read metrics",
                False,
                self._graph.request,
                f"{version}/",
                post_args={"batch": json.dumps(ops), "include_headers": "false"},
            )
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise RetryLater("facebook: a batch answer had the wrong shape", platform=PLATFORM)
            for pid, answer in zip(chunk, answers, strict=True):
                body = _batch_body(answer)
                if answer is not None and answer.get("code") == 200 and body is not None:
                    metrics[pid] = _normalise(body, self._metric_fields)
                    continue
                error = body.get("error") if isinstance(body, Mapping) else None
                if not isinstance(error, Mapping):
                    unavailable.add(pid)
                    continue
                mapped = from_graph_body(error, "read metrics", False, self._last())
                if is_not_found_code(mapped.code):
                    deleted.add(pid)
                elif isinstance(mapped, CredentialsInvalid | RateLimited):
                    raise mapped  # the whole account is affected, not this post
                else:
                    unavailable.add(pid)
        return MetricsResult(metrics, frozenset(deleted), frozenset(unavailable))

    def _last(self) -> LastResponse | None:
        return self._transport.last_response() if self._transport is not None else None

    def _call(self, action: str, creating: bool, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        """Call the SDK and map every way it can fail, including failures it does not see."""
        try:
            result = fn(*a, **kw)
        except facebook.GraphAPIError as exc:
            if isinstance(exc.result, Mapping) and isinstance(exc.result.get("error"), Mapping):
                raise from_graph_body(exc.result["error"], action, creating, self._last()) from None
            raise from_status(action, creating, self._last()) from None
        except RequestNotSent as exc:
            raise RetryLater(f"facebook: could not {action}: {exc}", platform=PLATFORM) from None
        except (requests.RequestException, ValueError, KeyError) as exc:
            # Lost answers, broken JSON, a missing Content-Type (facebook-sdk's KeyError).
            last = self._last()
            if last is not None:
                raise from_status(action, creating, last) from None
            message = f"facebook: could not {action}: {type(exc).__name__}: {one_line(str(exc))}"
            if creating:
                raise OutcomeUnknown(message, platform=PLATFORM) from None
            raise RetryLater(message, platform=PLATFORM) from None
        last = self._last()
        if last is not None and last.status >= 400:
            raise from_status(action, creating, last)  # a JSON body without "error"
        return result


def _batch_body(answer: Any) -> Any:
    if not isinstance(answer, Mapping):
        return None  # Graph answers null for an operation that timed out
    try:
        return json.loads(answer.get("body") or "null")
    except ValueError:
        return None


def _normalise(body: Mapping[str, Any], fields: Sequence[str]) -> dict[str, int]:
    """One number per field: an edge's summary total, an object's count, or a plain number."""

    def number(value: Any) -> int:
        if isinstance(value, int | float):
            return int(value)
        if isinstance(value, Mapping):
            summary = value.get("summary")
            if isinstance(summary, Mapping):
                return int(summary.get("total_count", 0))
            return int(value.get("count", 0))
        return 0  # Graph omits a field such as "shares" when it is zero

    return {_SNAPSHOT_NAMES.get(f, f): number(body.get(f)) for f in fields}


def _post_matches(
    item: Mapping[str, Any], link: str, fingerprint: str | None
) -> PublishedPost | None:
    message = str(item.get("message", ""))
    urls = [
        str(a.get(key, ""))
        for a in (item.get("attachments") or {}).get("data", [])
        for key in ("unshimmed_url", "url")
    ]
    # An empty link is in every text: it must match nothing, never every post.
    by_link = bool(link.strip()) and (
        any(same_link(url, link) for url in urls if url) or link in message
    )
    by_text = fingerprint is not None and fingerprint_of(message) == fingerprint
    if not (by_link or by_text):
        return None
    post_id = str(item["id"])
    return PublishedPost(
        post_id=post_id,
        url=str(item.get("permalink_url") or f"https://www.facebook.com/{post_id}"),
        published_at=_parse_time(item.get("created_time")),
        text=message,
        link=link if by_link else None,
    )


def _parse_time(value: Any) -> datetime:
    """Graph's ``2024-05-01T10:00:00+0000``; the local time when it is missing."""
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            pass
    return datetime.now(tz=UTC)
