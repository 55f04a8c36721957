"""Signs of life of worker processes, so the sweep can tell a slow send from a dead worker.

A worker killed mid-publish leaves its delivery in `sending`. Without a sign of life the sweep
can only wait out the longest a job may run (`engine.STUCK_AFTER`, 150 s) before it settles
the delivery; with one it knows within seconds. Every `crosspost worker` runs a `Heartbeat`
thread that sets `crosspost:alive:<holder>` every second with a 5 s expiry, and its claims
carry the holder id (`ledger.claim(..., holder=...)`). A holder whose key is missing is dead,
with one exception: right after Redis restarted empty every key is missing, so nobody is judged
dead until the server has been up longer than the expiry (the live holders have beaten again).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Collection

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "crosspost:alive:{}"
TTL_SECONDS = 5
"""A holder that has not beaten for this long is dead."""

BEAT_SECONDS = 1.0

_current: str | None = None


def holder() -> str | None:
    """This process's holder id while its heartbeat runs, else None (claims then carry none)."""
    return _current


class Heartbeat:
    """Beats for this process on a background thread until stopped."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self.id = secrets.token_hex(6)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crosspost-heartbeat", daemon=True)

    def beat(self) -> None:
        self.connection.set(KEY.format(self.id), os.getpid(), ex=TTL_SECONDS)

    def start(self) -> Heartbeat:
        global _current
        try:
            self.beat()
        except RedisError:
            log.warning("heartbeat: Redis did not answer; beating again in a second")
        _current = self.id
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self.beat()
            except RedisError:
                log.debug("heartbeat: Redis did not answer", exc_info=True)

    def stop(self) -> None:
        global _current
        if _current == self.id:
            _current = None
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.connection.delete(KEY.format(self.id))
        except RedisError:
            log.debug("heartbeat: could not remove the key", exc_info=True)


def dead_holders(connection: Redis, holders: Collection[str]) -> set[str]:
    """The holders among `holders` with no recent heartbeat (none while that cannot be told)."""
    if not holders:
        return set()
    try:
        uptime = int(connection.info("server").get("uptime_in_seconds", 0))
        if uptime <= TTL_SECONDS:
            return set()
        ordered = list(holders)
        present = connection.exists(*[KEY.format(h) for h in ordered])
        if present == len(ordered):
            return set()
        with connection.pipeline(transaction=False) as pipe:
            for h in ordered:
                pipe.exists(KEY.format(h))
            flags = pipe.execute()
    except RedisError:
        return set()
    return {h for h, flag in zip(ordered, flags, strict=True) if not flag}
