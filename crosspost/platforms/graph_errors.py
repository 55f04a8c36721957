"""How Graph API failures map into crosspost's error tree.

Graph reports errors by ``code`` (and ``error_subcode``) in the body; the HTTP status says
little, and facebook-sdk ignores it anyway. Codes from Meta's "Handling Errors" and
"Rate Limits" guides (developers.facebook.com/docs/graph-api/guides/error-handling).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crosspost.errors import (
    CredentialsInvalid,
    Duplicate,
    OutcomeUnknown,
    PermissionDenied,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
    TooLong,
)
from crosspost.platforms.base import one_line
from crosspost.platforms.http import LastResponse

PLATFORM = "facebook"

DEFAULT_RATE_LIMIT_BACKOFF = 300.0
"""Seconds to wait after throttling without `estimated_time_to_regain_access`: Graph limits are
hourly rolling windows, so retrying within a minute only burns more quota."""

RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80000, 80015))
"""App (4), user (17), Page (32), feed-action (341), custom (613) and BUC (800xx) limits."""

CREDENTIAL_CODES = frozenset({102, 190, 2500})
"""Session invalid, token expired/revoked (190 with subcodes 458-467), no active token."""

PERMISSION_CODES = frozenset({3, 10, 368}) | frozenset(range(200, 300))
"""Missing capability or permission, or the account is blocked for a policy violation."""

TRANSIENT_CODES = frozenset({1, 2})
"""Unknown error and service unavailable: Graph says retry."""

NOT_FOUND = ((100, 33), (803, None))
"""(code, subcode) meaning the object does not exist (deleted, or never was)."""


def from_status(action: str, creating: bool, last: LastResponse | None) -> PublishError:
    """An answer facebook-sdk could not read (HTML 502 and friends): decide by status."""
    status = last.status if last is not None else 0
    message = f"facebook: could not {action}: HTTP {status or '?'} without a Graph error body"
    if status == 429:
        return RateLimited(message, platform=PLATFORM, code=str(status), retry_after=_backoff(last))
    if 400 <= status < 500:
        return Rejected(message, platform=PLATFORM, code=str(status))
    code = str(status) if status else None
    if creating:
        return OutcomeUnknown(message, platform=PLATFORM, code=code)
    return RetryLater(message, platform=PLATFORM, code=code)


def from_graph_body(
    error: Mapping[str, Any], action: str, creating: bool, last: LastResponse | None
) -> PublishError:
    """Map a Graph ``{"error": {...}}`` object by its code (the HTTP status says little)."""
    try:
        code = int(error.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    subcode = error.get("error_subcode")
    tag = f"{code}/{subcode}" if subcode else str(code)
    said = one_line(str(error.get("message", "")))
    message = f"facebook: could not {action}: ({tag}) {said}"
    if code in CREDENTIAL_CODES:
        return CredentialsInvalid(message, platform=PLATFORM, code=tag)
    if code == 506:
        return Duplicate(message, platform=PLATFORM, code=tag)
    if code in RATE_LIMIT_CODES:
        return RateLimited(message, platform=PLATFORM, code=tag, retry_after=_backoff(last))
    if code in PERMISSION_CODES:
        return PermissionDenied(message, platform=PLATFORM, code=tag)
    if code == 100 and "too long" in said.lower():
        return TooLong(message, platform=PLATFORM, code=tag)
    if code in TRANSIENT_CODES or error.get("is_transient") is True:
        # Graph says "retry", but a create that failed this way may still have gone through;
        # a double post on a government Page costs more than one reconciliation read.
        if creating:
            return OutcomeUnknown(message, platform=PLATFORM, code=tag)
        return RetryLater(message, platform=PLATFORM, code=tag)
    return Rejected(message, platform=PLATFORM, code=tag)


def is_not_found_code(tag: str | None) -> bool:
    return tag is not None and any(
        tag == (f"{code}/{sub}" if sub else str(code)) for code, sub in NOT_FOUND
    )


def _backoff(last: LastResponse | None) -> float:
    """Seconds from X-Business-Use-Case-Usage's estimated_time_to_regain_access (minutes)."""
    if last is not None:
        header = {k.lower(): v for k, v in last.headers.items()}.get("x-business-use-case-usage")
        try:
            usage = json.loads(header) if header else {}
            minutes = max(
                (
                    float(e.get("estimated_time_to_regain_access", 0))
                    for v in usage.values()
                    for e in v
                ),
                default=0.0,
            )
        except (ValueError, TypeError, AttributeError):
            minutes = 0.0
        if minutes > 0:
            return minutes * 60
    return DEFAULT_RATE_LIMIT_BACKOFF
