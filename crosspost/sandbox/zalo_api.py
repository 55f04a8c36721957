"""A fake Zalo OA Open API (and its OAuth token endpoint) for exactly the calls crosspost makes.

``POST /v4/oa/access_token`` (form, header ``secret_key``; refresh tokens are single-use and
rotate), ``GET /v2.0/oa/getoa``, ``POST /v2.0/article/create`` → processing token, ``POST
/v2.0/article/verify`` (answers -214 "being processed" `zalo_processing_polls` times first),
``GET /v2.0/article/getslice``, ``GET /v2.0/article/getdetail``, ``POST /v2.0/article/remove``,
``POST /v2.0/oa/message`` (broadcast; -234 between 22:00 and 06:00 Vietnam time, sandbox clock).

As on Zalo, errors come with HTTP 200 and a non-zero ``error`` in the body; the access token
travels in an ``access_token`` header. The error codes and shapes follow third-party sources
(platform_contracts.md §3), not Zalo's own documentation.
"""

from __future__ import annotations

import hashlib
import re
from datetime import time as clock_time
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from crosspost.sandbox.state import Post, SandboxState, ZaloOA
from crosspost.sandbox.wire import Call, Reply, json_reply

PLATFORM = "zalo"
ACCESS_TOKEN_SECONDS = 90000
"""25 hours, sent as the string "90000" as Zalo does."""
TITLE_MAX = 150
DESCRIPTION_MAX = 300
NIGHT = (clock_time(22), clock_time(6))
"""Broadcasts are refused from 22:00 to 06:00 (Asia/Ho_Chi_Minh)."""

_URL = re.compile(r"https?://\S+")
_VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def error(code: int, message: str) -> Reply:
    """Zalo's failure answer: HTTP 200, the code in the body."""
    return json_reply(200, {"error": code, "message": message})


def ok(data: Any) -> Reply:
    """Zalo's success answer."""
    return json_reply(200, {"error": 0, "message": "Success", "data": data})


def rate_limited() -> Reply:
    """-32: the app reached its call limit (no reset time given)."""
    return error(-32, "Your application reached limit call api")


def handle(state: SandboxState, call: Call) -> Reply:
    """Answer one Zalo call."""
    if call.path == "/v4/oa/access_token":
        return _token(state, call)
    oa, refusal = _authorise(state, call.headers.get("access_token", ""))
    if oa is None:
        return refusal
    if state.over_limit("zalo:calls", oa.oa_id) is not None:
        return rate_limited()
    route = (call.method, call.path)
    if route == ("GET", "/v2.0/oa/getoa"):
        return ok({"oa_id": oa.oa_id, "name": oa.name, "is_verified": True, "num_follower": 1200})
    if route == ("POST", "/v2.0/article/create"):
        return _create(state, oa, call.json())
    if route == ("POST", "/v2.0/article/verify"):
        return _verify(state, call.json())
    if route == ("GET", "/v2.0/article/getslice"):
        return _slice(state, oa, call.query)
    if route == ("GET", "/v2.0/article/getdetail"):
        return _detail(state, oa, call.query.get("id", ""))
    if route == ("POST", "/v2.0/article/remove"):
        return _remove(state, oa, call.json())
    if route == ("POST", "/v2.0/oa/message"):
        return _broadcast(state, oa, call.json())
    return error(-209, "API is not supported")


def _token(state: SandboxState, call: Call) -> Reply:
    form = dict(parse_qsl(call.body.decode("utf-8", "replace")))
    with state.lock():
        oa = next((o for o in state.zalo_oas if o.app_id == form.get("app_id")), None)
        if oa is None or call.headers.get("secret_key") != oa.app_secret:
            return _oauth_error(-14002, "invalid_app", "app_id or secret_key is invalid")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(-14001, "invalid_grant", "grant_type is not supported here")
        if oa.revoked or form.get("refresh_token") != oa.refresh_token:
            return _oauth_error(
                -14014, "invalid_refresh_token", "Refresh token is invalid or has been used"
            )
        seq = state.next_seq()
        access = f"{oa.token_prefix}-access-{oa.oa_id}-{seq}"
        oa.refresh_token = f"{oa.token_prefix}-refresh-{oa.oa_id}-{seq}"
        oa.access_tokens[access] = state.now() + ACCESS_TOKEN_SECONDS
        return json_reply(
            200,
            {
                "access_token": access,
                "refresh_token": oa.refresh_token,
                "expires_in": str(ACCESS_TOKEN_SECONDS),
            },
        )


def _oauth_error(code: int, name: str, description: str) -> Reply:
    return json_reply(200, {"error": code, "error_name": name, "error_description": description})


def _authorise(state: SandboxState, token: str) -> tuple[ZaloOA | None, Reply]:
    with state.lock():
        for oa in state.zalo_oas:
            expires = oa.access_tokens.get(token)
            if expires is None:
                continue
            if oa.revoked:
                return None, error(-216, "Access token is invalid")
            if expires <= state.now():
                return None, error(-220, "Access token has expired")
            return oa, Reply(200)
    return None, error(-216, "Access token is invalid")


def _create(state: SandboxState, oa: ZaloOA, body: Any) -> Reply:
    if not isinstance(body, dict):
        return error(-201, "Parameters are invalid")
    title = body.get("title")
    description = body.get("description") or ""
    cover = body.get("cover") or {}
    if not isinstance(title, str) or not title.strip():
        return error(-201, "title is invalid!")
    if len(title) > TITLE_MAX or len(str(description)) > DESCRIPTION_MAX:
        return error(-210, "Parameter exceeds limit")
    if not isinstance(cover, dict) or not cover.get("photo_url"):
        return error(-201, "cover is invalid!")
    blocks = body.get("body") or []
    content = " ".join(str(b.get("content", "")) for b in blocks if isinstance(b, dict))
    links = _URL.findall(content)
    with state.lock():
        seq = state.next_seq()
        article_id = hashlib.md5(f"zalo-article-{seq}".encode(), usedforsecurity=False).hexdigest()
        token = f"zalo-processing-{seq}"
        state.zalo_processing[token] = [article_id, state.zalo_processing_polls]
        state.add_post(
            Post(
                platform=PLATFORM,
                account=oa.oa_id,
                id=article_id,
                text=str(description),
                link=links[0] if links else None,
                created_at=state.now_dt(),
                title=title,
                cover=str(cover["photo_url"]),
            )
        )
    return ok({"token": token})


def _verify(state: SandboxState, body: Any) -> Reply:
    token = body.get("token") if isinstance(body, dict) else None
    with state.lock():
        entry = state.zalo_processing.get(str(token))
        if entry is None:
            return error(-201, "token is invalid")
        if entry[1] > 0:
            entry[1] -= 1
            return error(-214, "Article is being processed")
        return ok({"id": entry[0]})


def _mine(state: SandboxState, oa: ZaloOA) -> list[Post]:
    return state.live_posts(PLATFORM, oa.oa_id)


def _media(state: SandboxState, post: Post) -> dict[str, Any]:
    from crosspost.sandbox.state import engagement

    numbers = engagement((state.now_dt() - post.created_at).total_seconds())
    return {
        "id": post.id,
        "type": "normal",
        "title": post.title,
        "status": "show",
        "total_view": numbers["impressions"],
        "total_share": numbers["shares"],
        "create_date": int(post.created_at.timestamp() * 1000),
        "update_date": int(post.created_at.timestamp() * 1000),
        "thumb": "https://sandbox.invalid/cover.jpg",
        "link_view": f"https://zalo.me/sandbox/article/{post.id}",
    }


def _slice(state: SandboxState, oa: ZaloOA, query: dict[str, str]) -> Reply:
    try:
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", "10"))
    except ValueError:
        return error(-201, "offset or limit is invalid")
    if not 0 < limit <= 10 or offset < 0:
        return error(-201, "limit must be between 1 and 10")
    posts = _mine(state, oa)
    page = posts[offset : offset + limit]
    return ok({"medias": [_media(state, p) for p in page], "total": len(posts)})


def _detail(state: SandboxState, oa: ZaloOA, article_id: str) -> Reply:
    post = state.find_post(PLATFORM, article_id)
    if post is None or post.account != oa.oa_id:
        return error(-201, "Article is not exist")
    body = [{"type": "text", "content": post.text}]
    if post.link:
        body.append({"type": "text", "content": f"Xem chi tiết: {post.link}"})
    return ok({**_media(state, post), "description": post.text, "body": body})


def _remove(state: SandboxState, oa: ZaloOA, body: Any) -> Reply:
    article_id = str(body.get("id", "")) if isinstance(body, dict) else ""
    post = state.find_post(PLATFORM, article_id)
    if post is None or post.account != oa.oa_id:
        return error(-201, "Article is not exist")
    with state.lock():
        post.deleted = True
    return ok({"id": article_id})


def _broadcast(state: SandboxState, oa: ZaloOA, body: Any) -> Reply:
    local = state.now_dt().astimezone(_VIETNAM).time()
    if local >= NIGHT[0] or local < NIGHT[1]:
        return error(-234, "Cannot send broadcast message at night (22h-6h)")
    try:
        elements = body["message"]["attachment"]["payload"]["elements"]
        article_id = str(elements[0]["attachment_id"])
    except (KeyError, IndexError, TypeError):
        return error(-201, "message is invalid")
    post = state.find_post(PLATFORM, article_id)
    if post is None or post.account != oa.oa_id:
        return error(-201, "Article is not exist")
    with state.lock():
        post.broadcasts += 1
        seq = state.next_seq()
    return ok({"message_id": f"zalo-message-{seq}"})
