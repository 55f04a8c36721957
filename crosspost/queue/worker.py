"""`crosspost worker`: an RQ worker with RQ's scheduler, plus the cron under a leader lock."""

from __future__ import annotations

import logging
import threading

from redis import Redis
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from crosspost.queue.cron import CronRunner, load_cron
from crosspost.queue.liveness import Heartbeat
from crosspost.queue.rq_queue import DELIVERIES, MAINTENANCE

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL = 30
"""Seconds between RQ maintenance runs (RQ's default of 600 leaves a dead scheduler dead for
up to 13 minutes; crosspost's sweep covers due deliveries within seconds anyway)."""

WORKER_TTL = 60
"""Seconds a silent idle worker is considered alive; short, so failover is quick. While the
in-process worker runs a job it sends no heartbeat and RQ keeps its key for the job's timeout
plus 60 s instead (3 minutes for a delivery); crosspost's sweep does not depend on either."""


def build_worker(connection: Redis, *, fork: bool, name: str | None = None) -> BaseWorker:
    """A worker on both queues, deliveries first, with the JSON serializer."""
    cls: type[BaseWorker] = Worker if fork else SimpleWorker
    return cls(
        [DELIVERIES, MAINTENANCE],
        connection=connection,
        serializer=JSONSerializer,
        name=name,
        maintenance_interval=MAINTENANCE_INTERVAL,
        worker_ttl=WORKER_TTL,
    )


def run_worker(
    connection: Redis,
    *,
    burst: bool,
    with_cron: bool,
    fork: bool,
    name: str | None = None,
    logging_level: str = "INFO",
) -> bool:
    """Work until stopped (or, with burst, until the queues are empty). Returns RQ's result."""
    worker = build_worker(connection, fork=fork, name=name)
    # Claims made in this process name its heartbeat, so the sweep soon sees if it dies.
    heartbeat = Heartbeat(connection).start()
    runner: CronRunner | None = None
    thread: threading.Thread | None = None
    if with_cron and not burst:
        runner = CronRunner(connection, load_cron(connection))
        thread = threading.Thread(target=runner.run, name="crosspost-cron", daemon=True)
        thread.start()
    try:
        return bool(worker.work(burst=burst, with_scheduler=True, logging_level=logging_level))
    finally:
        if runner is not None and thread is not None:
            runner.stop()
            thread.join(timeout=5)
        heartbeat.stop()
