"""A crosspost process using the embedded Redis, driven by the tests through stdin and stdout.

    python -m tests.integration.queue.redis_user WORKSPACE MODE

It prints `@ready` once imported, waits for a `go` line, joins through `connect()` (as crosspost's
commands do) and prints `@server <pid>`. Then, by MODE:

    hold  wait for a line (or end of input), then exit normally: the atexit hook leaves
    fork  fork a child that releases and exits normally, print `alive <0|1>`, then as hold
    rq    run a job on a forking RQ Worker, print `result <value>` and `servers <count>`, exit

The job function lives here so RQ's work-horse can import it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crosspost.queue import embedded
from crosspost.queue.connection import connect
from crosspost.settings import Settings


def square(x: int) -> int:
    """The job RQ runs."""
    return x * x


def server_count(workspace: Path) -> int:
    """How many redis-server processes serve `workspace` (their title names the config file)."""
    found = subprocess.run(
        ["pgrep", "-f", str(workspace.resolve() / "redis.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    return len(found.stdout.split())


def say(line: str) -> None:
    """One protocol line; the `@` tells it from anything else printed (RQ logs to stdout)."""
    print(f"@{line}", flush=True)


def main(workspace: Path, mode: str) -> None:
    say("ready")
    sys.stdin.readline()  # "go"
    client = connect(Settings(config_path=workspace / "crosspost.toml"))
    say(f"server {client.info('server')['process_id']}")
    if mode == "fork":
        child = os.fork()
        if child == 0:
            embedded.release(workspace)
            sys.exit(0)  # a normal exit: inherited atexit hooks run in the child
        os.waitpid(child, 0)
        say(f"alive {int(bool(client.ping()))}")
    if mode == "rq":
        from rq import Queue, Worker

        queue = Queue("test", connection=client)
        job = queue.enqueue(f"{__spec__.name}.square", 7)  # by name: RQ refuses __main__
        Worker([queue], connection=client).work(
            burst=True, with_scheduler=True, logging_level="WARNING"
        )
        say(f"result {job.return_value(refresh=True)}")
        say(f"servers {server_count(workspace)}")
        return
    sys.stdin.readline()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
