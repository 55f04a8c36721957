"""A fake Telegram Bot API for exactly the calls crosspost makes.

``/bot<token>/getMe``, ``/getChat``, ``/sendMessage``, ``/deleteMessage`` (GET or POST, JSON
or form parameters). Answers use the Bot API envelope: ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": N}}``; Telegram
sends no rate-limit headers. The token sits in the path, so the request log keeps
`redact_path`'s version of it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from crosspost.domain.compose import utf16_units
from crosspost.sandbox.state import Post, SandboxState, TelegramBot
from crosspost.sandbox.wire import Call, Reply, json_reply

PLATFORM = "telegram"
MAX_TEXT_UNITS = 4096
"""sendMessage's limit, in UTF-16 code units (see `crosspost.domain.compose.utf16_units`)."""

_PATH = re.compile(r"^/bot([^/]+)/(\w+)$")
_URL = re.compile(r"https?://\S+")


def redact_path(path: str) -> str:
    """The path with the bot token replaced, for the request log."""
    return re.sub(r"^/bot[^/]+", "/bot<token>", path)


def error(code: int, description: str, retry_after: int | None = None) -> Reply:
    """The Bot API's failure envelope."""
    payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return json_reply(code, payload)


def rate_limited(retry_after: float) -> Reply:
    """Flood control: 429 with ``parameters.retry_after`` and no headers."""
    seconds = max(1, math.ceil(retry_after))
    return error(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)


def handle(state: SandboxState, call: Call) -> Reply:
    """Answer one Bot API call."""
    match = _PATH.match(call.path)
    if match is None:
        return error(404, "Not Found")
    token, method = match.groups()
    with state.lock():
        bot = next((b for b in state.telegram_bots if b.token == token), None)
    if bot is None or bot.revoked:
        return error(401, "Unauthorized")
    params = _params(call)
    if method == "getMe":
        user = {
            "id": int(bot.bot_id),
            "is_bot": True,
            "first_name": bot.first_name,
            "username": bot.username,
        }
        return json_reply(200, {"ok": True, "result": user})
    if method not in ("getChat", "sendMessage", "deleteMessage"):
        return error(404, "Not Found")
    if str(params.get("chat_id", "")) not in (bot.chat_id, "@" + bot.chat_username):
        return error(400, "Bad Request: chat not found")
    if method == "getChat":
        return json_reply(200, {"ok": True, "result": _chat(bot)})
    if method == "deleteMessage":
        return _delete(state, bot, str(params.get("message_id", "")))
    wait = state.over_limit("telegram:send", bot.bot_id)
    if wait is not None:
        return rate_limited(wait)
    return _send(state, bot, params)


def _send(state: SandboxState, bot: TelegramBot, params: dict[str, Any]) -> Reply:
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return error(400, "Bad Request: message text is empty")
    if utf16_units(text) > MAX_TEXT_UNITS:
        return error(400, "Bad Request: message is too long")
    links = _URL.findall(text)
    post = state.add_post(
        Post(
            platform=PLATFORM,
            account=bot.bot_id,
            id=str(state.next_seq()),
            text=text,
            link=links[0] if links else None,
            created_at=state.now_dt(),
        )
    )
    message = {
        "message_id": int(post.id),
        "sender_chat": _chat(bot),
        "chat": _chat(bot),
        "date": int(post.created_at.timestamp()),
        "text": text,
    }
    return json_reply(200, {"ok": True, "result": message})


def _delete(state: SandboxState, bot: TelegramBot, message_id: str) -> Reply:
    post = state.find_post(PLATFORM, message_id)
    if post is None or post.account != bot.bot_id:
        return error(400, "Bad Request: message to delete not found")
    with state.lock():
        post.deleted = True
    return json_reply(200, {"ok": True, "result": True})


def _chat(bot: TelegramBot) -> dict[str, Any]:
    return {
        "id": int(bot.chat_id),
        "type": "channel",
        "title": bot.chat_title,
        "username": bot.chat_username,
    }


def _params(call: Call) -> dict[str, Any]:
    body = call.json()
    if isinstance(body, dict):
        return body
    return {**call.query, **call.form}
