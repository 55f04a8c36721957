"""Zalo's answers: errors come in the JSON body, mostly with HTTP 200 (``{"error": -216,
"message": …}``), and are mapped here onto the adapter's three outcomes (platform_contracts.md
§3; the codes come from third-party sources, not Zalo's own documentation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from crosspost.platforms.base import one_line

PLATFORM = "zalo"
"""The platform name used in configuration and errors."""
DEFAULT_RATE_LIMIT_BACKOFF = 60.0
"""Seconds to wait after -32 ("reached limit call api"): Zalo sends no reset time."""
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

EXPIRED_TOKEN = frozenset({-216, -220})
"""Access token invalid or expired: refresh once and repeat the call."""
_NO_PERMISSION = {-204, -205, -209, -212, -221, -223, -224, -230, -232}
_BAD_CREDENTIALS = {-219, -242}


def error_for(
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
        return RateLimited(message, platform=PLATFORM, code=tag, retry_after=until_midnight())
    if code == -214:
        return RetryLater(message, platform=PLATFORM, code=tag)
    if code in EXPIRED_TOKEN or code in _BAD_CREDENTIALS:
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


def until_midnight() -> float:
    local = datetime.now(VIETNAM)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    return (midnight - local).total_seconds()


def retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_RATE_LIMIT_BACKOFF
    except ValueError:
        seconds = DEFAULT_RATE_LIMIT_BACKOFF
    return max(1.0, seconds)


def json_body(response: requests.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None
