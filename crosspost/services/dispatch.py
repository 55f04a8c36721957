"""One delivery, end to end inside a worker: wait for its time, claim, publish, record, follow up.

The platform and the queue come in as ports, so this runs the same under RQ, in tests with
in-process workers, and in the demo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Delivery
from crosspost.domain.delivery import DeliveryStatus
from crosspost.errors import PublishError
from crosspost.platforms.base import OutgoingPost, Publisher
from crosspost.services import ledger
from crosspost.services.compose import Templates

log = logging.getLogger(__name__)

EARLY_WAIT_MAX = timedelta(seconds=5)
"""A job started this much before its due time waits; RQ may start scheduled jobs ~1 s early."""

RECONCILE_DELAY = ledger.UNCONFIRMED_SETTLE
"""How long after an unknown outcome the first reconciliation runs (not before it can settle)."""


class DeliveryQueue(Protocol):
    """What the engine needs from the job queue."""

    def enqueue_delivery(self, delivery_id: int, version: int, due_at: datetime) -> None: ...

    def enqueue_reconcile(self, delivery_id: int, at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: int
    result: str
    post_id: str | None = None


def deliver(
    factory: sessionmaker[Session],
    delivery_id: int,
    *,
    publisher_for: Callable[[str], Publisher],
    queue: DeliveryQueue,
    templates: Templates,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    holder: str | None = None,
) -> Outcome:
    """Publish one delivery if it is due and still ours to send; never before its due time.

    `holder` is this process's heartbeat id, recorded with the claim (see ledger.claim)."""
    with factory() as session:
        delivery = session.get(Delivery, delivery_id)
        due_at = delivery.due_at if delivery is not None else None
    if due_at is not None:
        early = due_at - clock()
        if timedelta(0) < early <= EARLY_WAIT_MAX:
            sleep(early.total_seconds())
    claimed = ledger.claim(factory, delivery_id, now=clock(), templates=templates, holder=holder)
    if isinstance(claimed, str):
        return Outcome(delivery_id, claimed)
    try:
        publisher = publisher_for(claimed.channel)
        post = publisher.publish(
            OutgoingPost(
                text=claimed.text,
                link=claimed.link,
                idempotency_key=f"crosspost-delivery-{delivery_id}",
                title=claimed.title or None,
                image_url=claimed.image_url,
            )
        )
    except PublishError as exc:
        nxt = ledger.record_failure(factory, claimed, exc, now=clock())
        if nxt is None:
            return Outcome(delivery_id, "claim-lost")
        log.info("delivery %s: %s (%s)", delivery_id, nxt.outcome, type(exc).__name__)
        if nxt.status == DeliveryStatus.SCHEDULED and not nxt.pause_channel:
            _requeue(factory, delivery_id, queue)
        elif nxt.status == DeliveryStatus.UNCONFIRMED:
            queue.enqueue_reconcile(delivery_id, clock() + RECONCILE_DELAY)
        return Outcome(delivery_id, nxt.outcome)
    except Exception:
        # A bug or a lost database between claim and record: the row stays in sending and the
        # sweep turns it into unconfirmed, which reconciliation settles. Never a blind resend.
        log.exception("delivery %s: unexpected error while publishing", delivery_id)
        raise
    if not ledger.record_success(factory, claimed, post, now=clock()):
        return Outcome(delivery_id, "claim-lost", post.post_id)
    return Outcome(delivery_id, "published", post.post_id)


def reconcile(
    factory: sessionmaker[Session],
    delivery_id: int,
    *,
    publisher_for: Callable[[str], Publisher],
    queue: DeliveryQueue,
    clock: Callable[[], datetime],
    actor: str = ledger.WORKER,
) -> ledger.Reconciled:
    """Settle one unconfirmed delivery and queue its resend when the post was not found."""
    result = ledger.reconcile(factory, delivery_id, publisher_for, now=clock(), actor=actor)
    if result.outcome == "rescheduled" and result.version is not None and result.due_at:
        queue.enqueue_delivery(delivery_id, result.version, result.due_at)
    return result


def _requeue(factory: sessionmaker[Session], delivery_id: int, queue: DeliveryQueue) -> None:
    with factory() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is not None and delivery.status == DeliveryStatus.SCHEDULED:
            queue.enqueue_delivery(delivery.id, delivery.version, delivery.due_at)
