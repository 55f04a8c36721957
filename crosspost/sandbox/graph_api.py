"""A fake Graph API for exactly the calls crosspost makes through facebook-sdk.

``POST /{page}/feed``, ``GET /{post}``, ``GET /me``, ``GET /{page}/published_posts``,
``DELETE /{post}`` and batch ``POST /`` (at most 50 operations), each under an optional
``/vNN.N`` prefix. Errors are Graph's ``{"error": {message, type, code, error_subcode,
fbtrace_id}}`` bodies; every answer is ``application/json`` with ``facebook-api-version`` and
``X-Business-Use-Case-Usage`` headers. The token is read from an ``Authorization: Bearer`` /
``OAuth`` header, the query or the form, as Graph does.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from crosspost.sandbox.state import GraphPage, Post, SandboxState, engagement
from crosspost.sandbox.wire import Call, Reply, json_reply

PLATFORM = "facebook"
DEFAULT_VERSION = "v21.0"
MAX_MESSAGE = 63206
MAX_BATCH = 50
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: (
        "(#80001) There have been too many calls to this Page account. Wait a bit and try again."
    ),
}
_VERSION = re.compile(r"^/(v\d+\.\d+)(?=/|$)")


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Graph's error body."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_hex(8)
    return json_reply(status, {"error": error}, headers)


def throttled(page_id: str, code: int, minutes: int = 5) -> Reply:
    """Graph's throttling answer for `code` (4, 17, 32, 613, 80001)."""
    usage = {
        page_id: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    message = THROTTLE_MESSAGES.get(code, f"(#{code}) Rate limit reached")
    return graph_error(400, code, message, headers={"X-Business-Use-Case-Usage": json.dumps(usage)})


def split_version(path: str) -> tuple[str, str]:
    """(version, rest) of a Graph path; the default version when the path has none."""
    match = _VERSION.match(path)
    if match is None:
        return DEFAULT_VERSION, path
    return match.group(1), path[match.end() :]


def handle(state: SandboxState, call: Call) -> Reply:
    """Answer one Graph call."""
    version, rest = split_version(call.path)
    token = _token(call)
    if not token:
        return graph_error(400, 104, "An access token is required to request this resource.")
    with state.lock():
        page = next((p for p in state.pages if p.access_token == token), None)
    if page is None:
        return graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
    if page.revoked:
        message = "Error validating access token: The session has been invalidated."
        return graph_error(400, 190, message, subcode=463)
    if rest in ("", "/") and call.method == "POST" and "batch" in call.form:
        reply = _batch(state, call, page, version)
    else:
        reply = _counted(state, call.method, rest, call.query | call.form, page, version)
    limit, remaining, _ = state.usage("facebook:calls", page.page_id)
    used = 100 - (remaining * 100 // limit if limit else 100)
    usage = [{"type": "pages", "call_count": used, "total_cputime": 1, "total_time": 1}]
    reply.headers.setdefault("X-Business-Use-Case-Usage", json.dumps({page.page_id: usage}))
    reply.headers.setdefault("facebook-api-version", version)
    return reply


def _counted(
    state: SandboxState, method: str, rest: str, args: dict[str, str], page: GraphPage, version: str
) -> Reply:
    if state.over_limit("facebook:calls", page.page_id) is not None:
        return throttled(page.page_id, 32)
    return _route(state, method, rest, args, page, version)


def _route(
    state: SandboxState, method: str, rest: str, args: dict[str, str], page: GraphPage, version: str
) -> Reply:
    parts = [p for p in rest.split("/") if p]
    if method == "POST" and len(parts) == 2 and parts[1] == "feed":
        return _create(state, parts[0], args, page)
    if method == "GET" and parts == ["me"]:
        return json_reply(200, _page_object(page, args.get("fields", "id,name")))
    if method == "GET" and len(parts) == 2 and parts[1] == "published_posts":
        return _published(state, parts[0], args, page, version)
    if len(parts) == 1 and method in ("GET", "DELETE"):
        if parts[0] == page.page_id and method == "GET":
            return json_reply(200, _page_object(page, args.get("fields", "id,name")))
        post = state.find_post(PLATFORM, parts[0])
        if post is None or post.account != page.page_id:
            return _no_object(method, parts[0])
        if method == "DELETE":
            with state.lock():
                post.deleted = True
            return json_reply(200, {"success": True})
        return json_reply(200, _post_object(state, post, args.get("fields", "id")))
    return graph_error(400, 100, f"Unknown path components: /{'/'.join(parts)}")


def _create(state: SandboxState, target: str, form: dict[str, str], page: GraphPage) -> Reply:
    if target != page.page_id:
        message = (
            "(#200) If posting to a page, requires both pages_read_engagement and "
            "pages_manage_posts as an admin with sufficient administrative permission"
        )
        return graph_error(403, 200, message)
    message, link = form.get("message", ""), form.get("link") or None
    if not message and not link:
        return graph_error(400, 100, "(#100) Missing message or attachment")
    if len(message) > MAX_MESSAGE:
        return graph_error(400, 100, f"(#100) The message is too long (over {MAX_MESSAGE}).")
    with state.lock():
        live = state.live_posts(PLATFORM, page.page_id)
        # Graph refuses a status identical to the Page's latest one.
        if live and _same(live[0], message, link):
            return graph_error(400, 506, "(#506) Duplicate status message")
        post_id = f"{page.page_id}_{100000000000000 + state.next_seq()}"
        state.add_post(Post(PLATFORM, page.page_id, post_id, message, link, state.now_dt()))
    return json_reply(200, {"id": post_id})


def _same(post: Post, message: str, link: str | None) -> bool:
    nfc = unicodedata.normalize
    return nfc("NFC", post.text) == nfc("NFC", message) and (post.link or None) == link


def _published(
    state: SandboxState, target: str, args: dict[str, str], page: GraphPage, version: str
) -> Reply:
    if target != page.page_id:
        return _no_object("GET", target)
    posts = state.live_posts(PLATFORM, page.page_id)
    if since := args.get("since"):
        posts = [p for p in posts if p.created_at.timestamp() >= float(since)]
    limit = max(1, min(100, int(args.get("limit", "25"))))
    offset = int(args.get("after") or 0)
    chunk = posts[offset : offset + limit]
    fields = args.get("fields", "id,created_time,message")
    paging: dict[str, Any] = {"cursors": {"before": str(offset), "after": str(offset + len(chunk))}}
    if offset + limit < len(posts):
        # Graph puts the token in "next" URLs; facebook-sdk's get_all_connections relies on it.
        query = {"access_token": page.access_token, "fields": fields, "limit": limit}
        query["after"] = str(offset + limit)
        paging["next"] = (
            f"https://graph.facebook.com/{version}/{target}/published_posts?{urlencode(query)}"
        )
    data = [_post_object(state, post, fields) for post in chunk]
    return json_reply(200, {"data": data, "paging": paging})


def _batch(state: SandboxState, call: Call, page: GraphPage, version: str) -> Reply:
    try:
        ops = json.loads(call.form["batch"])
    except ValueError:
        return graph_error(400, 100, "(#100) The parameter batch must be a JSON array")
    if not isinstance(ops, list) or len(ops) > MAX_BATCH:
        message = f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        return graph_error(400, 1, message, kind="GraphBatchException")
    answers = []
    for op in ops:
        parts = urlsplit("/" + str(op.get("relative_url", "")).lstrip("/"))
        _, rest = split_version(parts.path)
        args = dict(Call("GET", rest, parts.query, {}).query)
        reply = _counted(state, str(op.get("method", "GET")).upper(), rest, args, page, version)
        answers.append({"code": reply.status, "body": reply.body.decode("utf-8")})
    return json_reply(200, answers)


def _post_object(state: SandboxState, post: Post, fields: str) -> dict[str, Any]:
    page_id, _, number = post.id.partition("_")
    obj: dict[str, Any] = {"id": post.id}
    if "message" in fields and post.text:
        obj["message"] = post.text
    if "created_time" in fields:
        obj["created_time"] = post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000")
    if "permalink_url" in fields:
        obj["permalink_url"] = f"https://www.facebook.com/{page_id}/posts/{number}"
    if "attachments" in fields and post.link:
        shim = "https://l.facebook.com/l.php?u=" + quote(post.link, safe="")
        obj["attachments"] = {"data": [{"unshimmed_url": post.link, "url": shim}]}
    numbers = engagement((state.now_dt() - post.created_at).total_seconds())
    if "reactions" in fields:
        summary = {"total_count": numbers["likes"], "viewer_reaction": "NONE"}
        obj["reactions"] = {"data": [], "summary": summary}
    if "comments" in fields:
        summary = {"order": "ranked", "total_count": numbers["comments"], "can_comment": True}
        obj["comments"] = {"data": [], "summary": summary}
    if "shares" in fields and numbers["shares"]:
        obj["shares"] = {"count": numbers["shares"]}  # Graph omits shares when zero
    return obj


def _page_object(page: GraphPage, fields: str) -> dict[str, Any]:
    obj = {"id": page.page_id}
    if "name" in fields:
        obj["name"] = page.name
    return obj


def _no_object(method: str, object_id: str) -> Reply:
    verb = "delete" if method == "DELETE" else "get"
    message = (
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return graph_error(400, 100, message, kind="GraphMethodException", subcode=33)


def _token(call: Call) -> str:
    header = call.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value:
        return value.strip()
    return call.query.get("access_token") or call.form.get("access_token", "")
