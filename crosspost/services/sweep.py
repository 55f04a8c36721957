"""The periodic safety net: what is due, what is stuck, what needs reconciling.

Redis only carries work; this reads the truth from the database so that deliveries go out even
after Redis lost its data or RQ's scheduler died with its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel, Delivery
from crosspost.db.session import transaction
from crosspost.domain.delivery import DeliveryStatus
from crosspost.services import audit
from crosspost.services.ledger import WORKER


@dataclass(frozen=True, slots=True)
class Due:
    delivery_id: int
    version: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class SweepReport:
    due: list[Due] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)


def sweep(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    stuck_after: timedelta,
    lookahead: timedelta = timedelta(0),
    limit: int = 5000,
) -> SweepReport:
    """Mark deliveries stuck in sending (their worker died) unconfirmed, and list what is due
    and what waits for reconciliation."""
    with transaction(factory) as session:
        stuck_rows = session.scalars(
            select(Delivery)
            .where(
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.claimed_at < now - stuck_after,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for delivery in stuck_rows:
            delivery.status = DeliveryStatus.UNCONFIRMED
            delivery.claim_token = None
            delivery.updated_at = now
            delivery.last_error = "the worker stopped while publishing; outcome unknown"
            delivery.error_kind = "WorkerLost"
            audit.append(
                session,
                at=now,
                actor=WORKER,
                action="unconfirmed",
                subject_type="delivery",
                subject_id=delivery.id,
                from_state=DeliveryStatus.SENDING,
                to_state=DeliveryStatus.UNCONFIRMED,
                note=delivery.last_error,
            )
        stuck = [d.id for d in stuck_rows]
    with factory() as session:
        due = [
            Due(i, v, d)
            for i, v, d in session.execute(
                select(Delivery.id, Delivery.version, Delivery.due_at)
                .where(
                    Delivery.status == DeliveryStatus.SCHEDULED,
                    Delivery.due_at <= now + lookahead,
                    Delivery.channel_id.not_in(
                        select(Channel.id).where(Channel.paused_at.is_not(None))
                    ),
                )
                .order_by(Delivery.due_at)
                .limit(limit)
            ).all()
        ]
        unconfirmed = list(
            session.scalars(
                select(Delivery.id).where(Delivery.status == DeliveryStatus.UNCONFIRMED)
            )
        )
    return SweepReport(due, stuck, unconfirmed)
