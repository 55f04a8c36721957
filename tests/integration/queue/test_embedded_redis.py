"""The embedded Redis with real processes: one server per workspace, stopped by its last user.

Users other than the test itself are `redis_user` processes. Every test's workspace fixture kills,
by pid, any redis-server and helper left behind, so a failing test leaves no stray server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from crosspost.queue import embedded
from crosspost.queue.connection import connect, connect_if_running
from crosspost.settings import RedisSettings, Settings
from tests.integration.queue.redis_user import server_count

ROOT = Path(__file__).resolve().parents[3]
HELPER = "tests.integration.queue.redis_user"


class User:
    """A `redis_user` process: `join()` makes it a user, `leave()` lets it exit normally."""

    def __init__(self, workspace: Path, mode: str, log: Path) -> None:
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", HELPER, str(workspace), mode],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.log = log
        self._ready = False

    def ready(self) -> None:
        """Wait until it has imported everything (spawning does not wait, so users start
        in parallel)."""
        if not self._ready:
            self.expect("ready")
            self._ready = True

    def expect(self, word: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        while line and not line.startswith("@"):  # "" is end of output
            line = self.proc.stdout.readline()
        line = line.strip().removeprefix("@")
        assert line.startswith(word), f"expected {word!r}, got {line!r}; {self.log.read_text()}"
        return line.removeprefix(word).strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def join(self) -> int:
        """Join and return the server pid it got."""
        self.ready()
        self.send("go")
        return int(self.expect("server"))

    def leave(self) -> None:
        self.send("leave")
        assert self.proc.wait(timeout=10) == 0, self.log.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    ws.mkdir()
    yield ws
    # Whatever happened, leave no server: ours first, then by pid.
    try:
        embedded.stop(ws, force=True)
    finally:
        for pid in _server_pids(ws):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def users(workspace: Path, tmp_path: Path) -> Iterator[list[User]]:
    started: list[User] = []
    yield started
    for user in started:
        user.close()


def spawn(users: list[User], workspace: Path, mode: str = "hold") -> User:
    user = User(workspace, mode, workspace.parent / f"user{len(users)}.log")
    users.append(user)
    return user


def _server_pids(ws: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", str(ws.resolve() / "redis.conf")], capture_output=True, text=True
    )
    return [int(pid) for pid in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    # The daemonized server's parent is init, which may take a while to reap it: a zombie has
    # exited all the same.
    return state != "Z"


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 5
    while _alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.01)


def _client(server: embedded.EmbeddedRedis) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path))


def test_ensure_running_serves_the_workspace_over_a_socket_with_aof(workspace: Path) -> None:
    with embedded.ensure_running(workspace) as server:
        client = _client(server)
        assert client.ping()
        assert server.socket_path == workspace / "redis.sock"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("dir") == {"dir": str(workspace)}
        assert int((workspace / "redis.pid").read_text()) == server.pid
        assert embedded.ensure_running(workspace).pid == server.pid  # idempotent
        client.close()
    assert not _alive(server.pid)
    assert (workspace / "redis.aof").exists()
    assert (workspace / "redis.log").exists()


def test_two_processes_starting_at_once_share_one_server(
    workspace: Path, users: list[User]
) -> None:
    a, b = spawn(users, workspace), spawn(users, workspace)
    a.ready()
    b.ready()
    a.send("go")
    b.send("go")
    pid_a, pid_b = int(a.expect("server")), int(b.expect("server"))
    assert pid_a == pid_b
    assert _server_pids(workspace) == [pid_a]
    a.leave()
    b.leave()
    assert not _alive(pid_a)


def test_the_only_user_leaving_stops_the_server(workspace: Path, users: list[User]) -> None:
    user = spawn(users, workspace)
    pid = user.join()
    assert _alive(pid)
    user.leave()
    assert not _alive(pid)
    assert _server_pids(workspace) == []


def test_the_server_stops_when_its_last_user_leaves(workspace: Path, users: list[User]) -> None:
    first, second = spawn(users, workspace), spawn(users, workspace)
    pid = first.join()
    assert second.join() == pid
    first.leave()
    assert _alive(pid)
    assert embedded.status(workspace).in_use
    second.leave()
    assert not _alive(pid)


def test_a_sigkilled_user_leaves_the_server_to_the_next_leaver(
    workspace: Path, users: list[User]
) -> None:
    killed = spawn(users, workspace)
    pid = killed.join()
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait()
    seen = embedded.status(workspace)
    assert seen.running
    assert seen.pid == pid
    assert not seen.in_use  # the kernel dropped its lock
    later = spawn(users, workspace)
    assert later.join() == pid  # joins the running server rather than starting another
    later.leave()
    assert not _alive(pid)
    assert _server_pids(workspace) == []


def test_a_forked_child_exiting_does_not_stop_the_server(
    workspace: Path, users: list[User]
) -> None:
    parent = spawn(users, workspace, "fork")
    pid = parent.join()
    assert parent.expect("alive") == "1"
    assert _alive(pid)
    parent.leave()
    assert not _alive(pid)


def test_an_rq_forking_worker_runs_a_job_and_leaves_no_stray_server(
    workspace: Path, users: list[User]
) -> None:
    user = spawn(users, workspace, "rq")
    pid = user.join()
    assert user.expect("result") == "49"
    assert user.expect("servers") == "1"  # RQ's scheduler did not start a second server
    assert user.proc.wait(timeout=10) == 0, user.log.read_text()
    assert not _alive(pid)
    assert server_count(workspace) == 0


def test_data_survives_a_restart(workspace: Path) -> None:
    with embedded.ensure_running(workspace) as first:
        _client(first).set("schedule", "kept")
    assert not _alive(first.pid)
    with embedded.ensure_running(workspace) as second:
        assert second.pid != first.pid
        assert _client(second).get("schedule") == b"kept"


def test_a_crashed_server_is_replaced_and_its_data_kept(workspace: Path) -> None:
    first = embedded.ensure_running(workspace)
    _client(first).set("schedule", "kept")  # written to the AOF before the reply
    os.kill(first.pid, signal.SIGKILL)
    _wait_dead(first.pid)
    assert (workspace / "redis.sock").exists()  # stale, like the pidfile
    with embedded.ensure_running(workspace) as second:
        assert second.pid != first.pid
        assert _client(second).get("schedule") == b"kept"
    assert not _alive(second.pid)


def test_a_long_workspace_path_gets_a_short_socket(tmp_path: Path) -> None:
    ws = tmp_path / ("w" * 120)
    ws.mkdir()
    try:
        with embedded.ensure_running(ws) as server:
            assert server.socket_path.parent == Path("/tmp")
            assert _client(server).ping()
            assert (ws / "redis.aof").exists()
        assert not server.socket_path.exists()
    finally:
        for pid in _server_pids(ws):
            os.kill(pid, signal.SIGKILL)


def test_stop_refuses_while_others_use_it_unless_forced(workspace: Path, users: list[User]) -> None:
    user = spawn(users, workspace)
    pid = user.join()
    with pytest.raises(embedded.EmbeddedRedisBusy):
        embedded.stop(workspace)
    assert _alive(pid)
    assert embedded.stop(workspace, force=True)
    assert not _alive(pid)
    assert not embedded.status(workspace).running


def test_connect_if_running_never_starts_the_embedded_server(workspace: Path) -> None:
    settings = Settings(config_path=workspace / "crosspost.toml")
    assert connect_if_running(settings) is None
    assert _server_pids(workspace) == []
    client = connect(settings)
    assert client.ping()
    assert connect_if_running(settings) is not None
    assert embedded.release(workspace)


def test_connect_uses_a_configured_url_as_is(workspace: Path, redis_base_url: str) -> None:
    settings = Settings(
        config_path=workspace / "crosspost.toml",
        redis=RedisSettings(url=redis_base_url),
    )
    client = connect(settings)
    assert client.ping()
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 10
    assert _server_pids(workspace) == []
