"""Reading the delivery ledger: lists for people and scripts, and the engine's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Channel, Delivery, DeliveryAttempt
from crosspost.domain.delivery import DeliveryStatus


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    article_id: int
    title: str
    channel: str
    platform: str
    timezone: str
    status: str
    due_at: datetime
    urgent: bool
    attempts: int
    post_id: str | None
    post_url: str | None
    published_at: datetime | None
    last_error: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    error: str | None
    retry_at: datetime | None


def list_deliveries(
    factory: sessionmaker[Session],
    *,
    statuses: Sequence[str] = (),
    channel: str | None = None,
    article_id: int | None = None,
    limit: int = 200,
) -> list[DeliveryView]:
    """Deliveries by due time (soonest first for live ones, newest first otherwise)."""
    with factory() as session:
        query = (
            select(Delivery, Article.title, Channel.name, Channel.platform, Channel.timezone)
            .join(Article, Article.id == Delivery.article_id)
            .join(Channel, Channel.id == Delivery.channel_id)
        )
        if statuses:
            query = query.where(Delivery.status.in_(list(statuses)))
        if channel is not None:
            query = query.where(Channel.name == channel)
        if article_id is not None:
            query = query.where(Delivery.article_id == article_id)
        live = bool(statuses) and set(statuses) <= {
            s.value
            for s in (DeliveryStatus.SCHEDULED, DeliveryStatus.SENDING, DeliveryStatus.UNCONFIRMED)
        }
        order = Delivery.due_at if live else Delivery.due_at.desc()
        rows = session.execute(query.order_by(order, Delivery.id).limit(limit)).all()
        return [
            DeliveryView(
                d.id,
                d.article_id,
                title,
                name,
                platform,
                zone,
                d.status,
                d.due_at,
                d.urgent,
                d.attempts,
                d.post_id,
                d.post_url,
                d.published_at,
                d.last_error,
                d.text,
            )
            for d, title, name, platform, zone in rows
        ]


def attempts(factory: sessionmaker[Session], delivery_id: int) -> list[AttemptView]:
    with factory() as session:
        return [
            AttemptView(a.started_at, a.finished_at, a.outcome, a.error, a.retry_at)
            for a in session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        ]


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    """Counts for `crosspost status`."""

    by_status: dict[str, int]
    due_now: int
    late: int
    paused_channels: list[tuple[str, str]]


def ledger_status(
    factory: sessionmaker[Session], *, now: datetime, late_after_seconds: int = 60
) -> LedgerStatus:
    from datetime import timedelta

    with factory() as session:
        by_status = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        due_now = (
            session.scalar(
                select(func.count()).where(
                    Delivery.status == DeliveryStatus.SCHEDULED, Delivery.due_at <= now
                )
            )
            or 0
        )
        late = (
            session.scalar(
                select(func.count()).where(
                    Delivery.status == DeliveryStatus.SCHEDULED,
                    Delivery.due_at <= now - timedelta(seconds=late_after_seconds),
                )
            )
            or 0
        )
        paused = [
            (name, reason or "")
            for name, reason in session.execute(
                select(Channel.name, Channel.paused_reason)
                .where(Channel.paused_at.is_not(None))
                .order_by(Channel.name)
            ).all()
        ]
    return LedgerStatus({str(k): int(v) for k, v in by_status.items()}, due_now, late, paused)
