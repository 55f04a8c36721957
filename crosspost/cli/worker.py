"""`crosspost worker` and `crosspost status`: the engine's processes and their health."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from crosspost.bootstrap import utcnow
from crosspost.cli.common import JSON_HELP, console, print_json, workspace
from crosspost.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from redis import Redis


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("status")(status)


def worker(
    ctx: typer.Context,
    burst: Annotated[
        bool, typer.Option("--burst", help="Send what is due, then exit (cron jobs, tests).")
    ] = False,
    cron: Annotated[
        bool, typer.Option("--cron/--no-cron", help="Also run the periodic jobs (one leader).")
    ] = True,
    fork: Annotated[
        bool,
        typer.Option("--fork/--no-fork", help="Fork a process per job (default: in-process)."),
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="Worker name.")] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
) -> None:
    """Run an RQ worker with RQ's scheduler and crosspost's periodic jobs, until stopped.

    Example: crosspost worker --burst
    """
    from crosspost.domain.xtext import warm
    from crosspost.engine import Engine, install
    from crosspost.queue.connection import connect
    from crosspost.queue.worker import run_worker

    ws = workspace(ctx)
    level = log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise InvalidInput(f"--log-level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    # Jobs (in this process or forked) build their engine from the same configuration.
    os.environ["CROSSPOST_CONFIG"] = str(ws.settings.config_path.resolve())
    warm()  # compiled once here, inherited by every job the worker forks
    if fork:
        # Forked jobs inherit what the parent imported; otherwise each one imports the SDKs.
        import importlib

        from crosspost.platforms.registry import PLATFORMS

        for info in PLATFORMS.values():
            importlib.import_module(info.adapter.partition(":")[0])
    redis = connect(ws.settings)
    _require_reachable(redis, ws.settings.redis.url)
    engine = Engine(ws, redis)
    install(engine)
    if burst:
        swept = engine.sweep()
        if level != "WARNING" and level != "ERROR":
            console.print(f"Due now: {swept['due']} deliveries.")
    run_worker(redis, burst=burst, with_cron=cron, fork=fork, name=name, logging_level=level)


def _require_reachable(redis: Redis, url: str) -> None:
    """ConfigError (one line, password masked) when the queue's Redis does not answer."""
    from redis.exceptions import RedisError

    from crosspost.settings import mask_url

    try:
        redis.ping()
    except RedisError as exc:
        where = mask_url(url) if url else "the embedded Redis"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Redis at {where} is not reachable: {reason}") from None


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show queues, workers, the cron leader, and due/late/failed/unconfirmed deliveries.

    Example: crosspost status
    """
    from crosspost.queue.connection import connect_if_running
    from crosspost.services.deliveries import ledger_status
    from crosspost.services.tokens import token_warnings

    ws = workspace(ctx)
    ledger = ledger_status(ws.factory, now=utcnow())
    tokens = token_warnings(ws.factory, utcnow())
    redis = connect_if_running(ws.settings)
    queues: dict[str, dict[str, int]] = {}
    workers: list[str] = []
    leader = None
    if redis is not None:
        from rq import Worker

        from crosspost.queue.cron import LOCK_KEY
        from crosspost.queue.rq_queue import queue_counts

        queues = queue_counts(redis)
        workers = [w.name for w in Worker.all(connection=redis)]
        leader = bool(redis.exists(LOCK_KEY))
    if as_json:
        print_json(
            {
                "ledger": ledger,
                "queue_running": redis is not None,
                "queues": queues,
                "workers": workers,
                "cron_leader": leader,
                "token_warnings": [{"channel": c, "warning": w} for c, w in tokens],
            }
        )
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(ledger.by_status.items())) or "none"
    console.print(f"Deliveries: {counts}")
    console.print(f"Due now: {ledger.due_now}; late (over a minute): {ledger.late}")
    for name, reason in ledger.paused_channels:
        console.print(Text(f"Channel {name} is PAUSED: {reason}", style="bold red"))
    for name, warning in tokens:
        console.print(Text(f"Channel {name}: {warning}", style="bold yellow"))
    if redis is None:
        console.print("Queue: not running (start one with `crosspost worker`).")
        return
    for qname, c in queues.items():
        console.print(
            f"Queue {qname}: {c['queued']} queued, {c['scheduled']} scheduled, "
            f"{c['started']} running, {c['failed']} failed jobs"
        )
    console.print(f"Workers: {len(workers)}" + (f" ({', '.join(workers)})" if workers else ""))
    console.print("Cron: " + ("a worker leads the periodic jobs" if leader else "no leader"))
