"""Real `crosspost worker` processes for the engine tests: started, watched, and always killed.

Each worker runs the installed console script in a session (process group) of its own, so that
SIGKILL reaches the worker and every child it forked (RQ's scheduler runs in a forked child), the
way a container runtime or systemd's `KillMode=control-group` kills a service. Output goes to a
log file per worker (a pipe nobody reads could fill up and block the worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

CROSSPOST = Path(sys.executable).with_name("crosspost")
"""The console script installed next to this interpreter (the venv's `crosspost`)."""

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class WorkerProcess:
    """One `crosspost worker` process, the leader of its own process group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            [str(CROSSPOST), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.popen.pid  # a new session: the group id is the leader's pid

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker and its forked children) and reap it."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored; just bounded
            self.popen.wait(timeout=10)
        self._log.close()

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own; fail (and kill it) after `timeout`."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"worker {self.name} still running after {timeout:.0f} s; log:\n{self.log()}"
            ) from None
        # A burst worker's group may still hold children (e.g. RQ's scheduler): end them too.
        self.kill()
        return code


class Workers:
    """The worker processes of one test; `close()` kills every one still running."""

    def __init__(self, config: Path, env: dict[str, str], folder: Path) -> None:
        self.config = config
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.folder = folder
        self.started: list[WorkerProcess] = []

    def start(self, name: str, *options: str) -> WorkerProcess:
        """Start `crosspost --config <config> worker --name <name> <options>`."""
        args = ["--config", str(self.config), "worker", "--name", name, *options]
        proc = WorkerProcess(name, args, self.env, self.folder / f"worker-{name}.log")
        self.started.append(proc)
        return proc

    def logs(self) -> str:
        """Every worker's log, each headed by its name (for failure messages)."""
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.log()}" for p in self.started)

    def close(self) -> None:
        for proc in self.started:
            proc.kill()


@contextmanager
def worker_processes(config: Path, env: dict[str, str], folder: Path) -> Iterator[Workers]:
    """Workers for a test, killed (whole process groups) however the test ends."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = Workers(config, env, folder)
    try:
        yield workers
    finally:
        workers.close()
