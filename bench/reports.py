"""Bench: a year's report over 1,000,000 metric snapshots and 50,000 deliveries.

Bulk-loads a year (2026) of history straight into the tables (SQLite: executemany on the driver;
PostgreSQL: COPY), not through the services: 25,000 articles from 10 sources, each approved (an
audit entry) and delivered on 2 of 10 channels (X and Facebook), 50,000 deliveries (96 %
published), and 20 snapshots per delivery (likes, shares, comments, impressions at 5 ages):
1,000,000 rows. Then `ANALYZE`, and `build_report` for the year, by channel and by source
(median of --runs), plus one run of the CLI (`crosspost report --period 2026 --format json`).

Every SQL statement the report runs is captured; each is timed alone and its plan recorded
(SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`), and the bench checks that no statement
reads no index at all; full scans of the big tables are listed.

    .venv/bin/python bench/reports.py                      # full size, SQLite and PostgreSQL
    .venv/bin/python bench/reports.py --smoke              # 8,000 snapshots, asserts, no doc
    .venv/bin/python bench/reports.py --database none      # SQLite only

Target: under 2 s per report on each database.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    CLI,
    Load,
    Loader,
    database,
    machine,
    md_table,
    median,
    postgres_available,
    say,
    worker_env,
    write_config,
    write_doc,
)
from sqlalchemy import event, text

from crosspost.db.session import make_engine, session_factory
from crosspost.domain.periods import parse_period
from crosspost.services.report import GroupBy, build_report

SECTION = "reports"
TARGET = 2.0
ZONE = "Asia/Ho_Chi_Minh"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
METRICS = ("likes", "shares", "comments", "impressions")
AGES = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=7))
SOURCES, CHANNELS = 10, 10


# --- bulk load ----------------------------------------------------------------------------------


@dataclass
class Sizes:
    articles: int
    per_delivery: int  # snapshots per delivery (multiple of len(METRICS))

    @property
    def deliveries(self) -> int:
        return self.articles * 2

    @property
    def snapshots(self) -> int:
        return self.deliveries * self.per_delivery


def load(url: str, sizes: Sizes) -> dict[str, float]:
    """A year of history; returns seconds per table."""
    eng = make_engine(url)
    took: dict[str, float] = {}
    minutes = 365 * 24 * 60 / sizes.articles
    readings = [AGES[i % len(AGES)] * (1 + i // len(AGES)) for i in range(sizes.per_delivery // 4)]

    def timed(name: str, columns: Sequence[str], rows: Iterator[Sequence[Any]]) -> None:
        t = time.perf_counter()
        with eng.begin() as conn:
            Loader(conn).load(name, columns, rows)
        took[name] = time.perf_counter() - t

    def published(i: int) -> datetime:
        return YEAR_START + timedelta(minutes=minutes * i)

    created = YEAR_START - timedelta(days=1)
    timed(
        "sources",
        ("id", "name", "url", "trusted", "enabled", "allow_private", "created_at",
         "items_seen", "articles_created", "revisions_recorded"),
        iter([(s, f"nguon-{s}", f"https://portal{s}.example/rss", False, True, False, created,
               0, 0, 0) for s in range(1, SOURCES + 1)]),
    )  # fmt: skip
    timed(
        "channels",
        ("id", "name", "platform", "timezone", "options", "credentials_env", "hashtags", "utm",
         "enabled", "created_at", "slots", "min_gap_seconds", "auto_schedule"),
        iter([(c, f"kenh-{c}", "x" if c <= CHANNELS // 2 else "facebook", ZONE, {}, {}, [], {},
               True, created, [], 0, []) for c in range(1, CHANNELS + 1)]),
    )  # fmt: skip
    timed(
        "articles",
        ("id", "canonical_url", "link", "title", "summary", "source_id", "status",
         "published_at", "published_at_estimated", "first_seen_at", "updated_at", "revision"),
        ((i, f"https://portal.example/tin-{i}.htm", f"https://portal.example/tin-{i}.htm",
          f"Thông cáo báo chí số {i} về phiên họp Chính phủ thường kỳ", "Tóm tắt.",
          1 + i % SOURCES, "published", published(i), i % 50 == 0,
          published(i) + timedelta(minutes=4), published(i) + timedelta(minutes=4), 1)
         for i in range(1, sizes.articles + 1)),
    )  # fmt: skip
    timed(
        "audit_log",
        ("id", "at", "actor", "action", "subject_type", "subject_id", "from_state", "to_state",
         "note", "prev_hash", "hash"),
        ((i, published(i) + timedelta(minutes=20 + i % 90), "Cán bộ A", "approved", "article",
          i, "pending", "approved", "", "0" * 64, f"{i:064x}")
         for i in range(1, sizes.articles + 1)),
    )  # fmt: skip
    half = CHANNELS // 2

    def deliveries() -> Iterator[Sequence[Any]]:
        for i in range(1, sizes.articles + 1):
            for k, channel in enumerate((1 + i % half, 1 + half + i % half)):
                d = 2 * (i - 1) + k + 1
                due = published(i) + timedelta(minutes=30 + i % 120)
                status = "failed" if d % 50 == 0 else "unconfirmed" if d % 50 == 1 else "published"
                done = status == "published"
                yield (
                    d, i, channel, status, due, False, 1, 1 + (d % 7 == 0), due, due,
                    "Cán bộ A", due if done else None, f"post-{d}" if done else None,
                    due + timedelta(seconds=2) if done else None,
                )  # fmt: skip

    timed(
        "deliveries",
        ("id", "article_id", "channel_id", "status", "due_at", "urgent", "version", "attempts",
         "created_at", "updated_at", "scheduled_by", "claimed_at", "post_id", "published_at"),
        deliveries(),
    )  # fmt: skip

    def snapshots() -> Iterator[Sequence[Any]]:
        n = 0
        for i in range(1, sizes.articles + 1):
            posted = published(i) + timedelta(minutes=30 + i % 120, seconds=2)
            for d in (2 * i - 1, 2 * i):
                for r, age in enumerate(readings):
                    for m, name in enumerate(METRICS):
                        n += 1
                        yield (n, d, posted + age, name, (d % 97 + 1) * (r + 1) * (m + 1))

    timed("metric_snapshots", ("id", "delivery_id", "taken_at", "name", "value"), snapshots())
    t = time.perf_counter()
    with eng.begin() as conn:
        conn.execute(text("ANALYZE"))
    took["ANALYZE"] = time.perf_counter() - t
    eng.dispose()
    return took


# --- the report, its statements and their plans -------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float = 0.0
    plan: list[str] = field(default_factory=list)


@dataclass
class DbResult:
    name: str
    load_s: dict[str, float]
    by_channel: list[float]
    by_source: list[float]
    cli_s: float
    statements: list[Statement]
    errors: list[str]


FULL_SCAN_TABLES = ("metric_snapshots", "deliveries")


def full_scans(plan: Sequence[str], dialect: str) -> list[str]:
    """Plan lines that read one of the big tables in full (no index)."""
    found = []
    for line in plan:
        for table in FULL_SCAN_TABLES:
            if dialect == "sqlite":
                if f"SCAN {table}" in line and "INDEX" not in line:
                    found.append(line.strip())
            elif f"Seq Scan on {table}" in line:
                found.append(line.split("(cost=")[0].strip(" ->"))
    return found


def indexes_used(plan: Sequence[str]) -> set[str]:
    """Index names a plan reads (SQLite `USING INDEX x`, PostgreSQL `Index Scan using x`)."""
    found = set()
    for line in plan:
        m = re.search(
            r"USING (?:COVERING )?INDEX (\w+)|Index (?:Only )?Scan (?:Backward )?using (\w+)", line
        )
        if m:
            found.add(m.group(1) or m.group(2))
    return found


def explain(url: str, statements: list[Statement], dialect: str) -> None:
    eng = make_engine(url)
    with eng.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for st in statements:
            cur = raw.cursor()
            t = time.perf_counter()
            cur.execute(st.sql, st.params)
            cur.fetchall()
            st.seconds = time.perf_counter() - t
            prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
            cur.execute(prefix + st.sql, st.params)
            rows = cur.fetchall()
            if dialect == "sqlite":
                st.plan = [str(r[3]) for r in rows]
            else:
                st.plan = [str(r[0]) for r in rows]
    eng.dispose()


def run_report(url: str, dialect: str, runs: int, env: dict[str, str]) -> DbResult:
    eng = make_engine(url)
    factory = session_factory(eng)
    from zoneinfo import ZoneInfo

    period = parse_period("2026", ZoneInfo(ZONE))
    now = datetime(2027, 1, 2, tzinfo=UTC)
    captured: list[Statement] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _m: Any) -> None:
        captured.append(Statement(statement, parameters))

    errors: list[str] = []
    times: dict[GroupBy, list[float]] = {GroupBy.CHANNEL: [], GroupBy.SOURCE: []}
    for i in range(runs):
        for by in times:
            if i == 0 and by is GroupBy.CHANNEL:
                event.listen(eng, "before_cursor_execute", capture)
            t = time.perf_counter()
            report = build_report(factory, period, by=by, now=now)
            times[by].append(time.perf_counter() - t)
            if event.contains(eng, "before_cursor_execute", capture):
                event.remove(eng, "before_cursor_execute", capture)
            if by is GroupBy.CHANNEL and len(report.groups) != CHANNELS:
                errors.append(f"{len(report.groups)} channel groups, expected {CHANNELS}")
            if not report.total.posts or not report.top_articles:
                errors.append("the report is empty")
    eng.dispose()
    t = time.perf_counter()
    out = subprocess.run(
        [str(CLI), "report", "--period", "2026", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    cli_s = time.perf_counter() - t
    if out.returncode != 0:
        errors.append(f"crosspost report failed: {out.stderr.strip()[-600:]}")
    statements = [s for s in captured if s.sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    explain(url, statements, dialect)
    if not any(indexes_used(st.plan) for st in statements):
        errors.append("no statement of the report uses an index")
    return DbResult(
        dialect,
        {},
        times[GroupBy.CHANNEL],
        times[GroupBy.SOURCE],
        cli_s,
        statements,
        errors,
    )


def first_line(sql: str, width: int = 90) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= width else one[: width - 1] + "…"


def bench_one(server: str | None, sizes: Sizes, runs: int) -> DbResult:
    name = "postgresql" if server else "sqlite"
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-reports-") as tmp:
        folder = Path(tmp)
        with database(server, folder) as url:
            say(f"{name}: loading {sizes.snapshots:,} snapshots, {sizes.deliveries:,} deliveries")
            took = load(url, sizes)
            say("  " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
            env = worker_env(write_config(folder, url, None))
            result = run_report(url, name, runs, env)
            result.load_s = took
    say(
        f"  report by channel {median(result.by_channel):.2f} s, by source "
        f"{median(result.by_source):.2f} s, CLI {result.cli_s:.2f} s"
    )
    return result


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--articles", type=int, default=25_000, help="2 deliveries each (25,000)")
    p.add_argument("--per-delivery", type=int, default=20, help="snapshots per delivery (20)")
    p.add_argument("--runs", type=int, default=3, help="report runs per grouping (median)")
    p.add_argument(
        "--database", default=PG_DEFAULT, help="PostgreSQL server, or `none` for SQLite only"
    )
    p.add_argument("--smoke", action="store_true", help="tiny, asserts, never touches the doc")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.per_delivery % len(METRICS):
        p.error(f"--per-delivery: a multiple of {len(METRICS)}")
    if args.smoke:
        args.articles, args.runs, args.no_doc = 200, 1, True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    load_avg = Load()
    sizes = Sizes(args.articles, args.per_delivery)
    servers: list[str | None] = [None]
    skipped = ""
    if args.database != "none":
        if postgres_available(args.database):
            servers.append(args.database)
        else:
            skipped = f"PostgreSQL at {args.database} is not reachable: skipped"
            say(skipped)
    results = [bench_one(s, sizes, args.runs) for s in servers]
    load_avg.stop()
    rows = []
    for r in results:
        slowest = max(r.statements, key=lambda s: s.seconds)
        ok = max(median(r.by_channel), median(r.by_source)) < TARGET
        rows.append(
            (
                r.name,
                f"{sum(r.load_s.values()):.0f}",
                f"{median(r.by_channel):.2f}",
                f"{median(r.by_source):.2f}",
                f"{r.cli_s:.2f}",
                len(r.statements),
                f"{slowest.seconds:.2f}",
                "ok" if ok and not r.errors else "MISSED" if not r.errors else "FAILED",
            )
        )
    table = md_table(
        ("database", "load s", "report by channel s", "report by source s",
         "CLI (json) s", "statements", "slowest statement s", "target < 2 s"),
        rows,
    )  # fmt: skip
    say("\n".join(table))
    errors = [f"{r.name}: {e}" for r in results for e in r.errors]
    for e in errors:
        say(f"FAILED: {e}")
    if not args.no_doc and not errors:
        write_doc(SECTION, section(args, sizes, load_avg, table, results, skipped))
        say("wrote docs/benchmarks.md")
    return 1 if errors else 0


def section(
    args: argparse.Namespace,
    sizes: Sizes,
    load_avg: Load,
    table: list[str],
    results: list[DbResult],
    skipped: str,
) -> list[str]:
    lines = [
        "## Reports",
        "",
        *machine(load_avg),
        "",
        f"`.venv/bin/python bench/reports.py --articles {args.articles} --per-delivery "
        f"{args.per_delivery} --runs {args.runs}`: a year (2026) of history bulk-loaded into "
        f"fresh databases (SQLite file: driver executemany; PostgreSQL: COPY): {SOURCES} "
        f"sources, {CHANNELS} channels (X and Facebook), {sizes.articles:,} articles each "
        f"approved once (audit entries), {sizes.deliveries:,} deliveries (96 % published, "
        f"2 % failed, 2 % unconfirmed) and {sizes.snapshots:,} metric snapshots "
        f"({args.per_delivery} per delivery: likes, shares, comments, impressions at "
        f"{args.per_delivery // 4} ages), then `ANALYZE`. Timed: `build_report` for "
        f"`--period 2026` ({ZONE}), by channel and by source, median of {args.runs} (the first "
        "run included), and one run of `crosspost report --period 2026 --format json` "
        "(process start to exit). Every statement the report runs is then run alone and "
        "explained; the indexes the plans use and their full scans of the two big tables are "
        "listed below.",
        "",
        *table,
    ]
    if skipped:
        lines += ["", skipped + "."]
    for r in results:
        used = sorted(set().union(*(indexes_used(s.plan) for s in r.statements)))
        scans = sorted({line for s in r.statements for line in full_scans(s.plan, r.name)})
        lines += [
            "",
            f"{r.name}: indexes used by the report's plans: {', '.join(used) or 'none'}. "
            f"Full scans of the big tables: {'; '.join(f'`{x}`' for x in scans) or 'none'}.",
            "",
            f"Statements of one report on {r.name} (each run alone, seconds) and the plan of the "
            "costliest two:",
            "",
        ]
        lines += [f"- {s.seconds:.3f} s: `{first_line(s.sql)}`" for s in r.statements]
        for s in sorted(r.statements, key=lambda s: -s.seconds)[:2]:
            lines += ["", f"`{first_line(s.sql, 140)}`", "", "```", *s.plan, "```"]
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
