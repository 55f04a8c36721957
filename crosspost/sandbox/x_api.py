"""A fake X API v2 for exactly the calls crosspost makes through tweepy.

``POST /2/tweets``, ``DELETE /2/tweets/:id``, ``GET /2/tweets?ids=``, ``GET /2/users/me``,
``GET /2/users/:id/tweets``. OAuth 1.0a signatures are checked against the public URL tweepy
signed, so a wrong secret is a 401 as on X. Bodies follow X's shapes: ``{"data": …}``, RFC 7807
style problems, ``x-rate-limit-*`` headers on every authenticated answer.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from oauthlib.oauth1 import Client  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import signature, utils  # type: ignore[import-untyped]

from crosspost.sandbox.state import Post, SandboxState, XAccount, engagement
from crosspost.sandbox.wire import Call, Reply, json_reply

PLATFORM = "x"
PUBLIC_ORIGINS = ("https://api.twitter.com", "https://api.x.com")
MAX_WEIGHTED_LENGTH = 280
INVALID_DETAIL = "One or more parameters to your request was invalid."
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_MESSAGE = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
_URL = re.compile(r"https?://\S+")
_TWEET_PATH = re.compile(r"^/2/tweets/(\d+)$")
_TIMELINE_PATH = re.compile(r"^/2/users/(\d+)/tweets$")


def weighted_length(text: str) -> int:
    """X's weighted length from `crosspost.domain.xtext` once it exists; len() until then."""
    try:
        module = importlib.import_module("crosspost.domain.xtext")
    except ImportError:
        return len(unicodedata.normalize("NFC", text))
    return cast(Callable[[str], int], module.weighted_length)(text)


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Reply:
    """An RFC 7807-style problem body, as X v2 answers errors."""
    return json_reply(status, {"title": title, "detail": detail, "type": kind, "status": status})


def rate_limited(state: SandboxState, *, reset_header: bool, reset_in: float) -> Reply:
    """X's 429, with or without ``x-rate-limit-reset``."""
    reply = problem(429, "Too Many Requests", "Too Many Requests")
    reply.headers.update({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0"})
    if reset_header:
        reply.headers["x-rate-limit-reset"] = str(int(state.now() + reset_in))
    return reply


def handle(state: SandboxState, call: Call) -> Reply:
    """Answer one X call."""
    account = _authenticate(state, call)
    if account is None:
        return problem(401, "Unauthorized", "Unauthorized")
    key = "x:create" if call.method in ("POST", "DELETE") else "x:read"
    wait = state.over_limit(key, account.user_id)
    if wait is not None:
        return rate_limited(state, reset_header=True, reset_in=wait)
    reply = _route(state, call, account)
    limit, remaining, reset = state.usage(key, account.user_id)
    reply.headers.setdefault("x-rate-limit-limit", str(limit))
    reply.headers.setdefault("x-rate-limit-remaining", str(remaining))
    reply.headers.setdefault("x-rate-limit-reset", str(int(reset)))
    return reply


def _route(state: SandboxState, call: Call, account: XAccount) -> Reply:
    if call.path == "/2/tweets" and call.method == "POST":
        return _create(state, call, account)
    if call.path == "/2/tweets" and call.method == "GET":
        return _lookup(state, call)
    if call.path == "/2/users/me" and call.method == "GET":
        user = {"id": account.user_id, "name": account.name, "username": account.username}
        return json_reply(200, {"data": user})
    if (m := _TWEET_PATH.match(call.path)) and call.method == "DELETE":
        return _delete(state, m.group(1), account)
    if (m := _TIMELINE_PATH.match(call.path)) and call.method == "GET":
        return _timeline(state, call, m.group(1))
    return problem(404, "Not Found Error", f"Unknown route {call.method} {call.path}")


def _create(state: SandboxState, call: Call, account: XAccount) -> Reply:
    body = call.json()
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return problem(400, "Invalid Request", INVALID_DETAIL)
    if weighted_length(text) > MAX_WEIGHTED_LENGTH:
        payload = {
            "errors": [{"parameters": {"text": [text]}, "message": TOO_LONG_MESSAGE}],
            "title": "Invalid Request",
            "detail": INVALID_DETAIL,
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }
        return json_reply(400, payload)
    normal = unicodedata.normalize("NFC", text)
    with state.lock():
        for post in state.live_posts(PLATFORM, account.user_id):
            if unicodedata.normalize("NFC", post.text) == normal:
                return problem(403, "Forbidden", DUPLICATE_DETAIL)
        links = _URL.findall(text)
        post = state.add_post(
            Post(
                platform=PLATFORM,
                account=account.user_id,
                id=state.next_x_id(),
                text=text,
                link=links[0] if links else None,
                created_at=state.now_dt(),
            )
        )
    shown, _ = _tco(text)
    data = {"id": post.id, "text": shown, "edit_history_tweet_ids": [post.id]}
    return json_reply(201, {"data": data})


def _delete(state: SandboxState, post_id: str, account: XAccount) -> Reply:
    post = state.find_post(PLATFORM, post_id)
    if post is None:
        return problem(404, "Not Found Error", f"Could not find tweet with id: [{post_id}].")
    if post.account != account.user_id:
        return problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
    with state.lock():
        post.deleted = True
    return json_reply(200, {"data": {"deleted": True}})


def _lookup(state: SandboxState, call: Call) -> Reply:
    ids = [i for i in call.query.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        detail = "The `ids` query parameter value must be between 1 and 100 ids."
        return problem(400, "Invalid Request", detail)
    fields = set(call.query.get("tweet.fields", "").split(","))
    data, errors = [], []
    for post_id in ids:
        post = state.find_post(PLATFORM, post_id)
        if post is None:
            errors.append(
                {
                    "value": post_id,
                    "detail": f"Could not find tweet with ids: [{post_id}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": post_id,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
        else:
            data.append(_tweet(state, post, fields))
    payload: dict[str, Any] = {"data": data} if data else {}
    if errors:
        payload["errors"] = errors
    return json_reply(200, payload)


def _timeline(state: SandboxState, call: Call, user_id: str) -> Reply:
    query = call.query
    posts = state.live_posts(PLATFORM, user_id)
    if start := query.get("start_time"):
        since = datetime.fromisoformat(start.replace("Z", "+00:00"))
        posts = [p for p in posts if p.created_at >= since]
    size = max(5, min(100, int(query.get("max_results", "10"))))
    offset = int(query.get("pagination_token") or 0)
    page = posts[offset : offset + size]
    fields = set(query.get("tweet.fields", "").split(","))
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
    if offset + size < len(posts):
        meta["next_token"] = str(offset + size)
    payload: dict[str, Any] = {"meta": meta}
    if page:
        payload["data"] = [_tweet(state, p, fields) for p in page]
    return json_reply(200, payload)


def _tweet(state: SandboxState, post: Post, fields: set[str]) -> dict[str, Any]:
    shown, urls = _tco(post.text)
    tweet: dict[str, Any] = {"id": post.id, "text": shown, "edit_history_tweet_ids": [post.id]}
    if "created_at" in fields:
        tweet["created_at"] = post.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if "entities" in fields and urls:
        tweet["entities"] = {"urls": urls}
    if "public_metrics" in fields:
        numbers = engagement((state.now_dt() - post.created_at).total_seconds())
        tweet["public_metrics"] = {
            "retweet_count": numbers["shares"],
            "reply_count": numbers["comments"],
            "like_count": numbers["likes"],
            "quote_count": numbers["quotes"],
            "bookmark_count": numbers["bookmarks"],
            "impression_count": numbers["impressions"],
        }
    return tweet


def _tco(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as X shows it (links as t.co) and the url entities pointing back."""
    out, urls, last = [], [], 0
    for match in _URL.finditer(text):
        out.append(text[last : match.start()])
        short = "https://t.co/" + hashlib.sha256(match.group().encode()).hexdigest()[:10]
        start = sum(len(part) for part in out)
        out.append(short)
        urls.append(
            {
                "start": start,
                "end": start + len(short),
                "url": short,
                "expanded_url": match.group(),
                "display_url": match.group().split("://", 1)[1][:25],
            }
        )
        last = match.end()
    out.append(text[last:])
    return "".join(out), urls


def _authenticate(state: SandboxState, call: Call) -> XAccount | None:
    header = call.headers.get("authorization", "")
    if not header.startswith("OAuth "):
        return None
    params = dict(utils.parse_authorization_header(header))
    with state.lock():
        account = next(
            (
                a
                for a in state.x_accounts
                if a.consumer_key == params.get("oauth_consumer_key")
                and a.access_token == params.get("oauth_token")
            ),
            None,
        )
    if account is None or account.revoked:
        return None
    signer = Client(
        account.consumer_key,
        client_secret=account.consumer_secret,
        resource_owner_key=account.access_token,
        resource_owner_secret=account.access_token_secret,
    )
    provided = utils.unescape(str(params.get("oauth_signature", "")))
    for origin in PUBLIC_ORIGINS:
        collected = signature.collect_parameters(
            uri_query=call.raw_query, headers={"Authorization": header}
        )
        base = signature.signature_base_string(
            call.method,
            signature.base_string_uri(origin + call.path),
            signature.normalize_parameters(collected),
        )
        expected = signature.sign_hmac_sha1_with_client(base, signer)
        if hmac.compare_digest(str(expected), provided):
            return account
    return None
