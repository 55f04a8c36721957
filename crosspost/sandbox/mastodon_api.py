"""A fake Mastodon instance for exactly the calls crosspost makes.

``POST /api/v1/statuses`` (form or JSON, honouring ``Idempotency-Key`` for an hour per
account: the same key answers the original status and posts nothing), ``GET`` and ``DELETE
/api/v1/statuses/:id``, ``GET /api/v1/accounts/verify_credentials``, ``GET
/api/v1/accounts/:id/statuses`` (newest first, ``limit`` ≤ 40, ``max_id`` paging). Errors are
``{"error": "…"}``; every authenticated answer carries ``X-RateLimit-*`` with an ISO 8601 reset.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from crosspost.domain.compose import mastodon_length
from crosspost.sandbox.state import MastodonAccount, Post, SandboxState, engagement
from crosspost.sandbox.wire import Call, Reply, json_reply

PLATFORM = "mastodon"
MAX_CHARACTERS = 500
IDEMPOTENCY_SECONDS = 3600.0
"""How long the instance remembers an Idempotency-Key (Mastodon: 1 hour)."""

TOO_LONG = f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"
_STATUS_PATH = re.compile(r"^/api/v1/statuses/(\d+)$")
_ACCOUNT_STATUSES = re.compile(r"^/api/v1/accounts/(\d+)/statuses$")
_URL = re.compile(r"https?://\S+")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Mastodon's error body."""
    return json_reply(status, {"error": message}, headers)


def rate_limited(state: SandboxState, reset_in: float) -> Reply:
    """429 with the X-RateLimit-* headers, the reset as an ISO 8601 time."""
    reset = datetime.fromtimestamp(state.now() + reset_in, tz=UTC)
    return error(
        429,
        "Too many requests",
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(reset),
        },
    )


def handle(state: SandboxState, call: Call) -> Reply:
    """Answer one Mastodon API call."""
    account = _authenticate(state, call)
    if account is None:
        return error(401, "The access token is invalid")
    wait = state.over_limit("mastodon:calls", account.account_id)
    if wait is not None:
        return rate_limited(state, wait)
    reply = _route(state, call, account)
    limit, remaining, reset = state.usage("mastodon:calls", account.account_id)
    reply.headers.setdefault("X-RateLimit-Limit", str(limit))
    reply.headers.setdefault("X-RateLimit-Remaining", str(remaining))
    reply.headers.setdefault("X-RateLimit-Reset", _iso(datetime.fromtimestamp(reset, tz=UTC)))
    return reply


def _route(state: SandboxState, call: Call, account: MastodonAccount) -> Reply:
    if call.path == "/api/v1/statuses" and call.method == "POST":
        return _create(state, call, account)
    if call.path == "/api/v1/accounts/verify_credentials" and call.method == "GET":
        return json_reply(200, _account(account))
    if m := _STATUS_PATH.match(call.path):
        post = state.find_post(PLATFORM, m.group(1))
        if post is None or call.method not in ("GET", "DELETE"):
            return error(404, "Record not found")
        if call.method == "DELETE":
            if post.account != account.account_id:
                return error(404, "Record not found")  # Mastodon hides others' statuses
            with state.lock():
                post.deleted = True
            return json_reply(200, {**_status(state, post, account), "text": post.text})
        return json_reply(200, _status(state, post, _owner(state, post) or account))
    if (m := _ACCOUNT_STATUSES.match(call.path)) and call.method == "GET":
        return _timeline(state, call, m.group(1))
    return error(404, "Record not found")


def _create(state: SandboxState, call: Call, account: MastodonAccount) -> Reply:
    body = call.json()
    params: dict[str, Any] = body if isinstance(body, dict) else call.form
    text = params.get("status")
    key = call.headers.get("idempotency-key")
    with state.lock():
        if key:
            seen = state.idempotency.get((account.account_id, key))
            if seen is not None and state.now() - seen[1] < IDEMPOTENCY_SECONDS:
                original = next(p for p in state.posts if p.id == seen[0])
                return json_reply(200, _status(state, original, account))
        if not isinstance(text, str) or not text.strip():
            return error(422, "Validation failed: Text can't be blank")
        if mastodon_length(text) > MAX_CHARACTERS:
            return error(422, TOO_LONG)
        links = _URL.findall(text)
        post = state.add_post(
            Post(
                platform=PLATFORM,
                account=account.account_id,
                id=_snowflake(state),
                text=text,
                link=links[0] if links else None,
                created_at=state.now_dt(),
            )
        )
        if key:
            state.idempotency[(account.account_id, key)] = (post.id, state.now())
    return json_reply(200, _status(state, post, account))


def _timeline(state: SandboxState, call: Call, account_id: str) -> Reply:
    with state.lock():
        owner = next((a for a in state.mastodon_accounts if a.account_id == account_id), None)
    if owner is None:
        return error(404, "Record not found")
    posts = state.live_posts(PLATFORM, account_id)
    if max_id := call.query.get("max_id"):
        posts = [p for p in posts if int(p.id) < int(max_id)]
    limit = max(1, min(40, int(call.query.get("limit") or 20)))
    return json_reply(200, [_status(state, p, owner) for p in posts[:limit]])


def _status(state: SandboxState, post: Post, account: MastodonAccount) -> dict[str, Any]:
    numbers = engagement((state.now_dt() - post.created_at).total_seconds())
    return {
        "id": post.id,
        "created_at": _iso(post.created_at),
        "visibility": "public",
        "language": "vi",
        "uri": f"https://{account.domain}/users/{account.username}/statuses/{post.id}",
        "url": f"https://{account.domain}/@{account.username}/{post.id}",
        "content": _html(post.text),
        "replies_count": numbers["comments"],
        "reblogs_count": numbers["shares"],
        "favourites_count": numbers["likes"],
        "account": _account(account),
    }


def _account(account: MastodonAccount) -> dict[str, Any]:
    return {
        "id": account.account_id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "url": f"https://{account.domain}/@{account.username}",
    }


def _html(text: str) -> str:
    """The status text as Mastodon renders it: paragraphs, <br />, links as anchors."""

    def line(raw: str) -> str:
        out, last = [], 0
        for match in _URL.finditer(raw):
            url = html.escape(match.group())
            out += [html.escape(raw[last : match.start()])]
            out += [f'<a href="{url}" rel="nofollow noopener" target="_blank">{url}</a>']
            last = match.end()
        return "".join([*out, html.escape(raw[last:])])

    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    rendered = ("<br />".join(line(x) for x in p.split("\n")) for p in paragraphs)
    return "".join(f"<p>{p}</p>" for p in rendered)


def _snowflake(state: SandboxState) -> str:
    """Mastodon ids: milliseconds since 1970 in the top bits, a sequence in the low 16."""
    return str((int(state.now() * 1000) << 16) | (state.next_seq() & 0xFFFF))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _owner(state: SandboxState, post: Post) -> MastodonAccount | None:
    with state.lock():
        return next((a for a in state.mastodon_accounts if a.account_id == post.account), None)


def _authenticate(state: SandboxState, call: Call) -> MastodonAccount | None:
    header = call.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header.removeprefix("Bearer ").strip()
    with state.lock():
        account = next((a for a in state.mastodon_accounts if a.access_token == token), None)
    return None if account is None or account.revoked else account
