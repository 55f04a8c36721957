"""Each benchmark's `--smoke` run: tiny sizes, the bench's own checks, docs/benchmarks.md untouched.

The benches are not timed tests; these keep them working. A bench exits non-zero when any of its
checks fails (posts missing or doubled in the sandbox, deliveries not published, API calls above
the minimum, a re-poll that writes rows or makes more than one request per feed, a report that
fails or reads no index, ...), and these tests assert exit 0 and the bench's table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REQUIRE_SERVERS, postgres_skip_reason

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"


def smoke(script: str, *extra: str, timeout: float = 120) -> str:
    """Run `bench/<script> --smoke`; its stdout, after checking it passed and left the doc be."""
    before = DOC.read_bytes() if DOC.exists() else None
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} --smoke failed:\n{done.stdout}\n{done.stderr}"
    assert "FAILED" not in done.stdout
    assert (DOC.read_bytes() if DOC.exists() else None) == before, "--smoke touched the doc"
    return done.stdout


@pytest.mark.slow
def test_cli_bench_times_help_and_a_listing() -> None:
    out = smoke("cli.py")
    assert "`crosspost --help`" in out
    assert "`crosspost articles list` (1,000 articles)" in out


def test_reports_bench_on_sqlite() -> None:
    out = smoke("reports.py", "--database", "none")
    assert "| sqlite |" in out


@pytest.mark.postgres
def test_reports_bench_on_postgresql() -> None:
    """Also runs `crosspost report --format json` on PostgreSQL (numeric sums once broke it)."""
    reason = postgres_skip_reason()
    if reason:
        if REQUIRE_SERVERS:
            pytest.fail(reason)
        pytest.skip(reason)
    out = smoke("reports.py", "--database", POSTGRES_ADMIN_URL)
    assert "| postgresql |" in out


def test_ingest_bench_repolls_with_one_conditional_request_per_feed() -> None:
    out = smoke("ingest.py")
    assert "3 (3 conditional, 3 x 304)" in out  # 3 feeds in the smoke run


def test_metrics_bench_makes_the_minimum_calls() -> None:
    out = smoke("metrics.py")
    assert "6 / 6" in out  # X: 2 accounts x 250 posts / 100 per call, rounded up
    assert "10 / 10" in out  # Facebook: 2 Pages x 250 posts / 50 per batch


@pytest.mark.redis
@pytest.mark.slow
def test_dispatch_bench_against_its_baseline(redis_url: str) -> None:
    out = smoke("dispatch.py", "--redis", redis_url)
    assert "| 1 | 20 |" in out


@pytest.mark.redis
@pytest.mark.slow
def test_lateness_bench(redis_url: str) -> None:
    out = smoke("lateness.py", "--redis", redis_url)
    assert "| rq | 20 |" in out


@pytest.mark.redis
@pytest.mark.slow
def test_memory_bench(redis_url: str) -> None:
    out = smoke("memory.py", "--redis", redis_url)
    assert "worker, 40 deliveries" in out
