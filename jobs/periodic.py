"""Periodic jobs, run on RQ's cron by `crosspost worker` (see jobs/cron_config.py)."""

from __future__ import annotations


def sweep() -> dict[str, int]:
    """Queue due deliveries (also after Redis lost them), settle stuck and unconfirmed ones."""
    from crosspost.engine import current

    return current().sweep()


def ingest_due() -> dict[str, int]:
    """Poll every enabled source whose interval has passed."""
    from crosspost.engine import current

    return current().ingest_due()


def collect_metrics() -> dict[str, int]:
    """Read the engagement of published posts whose next reading (on the ladder) is due."""
    from crosspost.engine import current

    return current().collect_metrics().summary()
