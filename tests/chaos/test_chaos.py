"""The chaos run at CI size: 200 deliveries, 20 channels, 3 worker processes, every fault kind.

The full size is the same driver with one command (see tests/chaos/driver.py and
docs/reliability.md). The seed is random unless CROSSPOST_CHAOS_SEED is set; a failure names it,
so `python -m tests.chaos.driver --deliveries 200 --window 45 --seed N --keep DIR` replays the
fault plan (the timing of processes cannot be replayed exactly).
"""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest

from tests.chaos.driver import FAULT_KINDS, Config, run
from tests.conftest import REQUIRE_SERVERS, postgres_skip_reason

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _redis_server_missing() -> str | None:
    if shutil.which("redis-server"):
        return None
    try:
        from crosspost.queue.redis_server import redis_server_binary

        redis_server_binary()
    except Exception as exc:
        return f"no redis-server binary for the chaos run's own Redis: {exc}"
    return None


@pytest.mark.timeout(240)
def test_chaos_run_loses_nothing_doubles_nothing_and_keeps_time() -> None:
    reason = postgres_skip_reason() or _redis_server_missing()
    if reason:
        if REQUIRE_SERVERS:
            pytest.fail(reason)
        pytest.skip(reason)
    seed = int(os.environ.get("CROSSPOST_CHAOS_SEED") or random.randrange(1 << 30))
    result = run(
        Config(
            deliveries=200,
            channels=20,
            workers=3,
            window=45.0,
            lead=8.0,
            fault_every=5.0,
            settle_timeout=100.0,
            seed=seed,
        )
    )
    summary = json.dumps(result.summary(), indent=1, ensure_ascii=False)
    # The end state a citizen and an officer would notice: no post twice, none lost, on time.
    assert result.problems == [], f"seed {seed}:\n{summary}"
    assert sum(result.outcomes.values()) == 200, summary
    assert result.outcomes["published"] >= 150, summary
    # The run really was hostile: every kind of fault hit, and the drops hit some creates.
    missing = [kind for kind in FAULT_KINDS if result.faults[kind] == 0]
    assert missing == [], f"seed {seed}: faults never injected: {missing}\n{summary}"
    assert result.faults["accept_then_drop"] >= 1, summary
    assert result.restarts >= 3, summary  # mid-publish kill, cron leader, scheduler holder
