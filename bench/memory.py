"""Bench: memory, a worker's resident set over 10,000 deliveries and the peak of a big ingest.

1. One `crosspost worker --burst --no-fork --no-cron` process delivers N deliveries (50
   channels: 25 X accounts and 25 Facebook Pages in the sandbox, no added latency); its RSS
   is sampled every 0.5 s (psutil) together with the number of posts the sandbox holds. Growth
   is measured from the end of the warm-up (the first 10 % of deliveries: imports, connections,
   caches) to the end: target <= 10 %.
2. `crosspost ingest` (the CLI, a subprocess) of one 20,000-item feed (bench/ingest.py's
   generated feed, served locally) into a fresh SQLite workspace: its peak RSS (wait4's
   VmHWM), next to the feed's size.

    .venv/bin/python bench/memory.py                   # 10,000 deliveries, 20,000 items
    .venv/bin/python bench/memory.py --smoke           # 40 deliveries, 100 items, asserts
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from _common import (
    CLI,
    Load,
    database,
    hwm,
    machine,
    md_table,
    say,
    warm_bytecode,
    worker_argv,
    worker_env,
    write_config,
    write_doc,
)
from dispatch import open_sandbox, prepare, schedule_all
from ingest import MAX_BYTES, FeedServer, big_feed
from redis import Redis

from crosspost.bootstrap import Workspace, utcnow
from crosspost.domain.xtext import weighted_length
from crosspost.services.sources import add_source
from crosspost.settings import load_settings

SECTION = "memory"
GROWTH_TARGET = 0.10
MB = 2**20


class PeakWatcher:
    """Polls a process's VmHWM every `every` seconds until it exits; `peak` is the last seen."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, hwm(self.pid))
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class WorkerMemory:
    deliveries: int
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, posts, rss)
    wall: float = 0.0
    max_rss: int = 0
    errors: list[str] = field(default_factory=list)

    def rss_at(self, posts: int) -> int:
        """RSS of the first sample taken once `posts` posts were in the sandbox."""
        return next((rss for _t, n, rss in self.samples if n >= posts), self.samples[-1][2])

    @property
    def warm(self) -> int:
        return self.rss_at(max(1, self.deliveries // 10))

    @property
    def end(self) -> int:
        return self.samples[-1][2]

    @property
    def growth(self) -> float:
        return (self.end - self.warm) / self.warm


def worker_memory(args: argparse.Namespace, logdir: Path) -> WorkerMemory:
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    result = WorkerMemory(args.deliveries)
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-memory-") as tmp,
        database(args.database, Path(tmp)) as url,
        open_sandbox(0, args.channels) as sandbox,
    ):
        config = write_config(Path(tmp), url, args.redis)
        creds = prepare(config, sandbox, args.deliveries // args.channels, args.channels)
        queued = schedule_all(config, creds, redis)
        log = logdir / "worker.log"
        started = time.perf_counter()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                worker_argv("bench-memory"), env=worker_env(config, creds), stdout=out, stderr=out
            )
        watched = psutil.Process(proc.pid)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    rss = watched.memory_info().rss
                except psutil.Error:
                    return
                result.max_rss = max(result.max_rss, hwm(proc.pid))
                result.samples.append(
                    (time.perf_counter() - started, len(sandbox.state.posts), rss)
                )
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, _usage = os.wait4(proc.pid, 0)
        stop.set()
        sampler.join()
        result.wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        posts = len(sandbox.posts())
        if code != 0:
            result.errors.append(f"worker exited {code}: {log.read_text()[-300:]}")
        if posts != queued or queued != args.deliveries:
            result.errors.append(f"{posts} posts for {queued} queued deliveries")
        if len(result.samples) < 4:
            result.errors.append("too few RSS samples")
        redis.flushdb()
    return result


@dataclass
class IngestMemory:
    items: int
    feed_bytes: int
    max_rss: int
    wall: float
    errors: list[str] = field(default_factory=list)


def ingest_memory(items: int) -> IngestMemory:
    feeds = big_feed(items)
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-memory-") as tmp,
        database(None, Path(tmp)) as url,
        FeedServer(feeds) as server,
    ):
        config = write_config(Path(tmp), url, None)
        ws = Workspace(settings=load_settings(config, {}), environ={})
        add_source(
            ws.factory, name="big", url=server.url + "/big.xml", now=utcnow(),
            allow_private=True, max_bytes=MAX_BYTES, timeout_seconds=600,
        )  # fmt: skip
        ws.close()
        t = time.perf_counter()
        proc = subprocess.Popen(
            [str(CLI), "ingest"],
            env=worker_env(config),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        watcher = PeakWatcher(proc.pid)
        assert proc.stdout is not None
        output = proc.stdout.read()
        peak = watcher.stop()
        _pid, status, _usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        errors = []
        if os.waitstatus_to_exitcode(status) != 0 or b"failed" in output:
            errors.append(f"crosspost ingest: {output.decode(errors='replace')[-300:]}")
    return IngestMemory(items, len(feeds["/big.xml"]), peak, wall, errors)


def idle_rss() -> int:
    """Peak RSS of `crosspost ingest --help`: the interpreter with the ingest command loaded."""
    proc = subprocess.Popen(
        [str(CLI), "ingest", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    watcher = PeakWatcher(proc.pid, every=0.01)
    assert proc.stdout is not None
    proc.stdout.read()
    peak = watcher.stop()
    proc.wait()
    return peak


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--deliveries", type=int, default=10_000, help="for the worker (10,000)")
    p.add_argument("--channels", type=int, default=50, help="half X, half Facebook (50)")
    p.add_argument("--items", type=int, default=20_000, help="items of the ingested feed")
    p.add_argument("--database", help="PostgreSQL server URL for the worker part")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="flushed around runs")
    p.add_argument("--smoke", action="store_true", help="tiny, asserts, never touches the doc")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.smoke:
        args.deliveries, args.channels, args.items, args.no_doc = 40, 4, 100, True
    if args.deliveries % args.channels:
        p.error("--deliveries: a multiple of --channels")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    load = Load()
    if not args.smoke:
        warm_bytecode()
    weighted_length("https://portal.example/tin-0.htm")
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-logs-") as logs:
        say(f"worker: {args.deliveries:,} deliveries ...")
        w = worker_memory(args, Path(logs))
    say(
        f"  RSS after warm-up {w.warm / MB:.1f} MB, at the end {w.end / MB:.1f} MB "
        f"({w.growth:+.1%}), peak {w.max_rss / MB:.1f} MB, {w.wall:.0f} s"
    )
    say(f"ingest: {args.items:,} items ...")
    i = ingest_memory(args.items)
    base = idle_rss()
    say(f"  peak RSS {i.max_rss / MB:.1f} MB ({i.feed_bytes / MB:.1f} MB feed), {i.wall:.0f} s")
    load.stop()
    quarter = [w.rss_at(args.deliveries * k // 4) / MB for k in (1, 2, 3, 4)]
    rows = [
        (
            f"worker, {args.deliveries:,} deliveries",
            f"{w.warm / MB:.1f} (after {max(1, args.deliveries // 10):,})",
            " / ".join(f"{q:.1f}" for q in quarter),
            f"{w.end / MB:.1f}",
            f"{w.max_rss / MB:.1f}",
            f"{w.growth:+.1%}",
            "ok" if w.growth <= GROWTH_TARGET else "MISSED",
        ),
        (
            f"`crosspost ingest`, {args.items:,}-item feed ({i.feed_bytes / MB:.1f} MB)",
            "",
            "",
            "",
            f"{i.max_rss / MB:.1f}",
            "",
            f"(`crosspost ingest --help`: {base / MB:.1f} MB)",
        ),
    ]
    table = md_table(
        ("process", "RSS after warm-up MB", "RSS at 25/50/75/100 % MB", "RSS at end MB",
         "peak RSS MB", "growth after warm-up", "target <= +10 %"),
        rows,
    )  # fmt: skip
    say("\n".join(table))
    errors = [*w.errors, *i.errors]
    for e in errors:
        say(f"FAILED: {e}")
    if not args.no_doc and not errors:
        write_doc(SECTION, section(args, load, table, i))
        say("wrote docs/benchmarks.md")
    return 1 if errors else 0


def section(args: argparse.Namespace, load: Load, table: list[str], i: IngestMemory) -> list[str]:
    return [
        "## Memory",
        "",
        *machine(load),
        "",
        f"`.venv/bin/python bench/memory.py --deliveries {args.deliveries} --channels "
        f"{args.channels} --items {args.items}`: one `crosspost worker --burst --no-fork "
        f"--no-cron` delivering {args.deliveries:,} deliveries on {args.channels} channels "
        "(sandbox, no added latency; SQLite), its RSS sampled every 0.5 s with the number of "
        "posts made so far; warm-up is the first 10 % of the deliveries. Then `crosspost "
        f"ingest` of one {args.items:,}-item feed ({i.feed_bytes / MB:.1f} MB) served locally, "
        "its peak RSS (VmHWM, polled every 50 ms; wait4's ru_maxrss would include the "
        "bench's own size, which a forked child inherits). The feed is read whole (bounded by "
        "`ingest.max_bytes`) and "
        "parsed by feedparser in one piece, so the ingest's peak grows with the feed's size: "
        "the figure is the bound for a feed of this size.",
        "",
        *table,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
