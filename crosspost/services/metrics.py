"""Engagement collection: read the due posts' numbers, append snapshots, schedule the next read.

A round works channel by channel in three steps, like the delivery ledger: claim, call, record.

1. Claim (one short transaction): take up to `limit_per_channel` due posts of each channel, the
   longest-due first, and move their `metrics_due_at` to a lease, so a round running beside this
   one (`crosspost metrics collect` next to the worker, or an overlapping cron tick) does not read
   and store them twice. If the process dies after claiming, the lease expires and they are read
   again.
2. Call: one `fetch_metrics` per channel with all its claimed post ids (the adapter splits them
   into the fewest platform calls). No transaction is open meanwhile.
3. Record (one transaction per channel): one snapshot row per post and metric, all stamped with
   the round's time; the next poll time from the ladder; posts the platform no longer has are
   marked deleted and never polled again. A post the platform would not show (`unavailable`:
   no permission, a per-item error) gets no row but stays on the ladder, since such refusals are
   often temporary and the ladder ends by itself at its last step.

A channel whose call fails is put off as a whole (its claimed and its other due posts), so the
next round does not knock on it again at once: until `retry_after` when the platform said
(RetryLater, RateLimited: "deferred", not a failure) or `defer` later for any other error
("failed"). Other channels go on. Paused channels (refused credentials) are left out until
a check passes; their posts wait, still due.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel, Delivery, MetricSnapshot
from crosspost.db.session import transaction
from crosspost.domain.delivery import DeliveryStatus
from crosspost.domain.metrics import DEFAULT_LADDER, Step, next_poll
from crosspost.errors import CrosspostError, RetryLater
from crosspost.platforms.base import MetricsResult, Publisher
from crosspost.services import audit
from crosspost.services.ledger import WORKER

CLAIM_LEASE = timedelta(hours=1)
"""How long claimed posts are hidden from other rounds: longer than any round's calls take."""

DEFAULT_DEFER = timedelta(minutes=15)
"""How long a channel is put off after an error that gave no retry time (X's rate window)."""

_CHUNK = 1000
"""Ids per IN (...) list: SQLite limits the parameters of one statement."""


@dataclass(frozen=True, slots=True)
class ChannelRound:
    """What one round did on one channel.

    `outcome` is ``collected``, ``deferred`` (the platform said later: not a failure) or
    ``failed``; `reason` says why for the last two, `deferred_until` when the channel is next due.
    """

    channel: str
    platform: str
    outcome: str
    posts: int
    snapshots: int = 0
    deleted: int = 0
    unavailable: int = 0
    deferred_until: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CollectReport:
    """One collection round: its time and a line per channel that had due posts."""

    at: datetime
    channels: list[ChannelRound] = field(default_factory=list)

    @property
    def failed(self) -> list[ChannelRound]:
        """Channels whose reading failed (deferrals asked for by the platform are not failures)."""
        return [c for c in self.channels if c.outcome == "failed"]

    def summary(self) -> dict[str, int]:
        """Totals, small enough for a job's result and the worker's log."""
        return {
            "channels": len(self.channels),
            "posts": sum(c.posts for c in self.channels),
            "snapshots": sum(c.snapshots for c in self.channels),
            "deleted": sum(c.deleted for c in self.channels),
            "deferred": sum(1 for c in self.channels if c.outcome == "deferred"),
            "failed": len(self.failed),
        }


@dataclass(frozen=True, slots=True)
class _DuePost:
    delivery_id: int
    post_id: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class _Claimed:
    channel_id: int
    channel: str
    platform: str
    posts: list[_DuePost]


def collect_due(
    factory: sessionmaker[Session],
    *,
    publisher_for: Callable[[str], Publisher],
    now: datetime,
    ladder: Sequence[Step] = DEFAULT_LADDER,
    limit_per_channel: int = 5000,
    defer: timedelta = DEFAULT_DEFER,
    only: Collection[str] = (),
    actor: str = WORKER,
) -> CollectReport:
    """Read every due post's engagement once (per channel at most `limit_per_channel`, so a
    backlog drains over rounds), append snapshots and schedule the next reads.

    `only` limits the round to these channel names. A failing channel never stops the others.
    """
    report = CollectReport(at=now)
    for claimed in _claim(factory, now=now, limit=limit_per_channel, only=only):
        ids = [p.post_id for p in claimed.posts]
        try:
            result = publisher_for(claimed.channel).fetch_metrics(ids)
        except RetryLater as exc:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else defer
            until = _defer(factory, claimed, now=now, until=now + wait)
            report.channels.append(_put_off(claimed, "deferred", until, str(exc)))
        except CrosspostError as exc:  # refused, credentials gone, misconfigured channel
            until = _defer(factory, claimed, now=now, until=now + defer)
            report.channels.append(_put_off(claimed, "failed", until, str(exc)))
        else:
            report.channels.append(
                _record(factory, claimed, result, now=now, ladder=ladder, actor=actor)
            )
    return report


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Delivery.status == DeliveryStatus.PUBLISHED,
        Delivery.post_deleted_at.is_(None),
        Delivery.post_id.is_not(None),
        Delivery.published_at.is_not(None),
        Delivery.metrics_due_at <= now,
    ]


def _claim(
    factory: sessionmaker[Session], *, now: datetime, limit: int, only: Collection[str]
) -> list[_Claimed]:
    with transaction(factory) as session:
        channels = select(Channel.id, Channel.name, Channel.platform).where(
            Channel.paused_at.is_(None),
            Channel.id.in_(select(Delivery.channel_id).where(*_due(now))),
        )
        if only:
            channels = channels.where(Channel.name.in_(list(only)))
        claimed: list[_Claimed] = []
        for channel_id, name, platform in session.execute(channels.order_by(Channel.name)):
            rows = session.execute(
                select(Delivery.id, Delivery.post_id, Delivery.published_at)
                .where(*_due(now), Delivery.channel_id == channel_id)
                .order_by(Delivery.metrics_due_at, Delivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # PostgreSQL: a concurrent round skips them
            ).all()
            posts = [_DuePost(d, p, at) for d, p, at in rows if p and at]  # where says so
            if not posts:
                continue
            for chunk in _chunks([p.delivery_id for p in posts]):
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(chunk))
                    .values(metrics_due_at=now + CLAIM_LEASE)
                )
            claimed.append(_Claimed(channel_id, name, platform, posts))
    return claimed


def _record(
    factory: sessionmaker[Session],
    claimed: _Claimed,
    result: MetricsResult,
    *,
    now: datetime,
    ladder: Sequence[Step],
    actor: str,
) -> ChannelRound:
    snapshots: list[dict[str, Any]] = []
    schedule: list[dict[str, Any]] = []
    gone: list[_DuePost] = []
    unavailable = 0
    for post in claimed.posts:
        if post.post_id in result.deleted:
            gone.append(post)
            continue
        numbers = result.metrics.get(post.post_id)
        if numbers is None:
            unavailable += 1
        else:
            snapshots.extend(
                {"delivery_id": post.delivery_id, "taken_at": now, "name": name, "value": value}
                for name, value in sorted(numbers.items())
            )
        due = next_poll(post.published_at, now, ladder)
        schedule.append({"id": post.delivery_id, "metrics_due_at": due})
    with transaction(factory) as session:
        if snapshots:
            session.execute(insert(MetricSnapshot), snapshots)
        if schedule:
            session.execute(update(Delivery), schedule)  # bulk UPDATE by primary key
        for post in gone:
            _mark_deleted(session, post, claimed.channel, now=now, actor=actor)
    return ChannelRound(
        claimed.channel,
        claimed.platform,
        "collected",
        posts=len(claimed.posts),
        snapshots=len(snapshots),
        deleted=len(gone),
        unavailable=unavailable,
    )


def _mark_deleted(
    session: Session, post: _DuePost, channel: str, *, now: datetime, actor: str
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == post.delivery_id)
        .values(post_deleted_at=now, metrics_due_at=None, updated_at=now)
    )
    # Someone removed an official post outside crosspost: the audit trail should show when.
    audit.append(
        session,
        at=now,
        actor=actor,
        action="post-deleted",
        subject_type="delivery",
        subject_id=post.delivery_id,
        note=f"post {post.post_id} no longer exists on {channel}; engagement no longer read",
    )


def _defer(
    factory: sessionmaker[Session], claimed: _Claimed, *, now: datetime, until: datetime
) -> datetime:
    """Put off the channel's claimed posts and the rest of its due backlog until `until`."""
    with transaction(factory) as session:
        for chunk in _chunks([p.delivery_id for p in claimed.posts]):
            session.execute(
                update(Delivery).where(Delivery.id.in_(chunk)).values(metrics_due_at=until)
            )
        session.execute(
            update(Delivery)
            .where(*_due(now), Delivery.channel_id == claimed.channel_id)
            .values(metrics_due_at=until)
        )
    return until


def _put_off(claimed: _Claimed, outcome: str, until: datetime, reason: str) -> ChannelRound:
    return ChannelRound(
        claimed.channel,
        claimed.platform,
        outcome,
        posts=len(claimed.posts),
        deferred_until=until,
        reason=reason,
    )


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
