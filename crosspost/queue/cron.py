"""RQ's cron, driven under a leader lock so that exactly one is active across all workers.

RQ 2.12's CronScheduler has no coordination: two `rq cron` processes enqueue every job twice.
Every `crosspost worker` runs a `CronRunner` thread; each tick it tries to take or extend the
lock key `crosspost:cron:leader` (SET NX PX, extended only by its holder through a Lua check),
and only the holder enqueues. If the holder dies, its lock expires after LOCK_TTL and another
worker takes over within a tick. As a second guard each periodic job's time slot is marked in
Redis when it is queued (`crosspost:cron:slot:<job id>`), so even a new leader, or two, queue
each periodic job once per slot.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import threading
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.cron import CronJob, CronScheduler, create_cron
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

LOCK_KEY = "crosspost:cron:leader"
LOCK_TTL_MS = 5_000
"""A dead leader is replaced this long after its last tick at the latest. Short, because while
no one leads no sweep runs and due deliveries wait; two leaders for a moment (a holder stalled
for 5 s) cost nothing, since each periodic job's slot is marked once (see `_enqueue`)."""

TICK_SECONDS = 1.0

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def load_cron(connection: Redis, module: str = "jobs.cron_config") -> CronScheduler:
    """A CronScheduler with the jobs declared in `module` (through `rq.cron.register`)."""
    mod = importlib.import_module(module)
    scheduler = create_cron(connection)
    if not scheduler.get_jobs():
        # The module was imported before (its registrations were consumed): import it afresh.
        importlib.reload(mod)
        scheduler = create_cron(connection)
    return scheduler


class CronRunner:
    """One worker's candidacy for running the cron; `tick()` is one round."""

    def __init__(self, connection: Redis, scheduler: CronScheduler) -> None:
        self.connection = connection
        self.scheduler = scheduler
        # The holder's pid leads the token so that an operator (or the chaos run) can tell
        # which process leads; the random part keeps two hosts' equal pids apart.
        self.token = f"{os.getpid()}-{secrets.token_hex(8)}"
        self.leading = False
        self._stop = threading.Event()

    def try_lead(self) -> bool:
        """Take the lock if free, or extend it if ours."""
        if self.connection.set(LOCK_KEY, self.token, nx=True, px=LOCK_TTL_MS):
            if not self.leading:
                log.info("cron: this worker now runs the periodic jobs")
            self.leading = True
        else:
            self.leading = bool(
                self.connection.eval(_EXTEND, 1, LOCK_KEY, self.token, str(LOCK_TTL_MS))
            )
        return self.leading

    def tick(self) -> list[str]:
        """Enqueue the periodic jobs that are due, if this runner leads; returns their ids."""
        if not self.try_lead():
            return []
        enqueued = []
        now = datetime.now(UTC)
        for job in self.scheduler.get_jobs():
            if job.should_run():
                jid = self._enqueue(job, now)
                job.set_enqueue_time(now)
                if jid:
                    enqueued.append(jid)
        return enqueued

    def _enqueue(self, job: CronJob, now: datetime) -> str | None:
        period = job.interval or 60
        jid = f"cron-{job.name}-{int(now.timestamp()) // period}"
        # The job's own id cannot guard the slot: a finished job's hash is deleted at once
        # (result_ttl=0), so a new leader could queue the same slot again. A marker can.
        if not self.connection.set(
            f"crosspost:cron:slot:{jid}", self.token, nx=True, ex=period * 2
        ):
            return None
        queue = Queue(job.queue_name, connection=self.connection, serializer=JSONSerializer)
        try:
            queue.enqueue(
                job.func_name, *job.args, job_id=jid, unique=True, **job.kwargs, **job.job_options
            )
        except DuplicateJobError:
            return None
        return jid

    def run(self) -> None:
        """Tick until stopped; for a thread beside the worker."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.warning("cron: tick failed; retrying", exc_info=True)
                self.leading = False
            self._stop.wait(TICK_SECONDS)
        self.release()

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Give up the lock so another worker can lead at once."""
        try:
            self.connection.eval(_RELEASE, 1, LOCK_KEY, self.token)
        except Exception:
            log.debug("cron: could not release the lock", exc_info=True)
        self.leading = False
