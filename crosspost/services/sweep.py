"""The periodic safety net: what is due, what is stuck, what needs reconciling.

Redis only carries work; this reads the truth from the database so that deliveries go out even
after Redis lost its data or RQ's scheduler died with its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel, Delivery
from crosspost.db.session import transaction
from crosspost.domain.delivery import DeliveryStatus
from crosspost.services import audit
from crosspost.services.ledger import WORKER, claim_holder

HOLDER_GRACE = timedelta(seconds=5)
"""A send younger than this is never judged lost by its holder's missing heartbeat (the holder
may not have beaten yet after Redis came back)."""


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
    dead_holders: Callable[[Collection[str]], set[str]] | None = None,
    holder_grace: timedelta = HOLDER_GRACE,
) -> SweepReport:
    """Mark deliveries stuck in sending (their worker died) unconfirmed, and list what is due
    and what waits for reconciliation.

    A send is stuck when it was claimed longer ago than `stuck_after` (the longest a job may
    run), or, sooner, when its claim names a heartbeat holder that `dead_holders` reports dead
    and it is older than `holder_grace`.
    """
    lost: dict[int, str] = {}
    if dead_holders is not None:
        with factory() as session:
            claims = session.execute(
                select(Delivery.id, Delivery.claim_token).where(
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.claimed_at < now - holder_grace,
                )
            ).all()
        named = {i: (t, claim_holder(t)) for i, t in claims}
        dead = dead_holders({h for _, h in named.values() if h is not None})
        lost = {i: t for i, (t, h) in named.items() if h is not None and h in dead and t}
    with transaction(factory) as session:
        stuck_rows = session.scalars(
            select(Delivery)
            .where(
                Delivery.status == DeliveryStatus.SENDING,
                or_(
                    Delivery.claimed_at < now - stuck_after,
                    # still held by the same (dead) claim, not a new one taken since
                    Delivery.claim_token.in_(list(lost.values())),
                ),
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
        # A paused channel's credentials are refused: reconciling would only be refused too.
        unconfirmed = list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.status == DeliveryStatus.UNCONFIRMED,
                    Delivery.channel_id.not_in(
                        select(Channel.id).where(Channel.paused_at.is_not(None))
                    ),
                )
            )
        )
    return SweepReport(due, stuck, unconfirmed)
