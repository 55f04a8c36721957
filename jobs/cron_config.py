"""The periodic jobs, declared with RQ's own cron API.

`crosspost worker` loads this module into an `rq.cron.CronScheduler` and drives it under a
Redis leader lock, so one cron is active however many workers run. Do not start `rq cron` on it
by hand as well: RQ's cron has no lock and every job would run once per process.
"""

from __future__ import annotations

from rq import cron

from jobs import periodic

SWEEP_SECONDS = 5
"""How often due deliveries are checked; bounds lateness when RQ's scheduler is down."""

INGEST_CHECK_SECONDS = 60
"""How often sources are checked for being due (each has its own interval, default 5 min)."""

METRICS_CHECK_SECONDS = 60
"""How often due engagement readings are collected (each post's own times come from the ladder)."""

MAINTENANCE_QUEUE = "crosspost-maintenance"

cron.register(
    periodic.sweep,
    MAINTENANCE_QUEUE,
    interval=SWEEP_SECONDS,
    job_timeout=60,
    result_ttl=0,
    name="sweep",
)
cron.register(
    periodic.ingest_due,
    MAINTENANCE_QUEUE,
    interval=INGEST_CHECK_SECONDS,
    job_timeout=600,
    result_ttl=0,
    name="ingest",
)
cron.register(
    periodic.collect_metrics,
    MAINTENANCE_QUEUE,
    interval=METRICS_CHECK_SECONDS,
    job_timeout=3600,
    result_ttl=0,
    name="metrics",
)
