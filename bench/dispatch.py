"""Bench: dispatch overhead, crosspost's workers against the same HTTP calls made directly.

For each worker count (1, 2, 4, 8) and on a fresh workspace (SQLite file, or PostgreSQL with
--database) and a fresh sandbox answering every platform call after a fixed latency (50 ms, a
`delay` fault; rate limits off): N deliveries over 50 channels (25 X accounts, 25 Facebook
Pages, each its own sandbox account), every article scheduled now on every channel and its jobs
queued, then the real `crosspost worker --burst` (in-process model, the default) as separate
processes until all exit.

The baseline, in the same run and with the same concurrency: as many plain Python processes,
each building the same adapters once (tweepy and facebook-sdk, the same transport) and making
the same platform calls for its share of the same posts, one after the other: no queue, no
database, no ledger, no composing.

Reported: throughput (deliveries / drain, first to last post the sandbox accepted) of both and
their ratio (target >= 0.9 at every count), wall times, and CPU per delivery of the worker
processes (rusage from wait4), gross and net of the baseline processes' CPU for the same calls
(what the client libraries cost anyway): crosspost's own CPU per delivery (target < 5 ms).

    .venv/bin/python bench/dispatch.py --deliveries 5000      # the issue's size (long on 2 cores)
    .venv/bin/python bench/dispatch.py                        # 1,000 deliveries
    .venv/bin/python bench/dispatch.py --smoke                # 20 deliveries, 1 worker, asserts

Redis is the server at --redis (database 14, flushed before and after each run). The fork vs
in-process comparison is bench/worker_model.py (its section in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    Load,
    approved_articles,
    database,
    machine,
    md_table,
    say,
    warm_bytecode,
    worker_argv,
    worker_env,
    write_config,
    write_doc,
)
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from crosspost.bootstrap import Workspace, utcnow
from crosspost.db.models import Article, Channel, Delivery
from crosspost.domain.xtext import weighted_length
from crosspost.queue.rq_queue import DELIVERIES, MAINTENANCE, RQDeliveryQueue
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import GraphPage, XAccount
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sources import add_source
from crosspost.settings import load_settings

SECTION = "dispatch"
RATIO_TARGET, CPU_TARGET_MS = 0.9, 5.0

BASELINE = r"""
import json, sys
from crosspost.bootstrap import open_workspace
from crosspost.platforms.base import OutgoingPost
from crosspost.platforms.registry import build_publisher
from crosspost.services.channels import connection_for, list_channels
ws = open_workspace()
views = {v.name: v for v in list_channels(ws.factory, ws.environ)}
work = json.load(open(sys.argv[1]))[int(sys.argv[2])::int(sys.argv[3])]
publishers = {}
for channel, text, link in work:
    if channel not in publishers:
        publishers[channel] = build_publisher(connection_for(views[channel], ws.environ))
    publishers[channel].publish(OutgoingPost(text=text, link=link))
"""
"""A baseline process: build each channel's adapter once, publish its share of the posts."""


@dataclass
class Run:
    kind: str  # "crosspost" or "baseline"
    workers: int
    deliveries: int
    wall: float
    drain: float
    cpu: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.deliveries / self.drain if self.drain > 0 else float("nan")


def accounts(channels: int) -> tuple[list[XAccount], list[GraphPage]]:
    xs = [
        XAccount(
            user_id=str(1790000000000002000 + c),
            username=f"bench_{c}",
            name=f"Bench {c}",
            consumer_key=f"ck-{c}",
            consumer_secret=f"cs-{c}",
            access_token=f"{1790000000000002000 + c}-at",
            access_token_secret=f"ats-{c}",
        )
        for c in range(channels // 2)
    ]
    pages = [
        GraphPage(page_id=str(300000000000000 + c), name=f"Trang {c}", access_token=f"pt-{c}")
        for c in range(channels - channels // 2)
    ]
    return xs, pages


def open_sandbox(latency_ms: int, channels: int) -> Sandbox:
    sandbox = Sandbox.start(port=0)
    xs, pages = accounts(channels)
    for a in xs:
        sandbox.add_x_account(a)
    for p in pages:
        sandbox.add_page(p)
    sandbox.set_limit("x:create", 10**9, 900)
    sandbox.set_limit("x:read", 10**9, 900)
    sandbox.set_limit("facebook:calls", 10**9, 3600)
    if latency_ms > 0:
        sandbox.inject("delay", count=10**9, delay=latency_ms / 1000)
    return sandbox


def prepare(config: Path, sandbox: Sandbox, n_articles: int, channels: int) -> dict[str, str]:
    """Channels (credentials into the returned environment) and N articles approved."""
    env: dict[str, str] = {}
    ws = Workspace(settings=load_settings(config, {}), environ=env)
    now = utcnow()
    add_source(ws.factory, name="chinhphu", url="https://portal.example/rss", now=now)
    xs, pages = accounts(channels)
    for c, a in enumerate(xs):
        view = add_channel(
            ws.factory,
            NewChannel(name=f"x-{c:02d}", platform="x", api_base=sandbox.x_api_base,
                       timeout_seconds=10),
            now=now,
        )  # fmt: skip
        values = {
            "consumer_key": a.consumer_key,
            "consumer_secret": a.consumer_secret,
            "access_token": a.access_token,
            "access_token_secret": a.access_token_secret,
        }
        env.update({var: values[cred] for cred, var in view.credentials_env.items()})
    for c, p in enumerate(pages):
        view = add_channel(
            ws.factory,
            NewChannel(name=f"fb-{c:02d}", platform="facebook", api_base=sandbox.graph_api_base,
                       timeout_seconds=10, options={"page_id": p.page_id}),
            now=now,
        )  # fmt: skip
        env.update({var: p.access_token for _cred, var in view.credentials_env.items()})
    approved_articles(ws.factory, n_articles, now)
    ws.close()
    return env


def schedule_all(config: Path, env: dict[str, str], redis: Redis) -> int:
    ws = Workspace(settings=load_settings(config, {}), environ=env)
    queue = RQDeliveryQueue(redis)
    with ws.factory() as session:
        ids = list(session.scalars(select(Article.id).order_by(Article.id)))
        names = list(session.scalars(select(Channel.name).order_by(Channel.id)))
    n = 0
    for article_id in ids:
        for p in schedule_article(
            ws.factory, article_id, names, When(now=True), actor="Cán bộ A", now=utcnow()
        ):
            queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
            n += 1
    ws.close()
    return n


def wait_all(procs: list[tuple[subprocess.Popen[bytes], Path]]) -> tuple[float, list[str]]:
    cpu, errors = 0.0, []
    for proc, log in procs:
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            errors.append(f"process exited {proc.returncode}: " + " | ".join(tail))
    return cpu, errors


def drain_of(sandbox: Sandbox) -> tuple[int, float]:
    times = sorted(p.created_at for p in sandbox.posts())
    drain = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    return len(times), drain


Posted = list[tuple[str, str, str | None]]
"""(channel, text, link) of each post crosspost made."""


def run_crosspost(args: argparse.Namespace, workers: int, logdir: Path) -> tuple[Run, Posted]:
    """crosspost's workers on a fresh workspace; returns the run and the posts it made."""
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    n_articles = args.deliveries // args.channels
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-dispatch-") as tmp,
        database(args.database, Path(tmp)) as url,
        open_sandbox(args.latency_ms, args.channels) as sandbox,
    ):
        config = write_config(Path(tmp), url, args.redis)
        creds = prepare(config, sandbox, n_articles, args.channels)
        queued = schedule_all(config, creds, redis)
        env = worker_env(config, creds)
        procs = []
        started = time.perf_counter()
        for i in range(workers):
            log = logdir / f"crosspost-{workers}-{i}.log"
            with log.open("wb") as out:
                argv = worker_argv(f"bench-dispatch-{i}")
                procs.append((subprocess.Popen(argv, env=env, stdout=out, stderr=out), log))
        cpu, errors = wait_all(procs)
        wall = time.perf_counter() - started
        count, drain = drain_of(sandbox)
        ws = Workspace(settings=load_settings(config, {}), environ=creds)
        with ws.factory() as session:
            by_status = dict(
                session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
            )
            posted = [
                (str(c), str(t), lk)
                for c, t, lk in session.execute(
                    select(Channel.name, Delivery.text, Delivery.link)
                    .join(Channel, Channel.id == Delivery.channel_id)
                    .order_by(Delivery.article_id, Delivery.channel_id)
                )
            ]
        ws.close()
        for name in (DELIVERIES, MAINTENANCE):
            q = Queue(name, connection=redis, serializer=JSONSerializer)
            if q.failed_job_registry.count:
                errors.append(f"{name}: {q.failed_job_registry.count} failed jobs")
        redis.flushdb()
    if queued != args.deliveries or count != queued or by_status != {"published": queued}:
        errors.append(f"{queued} queued, {count} posts in the sandbox, deliveries {by_status}")
    return Run("crosspost", workers, count, wall, drain, cpu, errors), posted


def run_baseline(args: argparse.Namespace, workers: int, posts: Posted, logdir: Path) -> Run:
    """The same posts made directly by `workers` plain processes (fresh sandbox)."""
    n_articles = args.deliveries // args.channels
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-dispatch-") as tmp,
        database(None, Path(tmp)) as url,
        open_sandbox(args.latency_ms, args.channels) as sandbox,
    ):
        config = write_config(Path(tmp), url, None)
        creds = prepare(config, sandbox, n_articles, args.channels)
        # Interleaved by article, as the queue holds them (article 1 on every channel, ...).
        work = Path(tmp) / "work.json"
        work.write_text(json.dumps(posts))
        env = worker_env(config, creds)
        procs = []
        started = time.perf_counter()
        for i in range(workers):
            log = logdir / f"baseline-{workers}-{i}.log"
            argv = [sys.executable, "-c", BASELINE, str(work), str(i), str(workers)]
            with log.open("wb") as out:
                procs.append(
                    (subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=ROOT), log)
                )
        cpu, errors = wait_all(procs)
        wall = time.perf_counter() - started
        count, drain = drain_of(sandbox)
    if count != len(posts):
        errors.append(f"baseline made {count} posts of {len(posts)}")
    return Run("baseline", workers, count, wall, drain, cpu, errors)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--deliveries", type=int, default=1000, help="in all (default 1,000)")
    p.add_argument("--channels", type=int, default=50, help="half X, half Facebook (50)")
    p.add_argument("--latency-ms", type=int, default=50, help="per platform call (50)")
    p.add_argument("--workers", default="1,2,4,8", help="worker counts (1,2,4,8)")
    p.add_argument("--database", help="PostgreSQL server URL (a fresh database per run)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="flushed around runs")
    p.add_argument("--smoke", action="store_true", help="tiny, asserts, never touches the doc")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.smoke:
        args.deliveries, args.channels, args.workers, args.no_doc = 20, 2, "1", True
        args.latency_ms = 20
    if args.deliveries % args.channels:
        p.error("--deliveries: a multiple of --channels")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    load = Load()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if not args.smoke:  # the smoke run lives with a cold cache: workers compile what they use
        warm_bytecode()
    weighted_length("https://portal.example/tin-0.htm")  # the sandbox's X counter, warmed
    pairs: list[tuple[Run, Run]] = []
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-logs-") as logs:
        for w in counts:
            say(f"{w} worker(s), {args.deliveries} deliveries ...")
            mine, posts = run_crosspost(args, w, Path(logs))
            base = run_baseline(args, w, posts, Path(logs))
            pairs.append((mine, base))
            say(
                f"  crosspost {mine.rate:.1f}/s ({mine.cpu / max(1, mine.deliveries) * 1000:.1f} "
                f"ms CPU each), baseline {base.rate:.1f}/s "
                f"({base.cpu / max(1, base.deliveries) * 1000:.1f} ms), "
                f"ratio {mine.rate / base.rate:.2f}"
            )
    load.stop()
    rows = []
    for mine, base in pairs:
        n = max(1, mine.deliveries)
        own = (mine.cpu - base.cpu) / n * 1000
        ratio = mine.rate / base.rate
        rows.append(
            (
                mine.workers,
                mine.deliveries,
                f"{mine.wall:.1f}",
                f"{base.wall:.1f}",
                f"{mine.rate:.1f}",
                f"{base.rate:.1f}",
                f"{ratio:.2f}" + ("" if ratio >= RATIO_TARGET else " (missed)"),
                f"{mine.cpu / n * 1000:.1f}",
                f"{base.cpu / n * 1000:.1f}",
                f"{own:.1f}" + ("" if own < CPU_TARGET_MS else " (missed)"),
                "ok" if not (mine.errors or base.errors) else "FAILED",
            )
        )
    table = md_table(
        ("workers", "deliveries", "crosspost wall s", "baseline wall s", "crosspost /s",
         "baseline /s", "ratio (>= 0.9)", "crosspost CPU ms/delivery",
         "baseline CPU ms/delivery", "crosspost's own CPU ms/delivery (< 5)", "check"),
        rows,
    )  # fmt: skip
    say("\n".join(table))
    errors = [f"{r.kind} x{r.workers}: {e}" for pair in pairs for r in pair for e in r.errors]
    for e in errors:
        say(f"FAILED: {e}")
    if not args.no_doc and not errors:
        write_doc(SECTION, section(args, load, table))
        say("wrote docs/benchmarks.md")
    return 1 if errors else 0


def section(args: argparse.Namespace, load: Load, table: list[str]) -> list[str]:
    db = "PostgreSQL (`--database`)" if args.database else "a SQLite file (WAL)"
    return [
        "## Dispatch overhead",
        "",
        *machine(load),
        "",
        f"`.venv/bin/python bench/dispatch.py --deliveries {args.deliveries} --channels "
        f"{args.channels} --latency-ms {args.latency_ms} --workers {args.workers}`: per worker "
        f"count, a fresh workspace ({db}; Redis database 14) and sandbox (every platform call "
        f"answered after {args.latency_ms} ms, limits off), {args.channels} channels "
        f"({args.channels // 2} X accounts, {args.channels - args.channels // 2} Facebook "
        f"Pages), {args.deliveries // args.channels} approved articles scheduled now on every "
        "channel and their jobs queued; then `crosspost worker --burst --no-fork --no-cron` "
        "processes until all exit. Baseline in the same run: as many plain processes making "
        "the same posts through the same adapters (tweepy, facebook-sdk, same transport), "
        "each adapter built once, no queue, no database. A Facebook post is two calls (create, "
        "then read the permalink), an X post one. *crosspost /s*, *baseline /s*: deliveries "
        "/ drain (first to last post the sandbox accepted). CPU: user + system of the "
        "processes (wait4), start-up included; *crosspost's own* = crosspost minus baseline, "
        "per delivery. The sandbox runs as threads of the bench process and shares the 2 "
        "cores. The fork-per-job vs in-process comparison is the worker-model section below "
        "(the in-process worker is the default, and is what runs here).",
        "",
        *table,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
