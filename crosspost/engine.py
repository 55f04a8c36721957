"""The delivery engine as one process sees it: built once per process from the workspace.

RQ jobs (`jobs/`) and the CLI's worker, sweep and reconcile commands go through `current()`, which
reads the configuration named by CROSSPOST_CONFIG (the worker sets it for its jobs). It is keyed
by process id: a forked work-horse builds its own engine, database pool and clients instead of
sharing the parent's across fork().
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from redis import Redis

from crosspost.bootstrap import Workspace, open_workspace, utcnow
from crosspost.platforms.base import Publisher
from crosspost.platforms.registry import build_publisher
from crosspost.queue import liveness
from crosspost.queue.rq_queue import DELIVERY_TIMEOUT, RQDeliveryQueue
from crosspost.services import dispatch, metrics, scheduling
from crosspost.services.channels import connection_for, get_channel
from crosspost.services.compose import Templates
from crosspost.services.ledger import WORKER
from crosspost.services.sweep import sweep
from crosspost.services.tokens import store_for, token_cipher

STUCK_AFTER = timedelta(seconds=DELIVERY_TIMEOUT + 30)
"""A delivery in `sending` longer than a job may run has lost its worker."""

OVERDUE = dispatch.EARLY_WAIT_MAX + timedelta(seconds=5)
"""A delivery still unclaimed this long after its due time has lost the job that was to send
it, whatever RQ says (its worker died between taking the job and claiming the delivery)."""


@dataclass
class Engine:
    """Everything a worker needs, built from one workspace."""

    workspace: Workspace
    redis: Redis
    queue: RQDeliveryQueue = field(init=False)
    templates: Templates = field(init=False)
    _publishers: dict[str, Publisher] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = RQDeliveryQueue(self.redis)
        self.templates = Templates.for_workspace(self.workspace.settings.workspace)

    def publisher_for(self, channel: str) -> Publisher:
        """The channel's adapter, built once per process with credentials from the environment."""
        if channel not in self._publishers:
            ws = self.workspace
            view = get_channel(ws.factory, channel, ws.environ)
            store = store_for(
                ws.factory,
                view.id,
                view.platform,
                lambda: token_cipher(ws.environ, ws.settings.workspace),
                clock=utcnow,
            )
            connection = connection_for(view, ws.environ, token_store=store)
            if connection.platform == "facebook" and "metric_fields" not in connection.options:
                # The Graph fields read for engagement are configured once, in [metrics].
                fields = ",".join(ws.settings.metrics.facebook_fields)
                options = {**connection.options, "metric_fields": fields}
                connection = replace(connection, options=options)
            self._publishers[channel] = build_publisher(connection)
        return self._publishers[channel]

    def forget_publishers(self) -> None:
        """Build adapters afresh on next use (a channel's settings changed)."""
        self._publishers.clear()

    def deliver(self, delivery_id: int) -> str:
        outcome = dispatch.deliver(
            self.workspace.factory,
            delivery_id,
            publisher_for=self.publisher_for,
            queue=self.queue,
            templates=self.templates,
            clock=utcnow,
            sleep=time.sleep,
            holder=liveness.holder(),
        )
        return outcome.result

    def reconcile(self, delivery_id: int, actor: str = "worker") -> str:
        result = dispatch.reconcile(
            self.workspace.factory,
            delivery_id,
            publisher_for=self.publisher_for,
            queue=self.queue,
            clock=utcnow,
            actor=actor,
        )
        return result.outcome

    def sweep(self) -> dict[str, int]:
        """Queue what is due (moving jobs RQ's scheduler left behind), flag stuck sends, queue
        reconciliations, and auto-schedule approved articles of auto-schedule sources."""
        configured = {name: c.auto_schedule for name, c in self.workspace.settings.channels.items()}
        planned = scheduling.auto_schedule(
            self.workspace.factory, now=utcnow(), configured=configured
        )
        for p in planned:
            self.queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
        report = sweep(
            self.workspace.factory,
            now=utcnow(),
            stuck_after=STUCK_AFTER,
            dead_holders=lambda holders: liveness.dead_holders(self.redis, holders),
        )
        moved = 0
        overdue_before = utcnow() - OVERDUE
        for due in report.due:
            overdue = due.due_at < overdue_before
            if self.queue.ensure_due(due.delivery_id, due.version, overdue=overdue) != "present":
                moved += 1
        for delivery_id in report.unconfirmed:
            self.queue.enqueue_reconcile(delivery_id, utcnow())
        return {
            "auto_scheduled": len(planned),
            "due": len(report.due),
            "requeued": moved,
            "stuck": len(report.stuck),
            "unconfirmed": len(report.unconfirmed),
        }

    def ingest_due(self) -> dict[str, int]:
        """Poll the enabled sources whose own interval (or the default) has passed."""
        from crosspost.feeds import FeedFetcher
        from crosspost.services.ingest import ingest_all
        from crosspost.services.sources import list_sources

        settings = self.workspace.settings.ingest
        now = utcnow()
        due = [
            v.name
            for v in list_sources(self.workspace.factory, now=now, stale_after=timedelta(hours=1))
            if v.enabled
            and (
                v.last_run_at is None
                or now - v.last_run_at
                >= timedelta(minutes=v.interval_minutes or settings.interval_minutes)
            )
        ]
        if not due:
            return {"sources": 0, "new_articles": 0, "failed": 0}
        with FeedFetcher(settings) as fetcher:
            reports = ingest_all(
                self.workspace.factory, fetcher=fetcher, settings=settings, now=utcnow, only=due
            )
        return {
            "sources": len(reports),
            "new_articles": sum(r.new_articles for r in reports),
            "failed": sum(1 for r in reports if not r.ok),
        }

    def collect_metrics(
        self, *, only: Collection[str] = (), actor: str = WORKER
    ) -> metrics.CollectReport:
        """Read the engagement of every published post whose next reading is due."""
        settings = self.workspace.settings.metrics
        return metrics.collect_due(
            self.workspace.factory,
            publisher_for=self.publisher_for,
            now=utcnow(),
            ladder=settings.steps,
            limit_per_channel=settings.batch_per_channel,
            defer=timedelta(minutes=settings.defer_minutes),
            only=only,
            actor=actor,
        )

    def close(self) -> None:
        self.workspace.close()


_current: tuple[int, Engine] | None = None


def current() -> Engine:
    """This process's engine (a forked child builds its own)."""
    global _current
    if _current is None or _current[0] != os.getpid():
        from crosspost.queue.connection import connect

        config = os.environ.get("CROSSPOST_CONFIG")
        ws = open_workspace(Path(config) if config else None)
        _current = (os.getpid(), Engine(ws, connect(ws.settings)))
    return _current[1]


def install(engine: Engine) -> None:
    """Make `engine` this process's engine (the worker command built it already)."""
    global _current
    _current = (os.getpid(), engine)


def reset() -> None:
    """Forget this process's engine (after the configuration changed, and between tests)."""
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].close()
    _current = None
