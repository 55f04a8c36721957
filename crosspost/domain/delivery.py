"""The delivery ledger's rules: states, what each platform outcome leads to, and backoff.

::

    scheduled ──claim──> sending ──ok──────────────> published
        ^                  │ ├──rejected──────────> failed
        │                  │ ├──outcome unknown───> unconfirmed ──found──> published
        │                  │ │                          └──not found──> scheduled
        └──retry later─────┘ └──credentials invalid──> scheduled (channel paused)
    scheduled ──article withdrawn / cancel──> cancelled

Pure: the services apply these decisions with conditional updates in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crosspost.errors import (
    CredentialsInvalid,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
)


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    CANCELLED = "cancelled"


LIVE = (DeliveryStatus.SCHEDULED, DeliveryStatus.SENDING, DeliveryStatus.UNCONFIRMED)
"""States in which a delivery may still become a post."""

BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
"""Waits after the 1st, 2nd, … failed attempt that may be retried."""

MAX_ATTEMPTS = 6
"""Counted attempts (rate limits and paused channels do not count) before a delivery fails."""

RATE_LIMIT_DEFAULT = timedelta(minutes=15)
"""Wait after a rate limit that came without a reset time (X's window is 15 minutes)."""

RATE_LIMIT_MAX = timedelta(hours=24)
"""A reset time further away than this is treated as bogus and capped."""


@dataclass(frozen=True, slots=True)
class Next:
    """What to do with a delivery after one attempt."""

    status: DeliveryStatus
    outcome: str
    retry_at: datetime | None = None
    counted: bool = True
    pause_channel: bool = False
    error: str | None = None
    error_kind: str | None = None


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` counted attempts (bounded)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def after_failure(exc: PublishError, *, attempts: int, now: datetime) -> Next:
    """The next state after a failed publish, from the adapter's error class.

    `attempts` counts this attempt. A rate limit waits for the platform's reset and does not use
    up an attempt; invalid credentials pause the channel and keep the delivery waiting.
    """
    message = str(exc)
    kind = type(exc).__name__
    if isinstance(exc, CredentialsInvalid):
        return Next(
            DeliveryStatus.SCHEDULED,
            "paused",
            now,
            counted=False,
            pause_channel=True,
            error=message,
            error_kind=kind,
        )
    if isinstance(exc, Rejected):
        return Next(DeliveryStatus.FAILED, "rejected", error=message, error_kind=kind)
    if isinstance(exc, OutcomeUnknown):
        return Next(DeliveryStatus.UNCONFIRMED, "unknown", error=message, error_kind=kind)
    if isinstance(exc, RateLimited):
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else RATE_LIMIT_DEFAULT
        wait = min(max(wait, timedelta(seconds=1)), RATE_LIMIT_MAX)
        return Next(
            DeliveryStatus.SCHEDULED,
            "rate_limited",
            now + wait,
            counted=False,
            error=message,
            error_kind=kind,
        )
    if isinstance(exc, RetryLater):
        if attempts >= MAX_ATTEMPTS:
            return Next(
                DeliveryStatus.FAILED,
                "gave_up",
                error=f"gave up after {attempts} attempts: {message}",
                error_kind=kind,
            )
        wait = backoff(attempts)
        if exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        return Next(DeliveryStatus.SCHEDULED, "retry", now + wait, error=message, error_kind=kind)
    # Any other PublishError is treated as "may have been posted": reconcile, never resend blindly.
    return Next(DeliveryStatus.UNCONFIRMED, "unknown", error=message, error_kind=kind)


def job_id(delivery_id: int, version: int) -> str:
    """The RQ job id of one scheduling of a delivery (RQ allows letters, digits, '_' and '-')."""
    return f"deliver-{delivery_id}-v{version}"
