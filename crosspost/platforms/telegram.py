"""Telegram channels through the Bot API (plain `requests`, no SDK).

The bot must be an administrator of the channel (option ``chat``: ``@username`` or the
numeric ``-100…`` id). Three platform limits shape this adapter:

* the token is part of every URL path (``/bot<token>/sendMessage``). urllib3 logs request
  paths at DEBUG, so `_MaskBotToken` rewrites the ``/bot<token>`` segment in its records; and
  errors are raised outside the ``except`` blocks, so no chained requests exception (whose
  text carries the URL) travels with them;
* there is no idempotency: a send whose answer is lost may have posted (OutcomeUnknown);
* bots cannot read a channel's history or view counts, so `find_recent_by_link` finds nothing
  and `fetch_metrics` reports every post as unavailable (reports say "not available").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from crosspost.errors import (
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
    Secret,
    one_line,
)
from crosspost.platforms.http import PlatformTransport, RequestNotSent, mount_transport
from crosspost.platforms.registry import PLATFORMS

PLATFORM = "telegram"
"""The platform name used in configuration and errors."""

DEFAULT_API_BASE = PLATFORMS["telegram"].default_api_base
"""Where a channel without `api_base` goes (a local telegram-bot-api server also works)."""

DEFAULT_RATE_LIMIT_BACKOFF = 30.0
"""Seconds to wait after a 429 without ``parameters.retry_after`` (Telegram always sends one;
a proxy may not). Telegram's limits are unpublished: ~20 messages a minute per channel."""

_BOT_SEGMENT = re.compile(r"/bot[^/?#\s\"']+")


class _MaskBotToken(logging.Filter):
    """Replaces ``/bot<token>`` in urllib3's request-line records with ``/bot<token>``.

    Only Telegram puts a path segment starting with ``bot`` in its URLs; a segment of another
    platform that happened to start so would merely be shortened in a DEBUG line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "/bot" in a for a in record.args
        ):
            record.args = tuple(
                _BOT_SEGMENT.sub("/bot<token>", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "/bot" in record.msg:
            record.msg = _BOT_SEGMENT.sub("/bot<token>", record.msg)
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _MaskBotToken) for f in _logger.filters):
        _logger.addFilter(_MaskBotToken())


def build_telegram_publisher(connection: ChannelConnection) -> TelegramPublisher:
    """A publisher for one channel, its session routed through a PlatformTransport."""
    token = connection.credential("bot_token")
    chat = connection.option("chat")
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
    return TelegramPublisher(session, api_base=base, token=token, chat=chat)


class TelegramPublisher:
    """One Telegram channel, posted to by one bot."""

    platform = PLATFORM

    def __init__(
        self, session: requests.Session, *, api_base: str, token: Secret, chat: str
    ) -> None:
        self._session = session
        self._api_base = api_base
        self._token = token
        self._chat = chat

    def publish(self, post: OutgoingPost) -> PublishedPost:
        """`sendMessage` with the link preview on; a link missing from the text is appended.

        Telegram ignores `post.idempotency_key`: it has no such thing.
        """
        text = post.text
        if post.link and post.link not in text:
            text = f"{text}\n{post.link}"
        preview: dict[str, Any] = {"is_disabled": False}
        if post.link:
            preview["url"] = post.link
        message = self._call(
            "sendMessage",
            {"chat_id": self._chat, "text": text, "link_preview_options": preview},
            action="send a message",
            creating=True,
        )
        if not isinstance(message, Mapping) or not message.get("message_id"):
            raise OutcomeUnknown(
                "telegram: the answer to send a message had no message id", platform=PLATFORM
            )
        post_id = str(message["message_id"])
        chat = message.get("chat") or {}
        return PublishedPost(
            post_id=post_id,
            url=_message_url(chat, post_id),
            published_at=_time(message.get("date")),
            text=text,
            link=post.link,
        )

    def delete(self, post_id: str) -> None:
        """`deleteMessage`; a message that is already gone is not an error. (Telegram lets
        bots delete channel messages for 48 hours only; later it answers 400.)"""
        try:
            self._call(
                "deleteMessage",
                {"chat_id": self._chat, "message_id": int(post_id)},
                action="delete a message",
                creating=False,
            )
        except Rejected as exc:
            if "not found" not in str(exc).lower():
                raise

    def check_credentials(self) -> AccountInfo:
        """`getMe` (the token works), then `getChat` (the bot can see the channel)."""
        bot = self._call("getMe", {}, action="check credentials", creating=False)
        chat = self._call(
            "getChat", {"chat_id": self._chat}, action="check the channel", creating=False
        )
        bot = bot if isinstance(bot, Mapping) else {}
        chat = chat if isinstance(chat, Mapping) else {}
        return AccountInfo(
            account_id=str(bot.get("id", "")),
            name=str(chat.get("title") or bot.get("first_name") or ""),
            username=bot.get("username"),
        )

    def find_recent_by_link(
        self, link: str, since: datetime, text_fingerprint: str | None = None
    ) -> list[PublishedPost]:
        """Always empty: bots cannot read a channel's history.

        So an OutcomeUnknown on Telegram is settled as "not found" by reconciliation and the
        message is sent again: if the lost send had in fact posted, the channel shows it twice.
        That is the platform's limit; the engine's short read timeout keeps it rare.
        """
        return []

    def fetch_metrics(self, post_ids: Sequence[str]) -> MetricsResult:
        """No numbers: the Bot API has no view counter and reactions only arrive as pushed
        updates. Every post is reported unavailable, and no call is made."""
        return MetricsResult(unavailable=frozenset(post_ids))

    def _call(self, method: str, payload: Mapping[str, Any], *, action: str, creating: bool) -> Any:
        """POST one Bot API method; the ``result`` of a successful answer, else the mapped error.

        Errors are raised after the ``except`` blocks so no request exception (its text holds
        the URL, and so the token) is chained to them.
        """
        url = f"{self._api_base}/bot{self._token.reveal()}/{method}"
        failure: PublishError | None = None
        try:
            response = self._session.post(url, json=dict(payload))
        except RequestNotSent as exc:
            failure = RetryLater(f"telegram: could not {action}: {exc}", platform=PLATFORM)
        except requests.RequestException as exc:
            # AnswerLost names only the host; other requests errors may hold the URL.
            said = str(exc) if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            message = f"telegram: could not {action}: {said}"
            kind = OutcomeUnknown if creating else RetryLater
            failure = kind(message, platform=PLATFORM)
        if failure is not None:
            raise failure
        return _result(response, action, creating=creating)


def _result(response: requests.Response, action: str, *, creating: bool) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if isinstance(body, Mapping) and body.get("ok") is True and status < 400:
        return body.get("result")
    if isinstance(body, Mapping) and "error_code" in body:
        said = one_line(str(body.get("description", "")))
        parameters = body.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, Mapping) else None
    else:
        said, retry_after = "no Bot API answer", None
    raise _error(status, said, retry_after, action, creating=creating)


def _error(
    status: int, said: str, retry_after: Any, action: str, *, creating: bool
) -> PublishError:
    message = f"telegram: could not {action}: HTTP {status}: {said}"
    lowered = said.lower()
    code = str(status)
    if status == 429:
        try:
            wait = float(retry_after) if retry_after is not None else DEFAULT_RATE_LIMIT_BACKOFF
        except (TypeError, ValueError):
            wait = DEFAULT_RATE_LIMIT_BACKOFF
        return RateLimited(message, platform=PLATFORM, code=code, retry_after=wait)
    if status in (401, 404):
        # 404 "Not Found" is the Bot API's answer to a malformed token.
        return CredentialsInvalid(message, platform=PLATFORM, code=code)
    if status in (400, 403) and "too long" in lowered:
        return TooLong(message, platform=PLATFORM, code=code)
    if status == 403:
        return PermissionDenied(message, platform=PLATFORM, code=code)
    if status >= 500 or status < 400:
        if creating:
            return OutcomeUnknown(message, platform=PLATFORM, code=code)
        return RetryLater(message, platform=PLATFORM, code=code)
    return Rejected(message, platform=PLATFORM, code=code)


def _message_url(chat: Mapping[str, Any], message_id: str) -> str:
    """``t.me/<username>/<id>`` for public channels; ``t.me/c/<id>/<id>`` for private ones."""
    username = chat.get("username")
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    return f"https://t.me/c/{chat_id.removeprefix('-100')}/{message_id}"


def _time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.now(tz=UTC)
