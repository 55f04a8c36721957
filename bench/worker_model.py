"""Bench: RQ's forking worker (a work-horse per job) against SimpleWorker (jobs in-process).

For each worker model and worker count this builds a fresh workspace (SQLite file in a temp dir,
or a fresh PostgreSQL database with --database), starts the sandbox with a fixed answer latency
on every platform call, approves N articles, schedules them now on the channels, queues their
delivery jobs, then runs the real CLI (`crosspost worker --burst --fork|--no-fork`) as separate
processes and measures:

* wall time from starting the workers until the last one exits, and the drain window (first to
  last post the sandbox accepted) with the deliveries per second it gives;
* CPU seconds of the worker processes and their work-horses (the rusage `wait4` returns for each
  worker includes its reaped horses), per delivery net of a worker's start-up cost (measured once
  per model on an empty queue);
* peak RSS of the largest single worker process (VmHWM, sampled) and the peak PSS summed over every
  worker process and horse (sampled every 0.1 s through psutil);

and verifies that the sandbox holds exactly N x channels posts, none twice, that every delivery
is published with the id the sandbox gave it, and that RQ failed no job.

    .venv/bin/python bench/worker_model.py                       # full run (~4 min on 2 cores)
    .venv/bin/python bench/worker_model.py --deliveries 100 --latency-ms 300
    .venv/bin/python bench/worker_model.py --smoke               # tiny, asserts, < 20 s

The full run rewrites its own section of docs/benchmarks.md (between the worker-model markers).
Redis is the server at --redis (database 14 by default; flushed before and after each run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from _common import (
    CLI,
    DOC,
    ROOT,
    Load,
    approved_articles,
    busy_seconds,
    cpu_of,
    database,
    hwm,
    warm_bytecode,
    worker_env,
)
from _common import machine as _machine
from _common import write_doc as _write_doc
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from crosspost.bootstrap import Workspace, utcnow
from crosspost.db.models import Delivery
from crosspost.domain.xtext import weighted_length
from crosspost.queue.rq_queue import DELIVERIES, MAINTENANCE, RQDeliveryQueue
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_PAGE, DEMO_X_ACCOUNT
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sources import add_source
from crosspost.settings import load_settings

CREDENTIALS = {
    "CROSSPOST_GOV_X_CONSUMER_KEY": DEMO_X_ACCOUNT.consumer_key,
    "CROSSPOST_GOV_X_CONSUMER_SECRET": DEMO_X_ACCOUNT.consumer_secret,
    "CROSSPOST_GOV_X_ACCESS_TOKEN": DEMO_X_ACCOUNT.access_token,
    "CROSSPOST_GOV_X_ACCESS_TOKEN_SECRET": DEMO_X_ACCOUNT.access_token_secret,
    "CROSSPOST_GOV_FB_PAGE_ACCESS_TOKEN": DEMO_PAGE.access_token,
}
"""The channel credentials the worker reads from its environment (as the integration tests)."""

CHANNELS = ("gov-x", "gov-fb")
PLATFORM_OF = {"gov-x": "x", "gov-fb": "facebook"}
MODELS = ("fork", "simple")
SAMPLE_EVERY = 0.1
SECTION = "worker-model"


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- one run ------------------------------------------------------------------------------------


@dataclass
class Result:
    model: str
    workers: int
    deliveries: int
    wall: float
    drain: float
    cpu: float
    net_cpu_per_delivery: float
    max_rss: int
    peak_pss: int
    other_cores: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.deliveries / self.drain if self.drain > 0 else float("nan")


@dataclass
class Baseline:
    """One worker's fixed cost: start, sweep, deliver the first article on each channel, exit."""

    wall: float
    cpu: float
    max_rss: int
    deliveries: int


def prepare(
    config: Path, env: dict[str, str], sandbox: Sandbox, redis: Redis, n: int, channels: int
) -> Workspace:
    """Source, channels, N approved articles scheduled now on the channels, their jobs queued."""
    ws = Workspace(settings=load_settings(config, env), environ=env)
    now = utcnow()
    add_source(ws.factory, name="chinhphu", url="https://portal.example/rss", now=now)
    add_channel(
        ws.factory,
        NewChannel(name="gov-x", platform="x", api_base=sandbox.x_api_base, timeout_seconds=10),
        now=now,
    )
    add_channel(
        ws.factory,
        NewChannel(
            name="gov-fb",
            platform="facebook",
            api_base=sandbox.graph_api_base,
            timeout_seconds=10,
            options={"page_id": DEMO_PAGE.page_id},
        ),
        now=now,
    )
    ids = approved_articles(ws.factory, n, now)
    queue = RQDeliveryQueue(redis)
    targets = list(CHANNELS[:channels])
    for article_id in ids:
        for p in schedule_article(
            ws.factory, article_id, targets, When(now=True), actor="Cán bộ A", now=utcnow()
        ):
            queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
    return ws


class Sampler:
    """Peak PSS summed over the given processes and all their descendants (the horses)."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self.max_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for root in self.roots:
                # The worker's own peak (VmHWM): wait4's ru_maxrss would report at least this
                # bench's size, which a child keeps from before its exec.
                self.max_rss = max(self.max_rss, hwm(root.pid))
                with contextlib.suppress(psutil.Error):
                    for proc in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            total += proc.memory_full_info().pss
            self.peak = max(self.peak, total)
            self._stop.wait(SAMPLE_EVERY)


def run_workers(
    model: str, count: int, env: dict[str, str], logdir: Path, tag: str
) -> tuple[float, float, int, int, list[str]]:
    """Start `count` burst workers, wait for all: (wall, cpu, max rss, peak pss, errors)."""
    flag = "--fork" if model == "fork" else "--no-fork"
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    started = time.perf_counter()
    for i in range(count):
        log = logdir / f"{tag}-{model}-{count}-{i}.log"
        argv = [str(CLI), "worker", "--burst", flag, "--no-cron", "--log-level", "WARNING"]
        argv += ["--name", f"bench-{tag}-{model}-{i}-{uuid.uuid4().hex[:6]}"]
        with log.open("wb") as out:
            procs.append((subprocess.Popen(argv, env=env, stdout=out, stderr=out), log))
    cpu, errors = 0.0, []
    with Sampler([p.pid for p, _ in procs]) as sampler:
        for proc, log in procs:
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                errors.append(f"worker exited {proc.returncode}: " + " | ".join(tail))
    wall = time.perf_counter() - started
    max_rss = sampler.max_rss
    return wall, cpu, max_rss, sampler.peak, errors


def verify(ws: Workspace, sandbox: Sandbox, redis: Redis, n: int, channels: int) -> list[str]:
    """Exactly N x channels posts, none twice, every delivery published with its post id."""
    errors: list[str] = []
    posts = sandbox.posts()
    expected = n * channels
    if len(posts) != expected:
        errors.append(f"sandbox holds {len(posts)} posts, expected {expected}")
    keys = [(p.platform, p.text) for p in posts]
    if len(set(keys)) != len(keys):
        errors.append(f"{len(keys) - len(set(keys))} duplicate posts in the sandbox")
    ids = {(p.platform, p.id) for p in posts}
    with ws.factory() as session:
        by_status = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        rows = session.execute(
            select(Delivery.channel_id, Delivery.post_id).where(Delivery.status == "published")
        ).all()
    if by_status != {"published": expected}:
        errors.append(f"deliveries by status {by_status}, expected {expected} published")
    channel_platform = {1: "x", 2: "facebook"}  # the order prepare() adds them in
    missing = [r for r in rows if (channel_platform[r.channel_id], r.post_id) not in ids]
    if missing:
        errors.append(f"{len(missing)} published deliveries name a post the sandbox lacks")
    for name in (DELIVERIES, MAINTENANCE):
        q = Queue(name, connection=redis, serializer=JSONSerializer)
        if q.count or q.failed_job_registry.count:
            errors.append(f"{name}: {q.count} queued, {q.failed_job_registry.count} failed jobs")
    return errors


def one_run(
    args: argparse.Namespace,
    model: str,
    workers: int,
    n: int,
    baseline: dict[str, Baseline],
    logdir: Path,
    steps: dict[str, float],
) -> Result:
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-") as tmp,
        database(args.database, Path(tmp)) as url,
        Sandbox.start(port=0) as sandbox,
    ):
        folder = Path(tmp)
        config = folder / "crosspost.toml"
        config.write_text(f'[database]\nurl = "{url}"\n[redis]\nurl = "{args.redis}"\n')
        # No platform limit gets in the way; every platform call answers after the latency.
        sandbox.set_limit("x:create", 10**9, 900)
        sandbox.set_limit("facebook:calls", 10**9, 3600)
        if args.latency_ms > 0:
            sandbox.inject("delay", count=10**9, delay=args.latency_ms / 1000)
        # The sandbox checks X's weighted length with crosspost's own counter, whose URL regex
        # takes ~0.5 s to compile on first use: pay that here, not inside the first run's drain.
        weighted_length("https://portal.example/tin-0.htm")
        env = worker_env(config, CREDENTIALS)
        ws = prepare(config, env, sandbox, redis, n, args.channels)
        try:
            if model not in baseline and not args.smoke:
                # One worker's fixed cost, on this workspace: start, sweep, deliver the first
                # article on each channel (imports, first connections, caches), exit.
                _hold_back(redis, keep=args.channels)
                wall, cpu, rss, _pss, errs = run_workers(model, 1, env, logdir, "baseline")
                _release(redis)
                done = len(sandbox.posts())
                if errs or done != args.channels:
                    raise SystemExit(f"baseline run of {model} failed ({done} posts): {errs}")
                baseline[model] = Baseline(wall, cpu, rss, done)
            before = len(sandbox.posts())
            self_before = resource.getrusage(resource.RUSAGE_SELF)
            busy_before = busy_seconds()
            wall, cpu, rss, pss, errors = run_workers(model, workers, env, logdir, "run")
            busy = busy_seconds() - busy_before
            mine = cpu + cpu_of(resource.getrusage(resource.RUSAGE_SELF)) - cpu_of(self_before)
            errors += verify(ws, sandbox, redis, n, args.channels)
            posts = sandbox.posts()
            times = sorted(p.created_at for p in posts[before:])
            drain = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
            if model == "fork" and not steps and not args.smoke:
                steps.update(fork_breakdown(env, args.channels, warm=False))
                warmed = fork_breakdown(env, args.channels, warm=True)
                steps["warmed parent"] = sum(v for k, v in warmed.items() if k != "fork")
        finally:
            ws.close()
            redis.flushdb()
    delivered = len(posts) - before
    base = baseline.get(model)
    if base is None:  # --smoke: no baseline, gross CPU per delivery
        net = cpu / delivered
    else:
        net = (cpu - workers * base.cpu) / max(1, delivered - workers * base.deliveries)
    other = max(0.0, busy - mine) / wall
    return Result(model, workers, delivered, wall, drain, cpu, net, rss, pss, other, errors)


PARK = "crosspost-bench-held-back"


def _hold_back(redis: Redis, *, keep: int) -> None:
    """Leave only the first `keep` queued jobs on the queue; set the rest aside."""
    key = f"rq:queue:{DELIVERIES}"
    redis.rename(key, PARK)
    for _ in range(keep):
        redis.lmove(PARK, key, "LEFT", "RIGHT")


def _release(redis: Redis) -> None:
    """Put the jobs set aside back on the (now drained) queue, in order."""
    key = f"rq:queue:{DELIVERIES}"
    if redis.exists(PARK):
        if redis.exists(key):
            raise SystemExit("the baseline run left jobs on the queue")
        redis.rename(PARK, key)


# --- report -------------------------------------------------------------------------------------


def mb(n: int) -> str:
    return f"{n / 2**20:.0f}"


def table(results: Sequence[Result], baseline: dict[str, Baseline]) -> list[str]:
    lines = [
        "| model | workers | deliveries | wall s | drain s | deliveries/s | CPU s "
        "| CPU ms/delivery | marginal CPU ms/delivery | peak RSS MB (1 proc) "
        "| peak PSS MB (all) | other load (cores) | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.model} | {r.workers} | {r.deliveries} | {r.wall:.1f} | {r.drain:.1f} | "
            f"{r.rate:.1f} | {r.cpu:.1f} | {r.cpu / r.deliveries * 1000:.0f} | "
            f"{r.net_cpu_per_delivery * 1000:.0f} | "
            f"{mb(r.max_rss)} | {mb(r.peak_pss)} | {r.other_cores:.1f} | "
            f"{'ok' if not r.errors else 'FAILED'} |"
        )
    if baseline:
        lines.append("")
        lines.append(
            "Baseline, one worker delivering the first article on each channel (subtracted per "
            "worker for the marginal CPU): "
            + "; ".join(
                f"{m} {b.wall:.1f} s wall, {b.cpu:.2f} s CPU, {mb(b.max_rss)} MB RSS"
                for m, b in baseline.items()
            )
            + "."
        )
    return lines


BREAKDOWN = r"""
import json, os, statistics, sys, time
import crosspost.cli.main  # what `crosspost worker` has imported before it forks
from crosspost import engine as engine_module
from crosspost.bootstrap import open_workspace
from crosspost.queue.connection import connect
ws = open_workspace()
parent = engine_module.Engine(ws, connect(ws.settings))
engine_module.install(parent)
parent.sweep()
channels = sys.argv[1].split(",")
if sys.argv[2] == "warm":  # what a warmed-up parent would have done once
    import crosspost.platforms.facebook, crosspost.platforms.x
    from crosspost.domain.xtext import weighted_length
    weighted_length("Tin https://portal.example/tin-0.htm")
steps = {}
for _ in range(3):
    read, write = os.pipe()
    forked = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        marks = {"fork": time.perf_counter() - forked}
        def step(name, fn):
            t = time.process_time()
            fn()
            marks[name] = time.process_time() - t
        e = None
        def build():
            global e
            e = engine_module.current()
        step("engine", build)
        step("schema check", lambda: e.workspace.factory)
        step("adapters (both channels)", lambda: [e.publisher_for(c) for c in channels])
        from crosspost.domain.xtext import weighted_length
        step("X text counter (X jobs only)", lambda: weighted_length("Tin https://portal.example/tin-1.htm"))
        os.write(write, json.dumps(marks).encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.waitpid(pid, 0)
    for k, v in json.loads(data).items():
        steps.setdefault(k, []).append(v)
print(json.dumps({k: statistics.median(v) for k, v in steps.items()}))
"""
"""Forks like RQ's worker from a parent in the state `crosspost worker` leaves it, and times what
each horse redoes before its first platform call (median of 3; CPU seconds, fork in wall)."""


def fork_breakdown(env: dict[str, str], channels: int, *, warm: bool) -> dict[str, float]:
    names = ",".join(CHANNELS[:channels])
    out = subprocess.run(
        [sys.executable, "-c", BREAKDOWN, names, "warm" if warm else "cold"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def breakdown_line(steps: dict[str, float]) -> str:
    own = {k: v for k, v in steps.items() if k != "warmed parent"}
    parts = ", ".join(f"{k} {v * 1000:.0f}" for k, v in own.items())
    total = sum(v for k, v in own.items() if k != "fork")
    warmed = steps.get("warmed parent")
    return (
        "What each forked horse redoes before its first platform call, measured by forking "
        "from a parent in the state `crosspost worker` leaves it (median of 3, CPU ms; fork in "
        f"wall ms): {parts}; {total * 1000:.0f} ms CPU in all. The in-process worker pays these "
        "once per process."
        + (
            f" Had the parent imported the adapters and compiled the X expression before "
            f"forking, a horse would redo {warmed * 1000:.0f} ms of it."
            if warmed is not None
            else ""
        )
    )


def recommendation(
    results: Sequence[Result], steps: dict[str, float], latency_ms: int
) -> list[str]:
    def pick(model: str, workers: int) -> Result | None:
        return next((r for r in results if r.model == model and r.workers == workers), None)

    pairs: list[tuple[Result, Result]] = []
    for w in sorted({r.workers for r in results}):
        f, s = pick("fork", w), pick("simple", w)
        if f is not None and s is not None:
            pairs.append((f, s))
    if not pairs:
        return []
    speed = ", ".join(f"{s.rate / f.rate:.1f}x as fast with {f.workers}" for f, s in pairs)
    cpu = ", ".join(
        f"{f.cpu / f.deliveries * 1000:.0f} vs {s.cpu / s.deliveries * 1000:.0f}" for f, s in pairs
    )
    f1, s1 = pairs[0]
    best_fork = max(f.rate for f, _ in pairs)
    beats = [s for _, s in pairs if s.rate >= best_fork]
    simple_wins = all(s.rate >= f.rate and s.cpu <= f.cpu for f, s in pairs)
    head = (
        "**Recommendation: keep the in-process worker (`SimpleWorker`, `--no-fork`, the "
        "CLI's current default) as the default.**"
        if simple_wins
        else "**The figures do not favour the in-process worker on every count: read the "
        "table before choosing.**"
    )
    fewest = min(beats, key=lambda r: r.workers) if beats else None
    also = (
        f" {fewest.workers} in-process worker(s) already deliver more per second than the best "
        f"forking configuration measured ({fewest.rate:.1f} vs {best_fork:.1f}/s)."
        if fewest is not None
        else ""
    )
    regex = steps.get("X text counter (X jobs only)", 0.0)
    adapters = steps.get("adapters (both channels)", 0.0)
    return [
        head + f" Against the forking worker it is {speed} worker(s), and spends far less CPU "
        f"(ms per delivery, fixed costs included, fork vs in-process: {cpu}; marginal, with "
        f"one worker: {f1.net_cpu_per_delivery * 1000:.0f} vs "
        f"{s1.net_cpu_per_delivery * 1000:.0f}).{also} "
        f"With {latency_ms} ms per platform call a delivery is mostly waiting; the in-process "
        "worker only waits, the forking one also burns CPU rebuilding in every horse what the "
        "in-process worker keeps: above all the X text counter's URL expression (compiled on "
        f"first use, ~{regex * 1000:.0f} ms), the platform adapters' imports and clients "
        f"(~{adapters * 1000:.0f} ms), a new engine, database connection and schema check, "
        "and new TCP connections to the platform. On a small machine that CPU is what limits "
        "throughput: the forking worker is bounded by cores, the in-process one by processes, "
        "and every core the horses burn is taken from Redis, the database and whatever else "
        "runs on the host.",
        "",
        "Trade-offs. In-process gives no per-job process isolation: a memory leak or a crash "
        "in one job affects the worker, and module state outlives the job. RQ's "
        "`SimpleWorker` sends no heartbeat during a job; it sets its worker key's TTL to the "
        "job timeout + 60 s when the job starts, so a dead `SimpleWorker` still looks alive to "
        "RQ (and `crosspost status`) for up to 180 s with the 120 s delivery timeout (a "
        "forking worker's parent refreshes a 90 s TTL every 30 s). Its job timeout works "
        "(SIGALRM in the worker's main thread) as long as the job returns to Python code; a "
        "job stuck inside a C call hangs the `SimpleWorker` for good, while a forking worker's "
        "parent kills a horse that overruns the timeout by 60 s. Neither model saves an "
        "in-flight job from SIGKILL or the OOM killer: a killed `SimpleWorker` loses its "
        "current job just as a killed horse does, and in both cases crosspost's own recovery "
        "applies, since the delivery row, not RQ, is the truth: the sweep marks a delivery "
        "left in `sending` longer than the delivery timeout + 30 s `unconfirmed`, and "
        "reconciliation looks for the post on the account before anything is sent again. "
        "For these I/O-bound jobs, whose platform calls all have timeouts, the fork buys "
        "little safety that crosspost does not already have, at a cost paid on every "
        "delivery. `--fork` remains right for untrusted or leaky job code; whoever uses it "
        "should have the worker compile the X expression and import the adapters before it "
        "forks, which removes most of the per-job cost above.",
    ]


LOAD: list[float] = []
"""1-minute load average when the bench started and ended (the machine may be shared)."""


def machine() -> list[str]:
    load = Load()
    load.start, load.end = LOAD[0], LOAD[-1]
    return _machine(load)


def write_doc(lines: list[str]) -> None:
    _write_doc(SECTION, lines)


def section(
    args: argparse.Namespace,
    results: list[Result],
    baseline: dict[str, Baseline],
    steps: dict[str, float],
) -> list[str]:
    db = "PostgreSQL (`--database`)" if args.database else "SQLite (WAL) in a temp dir"
    cmd = f".venv/bin/python bench/worker_model.py --deliveries {args.deliveries} "
    cmd += f"--latency-ms {args.latency_ms} --channels {args.channels} --workers {args.workers}"
    if args.database:
        cmd += " --database …"
    return [
        "## Worker model: fork per job vs in-process",
        "",
        *machine(),
        "",
        "### Method",
        "",
        f"`{cmd}` (see bench/README.md). For each worker model (`fork`: RQ `Worker`, a "
        "work-horse forked per job; `simple`: RQ `SimpleWorker`, jobs in the worker process) "
        f"and worker count: a fresh workspace ({db}; Redis database 14, flushed), the "
        f"sandbox answering every platform call after {args.latency_ms} ms, "
        f"{args.deliveries} approved articles scheduled now on {args.channels} channel(s) "
        "(X and Facebook, through tweepy and facebook-sdk) and their jobs queued; then the "
        "real CLI, `crosspost worker --burst --fork|--no-fork --no-cron --log-level WARNING`, "
        "one process per worker, until all exit. The sandbox runs as threads of the bench "
        "process; it, Redis and the database share the cores with the workers. Worker "
        "processes get a byte-code cache, as an installed crosspost has. One run per row.",
        "",
        "- *wall s*: starting the workers until the last exits (start-up and the start-up "
        "sweep included); *drain s*: first to last post the sandbox accepted; "
        "*deliveries/s* = deliveries / drain.",
        "- *CPU s*: user + system time of the worker processes and their horses (the rusage "
        "`wait4` gives for each worker). *CPU ms/delivery*: the marginal cost, net of each "
        "worker's fixed cost (the baseline below: start-up, sweep and first delivery on each "
        "channel, when imports, connections and caches warm up).",
        "- *peak RSS (1 proc)*: largest single worker process (VmHWM, sampled); *peak PSS (all)*: "
        "proportional set size summed over all worker processes and horses, sampled every "
        "0.1 s (pages a horse shares copy-on-write with its parent count once).",
        "- *other load*: CPU the machine spent outside the bench and its workers during the "
        "run (Redis, the database server, other users' processes), in cores, from "
        "/proc/stat. The machine is shared: with other load present, wall times and rates "
        "are pessimistic and the more processes a run has, the larger its share of the cores.",
        "- *check*: the sandbox holds exactly articles x channels posts, none twice, every "
        "delivery is `published` with the post id the sandbox gave it, and RQ failed no job.",
        "",
        "### Results",
        "",
        *table(results, baseline),
        "",
        breakdown_line(steps) if steps else "",
        "",
        *recommendation(results, steps, args.latency_ms),
    ]


# --- main ---------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--deliveries", type=int, default=50, help="articles (default 50)")
    p.add_argument("--latency-ms", type=int, default=100, help="per platform call (default 100)")
    p.add_argument(
        "--channels", type=int, choices=(1, 2), default=2, help="1: X; 2: X and Facebook (default)"
    )
    p.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    p.add_argument("--models", default="fork,simple", help="fork, simple or both")
    p.add_argument("--database", help="PostgreSQL server URL (a fresh database per run)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="flushed around runs")
    p.add_argument("--smoke", action="store_true", help="tiny run of one model, asserts, < 20 s")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.smoke:
        args.deliveries, args.latency_ms, args.channels = 5, 20, 2
        args.workers = "1"
        if args.models == "fork,simple":
            args.models = "simple"  # the CLI's default model
        args.no_doc = True
    if args.deliveries < 2:
        p.error("--deliveries: at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if not set(models) <= set(MODELS):
        raise SystemExit(f"--models: use {', '.join(MODELS)}")
    results: list[Result] = []
    baseline: dict[str, Baseline] = {}
    steps: dict[str, float] = {}
    began = time.perf_counter()
    LOAD.append(os.getloadavg()[0])
    warm_bytecode()
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-logs-") as logs:
        for workers in counts:
            for model in models:
                say(f"{model} x{workers}: {args.deliveries * args.channels} deliveries ...")
                r = one_run(args, model, workers, args.deliveries, baseline, Path(logs), steps)
                results.append(r)
                say(
                    f"  wall {r.wall:.1f} s, drain {r.drain:.1f} s, {r.rate:.1f}/s, "
                    f"{r.net_cpu_per_delivery * 1000:.0f} ms CPU/delivery, "
                    f"other load {r.other_cores:.1f} cores"
                    + (f"; ERRORS: {r.errors}" if r.errors else "")
                )
    LOAD.append(os.getloadavg()[0])
    took = time.perf_counter() - began
    say(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {took:.0f} s, load {LOAD[0]:.1f}-{LOAD[1]:.1f}")
    say("\n".join(table(results, baseline)))
    if steps:
        say("\n" + breakdown_line(steps))
    failed = [r for r in results if r.errors]
    if failed:
        for r in failed:
            say(f"FAILED {r.model} x{r.workers}: " + "; ".join(r.errors))
        return 1
    if not args.no_doc:
        write_doc(section(args, results, baseline, steps))
        say(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
