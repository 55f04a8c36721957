"""The engine across real worker processes: racing workers, killed workers, dead schedulers.

Every worker here is a separate `crosspost worker` process started from the console script, on
the rig's workspace (its database, Redis database and sandbox). Each runs in a process group of
its own and is SIGKILLed with its children, as a container runtime kills a service; every group
is killed at the end of its test however the test ends (`processes.worker_processes`), and every
wait is bounded. Assertions are on what the sandbox recorded (what the public would see) as well
as on crosspost's rows.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from crosspost.bootstrap import utcnow
from crosspost.db.models import DeliveryAttempt
from crosspost.domain.delivery import job_id
from crosspost.engine import STUCK_AFTER
from crosspost.queue.cron import LOCK_KEY as CRON_LOCK
from crosspost.queue.cron import CronRunner, load_cron
from crosspost.queue.rq_queue import DELIVERIES, DELIVERY_JOB
from crosspost.services import ledger
from crosspost.services.deliveries import list_deliveries
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sweep import sweep
from tests.integration.engine.conftest import Rig
from tests.integration.engine.processes import wait_for, worker_processes

SCHEDULER_LOCK = f"rq:scheduler-lock:{DELIVERIES}"
"""RQ's scheduler lock for the deliveries queue (TTL 61 s, refreshed each second by its holder)."""

LEADER_LINE = "cron: this worker now runs the periodic jobs"

_STARTED_JOB = re.compile(
    r"Worker (\S+): crosspost-[a-z]+: (?!Job OK )\S.* \(([A-Za-z0-9_-]+)\)\s*$", re.M
)
"""RQ's INFO line when a worker starts a job: `Worker <name>: <queue>: <description> (<id>)`
(not its `Job OK (<id>)` line when the job ends)."""

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For the slow tests: the racing and killed-worker tests cover PostgreSQL."""


def _started_jobs(log: str) -> list[str]:
    """The ids of the jobs a worker log shows as started, in order."""
    return [m.group(2) for m in _STARTED_JOB.finditer(log)]


def _x_creates(rig: Rig) -> int:
    return len(rig.sandbox.requests("x", method="POST", path="/2/tweets"))


def _fb_creates(rig: Rig) -> int:
    return len(rig.sandbox.requests("facebook", method="POST", path="/feed"))


@pytest.mark.slow
def test_two_worker_processes_racing_on_the_same_deliveries_publish_each_once(
    rig: Rig, tmp_path: Path
) -> None:
    queue = rig.engine.queue
    delivery_ids: list[int] = []
    for n in range(20):
        article = rig.approved_article(100 + n)
        for p in schedule_article(
            rig.factory, article, ["gov-x", "gov-fb"], When(now=True), actor="A", now=utcnow()
        ):
            queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
            # A second job for the same delivery right behind the first (as a stale job of an
            # older scheduling would be): the two workers take the pair at the same moment.
            queue.deliveries.enqueue(
                DELIVERY_JOB,
                p.delivery_id,
                job_id=job_id(p.delivery_id, p.version + 1000),
                result_ttl=0,
            )
            delivery_ids.append(p.delivery_id)
    assert len(delivery_ids) == 40
    assert queue.deliveries.count == 80

    with worker_processes(rig.config, rig.env, tmp_path / "workers") as workers:
        racers = [workers.start(name, "--burst", "--no-cron") for name in ("racer-1", "racer-2")]
        for racer in racers:
            assert racer.wait(timeout=90) == 0, workers.logs()
        logs = {r.name: r.log() for r in racers}

    posts = rig.sandbox.posts()
    assert len(posts) == 40, workers.logs()
    assert Counter(p.platform for p in posts) == {"x": 20, "facebook": 20}
    twice = [k for k, n in Counter((p.platform, p.text) for p in posts).items() if n > 1]
    assert twice == []
    # no second attempt even reached a platform (X would have refused it as a duplicate)
    assert _x_creates(rig) == 20
    assert _fb_creates(rig) == 20
    views = list_deliveries(rig.factory)
    assert sorted(v.id for v in views) == sorted(delivery_ids)
    assert {v.status for v in views} == {"published"}
    assert {v.post_id for v in views} == {p.id for p in posts}
    with rig.factory() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 40
    # Both processes really worked on the deliveries, and RQ gave each job to one of them.
    ran = {
        name: [j for j in _started_jobs(log) if j.startswith("deliver-")]
        for name, log in logs.items()
    }
    assert all(ran.values()), ran
    every = [j for jobs in ran.values() for j in jobs]
    assert sorted(every) == sorted(set(every))
    assert len(every) == 80


@pytest.mark.slow
def test_a_worker_killed_mid_publish_is_settled_by_reconciliation_with_one_post(
    rig: Rig, tmp_path: Path
) -> None:
    article = rig.approved_article(200)
    # X records the post, then holds its answer: the worker dies while waiting for it.
    rig.sandbox.inject("delay", platform="x", method="POST", path="/2/tweets", delay=4)
    (planned,) = schedule_article(
        rig.factory, article, ["gov-x"], When(now=True), actor="A", now=utcnow()
    )
    rig.engine.queue.enqueue_delivery(planned.delivery_id, planned.version, planned.due_at)

    with worker_processes(rig.config, rig.env, tmp_path / "workers") as workers:
        doomed = workers.start("doomed", "--burst", "--no-fork", "--no-cron")
        posts = wait_for(
            lambda: rig.sandbox.posts("x"), timeout=30, interval=0.02, what="the post on X"
        )
        doomed.kill()  # SIGKILL to the group, well before the client's 2 s read timeout
        assert doomed.popen.returncode == -9

        assert len(posts) == 1
        (view,) = list_deliveries(rig.factory)
        assert view.status == "sending"  # the worker died between the call and the record

        # The sweep, once the claim is older than any job may run, says the outcome is unknown.
        later = utcnow() + STUCK_AFTER + timedelta(seconds=1)
        report = sweep(rig.factory, now=later, stuck_after=STUCK_AFTER)
        assert report.stuck == [view.id]
        assert report.unconfirmed == [view.id]
        assert list_deliveries(rig.factory)[0].status == "unconfirmed"

        # Reconciliation finds the post on the account instead of sending it again.
        result = ledger.reconcile(
            rig.factory, view.id, rig.engine.publisher_for, now=utcnow(), settle=timedelta(0)
        )
        assert result.outcome == "published"
        (view,) = list_deliveries(rig.factory)
        assert view.status == "published"
        assert view.post_id == posts[0].id

        again = workers.start("again", "--burst", "--no-cron")
        assert again.wait(timeout=60) == 0, workers.logs()

    assert [p.id for p in rig.sandbox.posts()] == [posts[0].id]
    assert _x_creates(rig) == 1
    assert list_deliveries(rig.factory)[0].status == "published"


@pytest.mark.slow
@sqlite_only
def test_a_delivery_is_on_time_after_the_scheduler_lock_holder_is_killed(
    rig: Rig, tmp_path: Path
) -> None:
    article = rig.approved_article(300)
    with worker_processes(rig.config, rig.env, tmp_path / "workers") as workers:
        first = workers.start("first")
        holder = wait_for(
            lambda: rig.redis.get(SCHEDULER_LOCK), timeout=30, what="RQ's scheduler lock"
        )
        wait_for(lambda: rig.redis.get(CRON_LOCK), timeout=10, what="the cron leader lock")

        due = utcnow() + timedelta(seconds=5)
        (planned,) = schedule_article(
            rig.factory, article, ["gov-x"], When(at=due), actor="A", now=utcnow()
        )
        rig.engine.queue.enqueue_delivery(planned.delivery_id, planned.version, planned.due_at)
        jid = job_id(planned.delivery_id, planned.version)
        assert rig.redis.zscore(f"rq:scheduled:{DELIVERIES}", jid) is not None

        first.kill()  # the worker and RQ's scheduler (its forked child) die holding the lock
        assert rig.redis.get(SCHEDULER_LOCK) == holder
        second = workers.start("second")

        budget = (due - utcnow()).total_seconds() + 30
        (post,) = wait_for(
            lambda: rig.sandbox.posts("x"), timeout=budget, interval=0.1, what="the post on X"
        )
        seen = utcnow()
        # RQ's scheduler could not have moved the job: the dead worker's lock is still there.
        assert rig.redis.get(SCHEDULER_LOCK) == holder, workers.logs()
        assert second.alive()
        # The worker records the post right after the platform answers: let it finish before
        # the block below stops the workers.
        wait_for(
            lambda: list_deliveries(rig.factory)[0].status == "published",
            timeout=15,
            what="the delivery recorded as published",
        )

    assert post.created_at >= due
    assert seen - due <= timedelta(seconds=30)
    with rig.factory() as session:
        started = session.scalars(select(DeliveryAttempt.started_at)).one()
    assert started >= due
    (view,) = list_deliveries(rig.factory)
    assert view.status == "published"
    assert view.post_id == post.id
    assert _x_creates(rig) == 1


@pytest.mark.slow
@sqlite_only
def test_one_cron_runs_across_three_workers_and_another_takes_over_when_it_dies(
    rig: Rig, tmp_path: Path
) -> None:
    with worker_processes(rig.config, rig.env, tmp_path / "workers") as workers:
        procs = [workers.start(f"crew-{i}") for i in (1, 2, 3)]
        wait_for(
            lambda: all("Listening on" in p.log() for p in procs),
            timeout=30,
            what="three workers up",
        )
        token = wait_for(lambda: rig.redis.get(CRON_LOCK), timeout=10, what="a cron leader")

        # While all three live, the lock stays with one worker and only that one ever led.
        tokens = set()
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            tokens.add(rig.redis.get(CRON_LOCK))
            time.sleep(0.2)
        assert tokens == {token}, workers.logs()
        leaders = [p for p in procs if LEADER_LINE in p.log()]
        assert len(leaders) == 1, workers.logs()
        (leader,) = leaders
        assert leader.log().count(LEADER_LINE) == 1
        # ...which queued each periodic job once per period (RQ started each id once).
        before = Counter(j for j in _started_jobs(workers.logs()) if j.startswith("cron-"))
        assert any(j.startswith("cron-sweep-") for j in before), workers.logs()
        assert [j for j, n in before.items() if n > 1] == []

        leader.kill()
        killed = time.monotonic()
        rest = [p for p in procs if p is not leader]
        wait_for(
            lambda: [p for p in rest if LEADER_LINE in p.log()],
            timeout=20,
            interval=0.2,
            what="another worker to lead the cron",
        )
        took_over = time.monotonic() - killed
        new_token = rig.redis.get(CRON_LOCK)
        assert new_token not in (None, token)

        def new_sweeps() -> set[str]:
            ran = {j for p in rest for j in _started_jobs(p.log()) if j.startswith("cron-sweep-")}
            return ran - set(before)

        wait_for(new_sweeps, timeout=10, interval=0.2, what="a sweep queued by the new leader")
        assert all(p.alive() for p in rest)
        logs = workers.logs()

    assert took_over <= 20
    assert sum(p.log().count(LEADER_LINE) for p in procs) == 2
    # The sweep ran at most once per 5-second slot across the whole run, the takeover included.
    sweeps = Counter(j for j in _started_jobs(logs) if j.startswith("cron-sweep-"))
    assert len(sweeps) >= 2, logs  # before the kill and after the takeover
    assert [j for j, n in sweeps.items() if n > 1] == []


def test_a_new_cron_leader_does_not_queue_again_what_the_old_one_ran_in_the_same_slot(
    redis_url: str,
) -> None:
    """The second guard in crosspost.queue.cron (job ids carry the time slot) after a takeover.

    Seen with processes in the test above: after the leader was killed, `cron-ingest-<minute>`
    and `cron-metrics-<minute>` ran twice. Reproduced here in-process, without waiting.
    """
    if time.time() % 60 > 55:  # keep both ticks inside one minute (the 60-second jobs' slot)
        time.sleep(60 - time.time() % 60 + 0.1)
    connection = Redis.from_url(redis_url)
    first = CronRunner(connection, load_cron(connection))
    ran = first.tick()
    assert any(j.startswith("cron-ingest-") for j in ran)
    for jid in ran:  # each job ran; with result_ttl=0 RQ deleted it on success
        Job.fetch(jid, connection=connection, serializer=JSONSerializer).delete()
    connection.delete(CRON_LOCK)  # the first leader died and its lock expired (or it released)
    second = CronRunner(connection, load_cron(connection))
    again = second.tick()
    assert second.leading
    assert set(again).isdisjoint(ran)
