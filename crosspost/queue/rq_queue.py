"""The job queue on RQ: deterministic job ids, the JSON serializer, aware UTC times.

Redis only carries work; the database says what should happen. Every enqueue here is idempotent:
the job id derives from the delivery and its version, and RQ's `unique` check (through
`schedule_job` for future jobs: `enqueue_at` ignores `unique`) makes a second enqueue a no-op.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from crosspost.domain.delivery import job_id

log = logging.getLogger(__name__)

DELIVERIES = "crosspost-deliveries"
"""The queue that publishes; listed first so a worker takes posts before maintenance."""

MAINTENANCE = "crosspost-maintenance"
"""Sweeps, reconciliation, ingestion and other periodic work."""

DELIVERY_JOB = "jobs.deliver.deliver"
RECONCILE_JOB = "jobs.deliver.reconcile"

DELIVERY_TIMEOUT = 120
"""Seconds one delivery job may run (two platform calls with their timeouts, and margin)."""

FAILED_TTL = 7 * 24 * 3600
"""How long a crashed job stays in RQ's failed registry for inspection."""

_FINISHED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


class RQDeliveryQueue:
    """The DeliveryQueue port on RQ."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self.deliveries = Queue(DELIVERIES, connection=connection, serializer=JSONSerializer)
        self.maintenance = Queue(MAINTENANCE, connection=connection, serializer=JSONSerializer)

    def enqueue_delivery(self, delivery_id: int, version: int, due_at: datetime) -> None:
        """Queue the job for one scheduling of a delivery: now if due, else at `due_at`."""
        self._put(self.deliveries, DELIVERY_JOB, delivery_id, job_id(delivery_id, version), due_at)

    def enqueue_reconcile(self, delivery_id: int, at: datetime) -> None:
        """Queue a reconciliation of an unconfirmed delivery at `at`."""
        jid = f"reconcile-{delivery_id}-{int(at.timestamp())}"
        self._put(self.maintenance, RECONCILE_JOB, delivery_id, jid, at)

    def ensure_due(self, delivery_id: int, version: int, *, overdue: bool = False) -> str:
        """Make sure a due delivery's job is on the queue now (the sweep's safety net).

        RQ's scheduler may be dead (its lock holder was killed) or Redis may have lost the job;
        this moves a scheduled job to the queue itself, or creates the job again. With
        `overdue` (the delivery is still unclaimed well past its due time) a job RQ shows as
        started is created again too: its worker died before claiming it, and RQ would
        abandon it only minutes later. A second job is harmless; the claim decides who sends.
        Returns what it did: 'queued', 'moved', 'recreated' or 'present'.
        """
        jid = job_id(delivery_id, version)
        try:
            job = Job.fetch(jid, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            self._put(self.deliveries, DELIVERY_JOB, delivery_id, jid, None)
            return "queued"
        status = job.get_status(refresh=False)
        if status == JobStatus.SCHEDULED:
            with self.connection.pipeline() as pipe:
                self.deliveries.scheduled_job_registry.remove(job, pipeline=pipe)
                self.deliveries._enqueue_job(job, pipeline=pipe)
                pipe.execute()
            return "moved"
        if status in _FINISHED or (overdue and status == JobStatus.STARTED):
            # The job ran but the delivery is still due (e.g. its channel was paused then);
            # run it again: the claim decides whether anything is sent.
            job.delete()
            self._put(self.deliveries, DELIVERY_JOB, delivery_id, jid, None)
            return "recreated"
        return "present"

    def _put(
        self, queue: Queue, func: str, delivery_id: int, jid: str, at: datetime | None
    ) -> None:
        options: dict[str, Any] = {
            "job_id": jid,
            "job_timeout": DELIVERY_TIMEOUT,
            "result_ttl": 0,
            "failure_ttl": FAILED_TTL,
            "description": f"{func.rsplit('.', 1)[-1]} delivery {delivery_id}",
        }
        try:
            if at is None or at <= datetime.now(UTC):
                queue.enqueue(func, delivery_id, unique=True, **options)
            else:
                options["timeout"] = options.pop("job_timeout")
                job = queue.create_job(func, args=(delivery_id,), **options)
                queue.schedule_job(job, at.astimezone(UTC), unique=True)
        except DuplicateJobError:
            log.debug("job %s is already queued", jid)


def queue_counts(connection: Redis) -> dict[str, dict[str, int]]:
    """Per queue: waiting, scheduled, started and failed job counts (for `crosspost status`)."""
    counts: dict[str, dict[str, int]] = {}
    for name in (DELIVERIES, MAINTENANCE):
        q = Queue(name, connection=connection, serializer=JSONSerializer)
        counts[name] = {
            "queued": q.count,
            "scheduled": q.scheduled_job_registry.count,
            "started": q.started_job_registry.count,
            "failed": q.failed_job_registry.count,
        }
    return counts
