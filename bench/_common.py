"""Helpers shared by the benches: machine description, doc sections, databases, worker set-up.

Every bench prints its table, and (unless `--no-doc` or `--smoke`) rewrites only its own section
of docs/benchmarks.md, between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "benchmarks.md"
CLI = Path(sys.executable).parent / "crosspost"
PYCACHE = Path(tempfile.gettempdir()) / "crosspost-bench-pycache"
"""Byte-code cache for the processes a bench starts (as an installed crosspost has; this tree
is run with PYTHONDONTWRITEBYTECODE=1, which would make every process compile crosspost)."""
WARM_IMPORTS = (
    "import crosspost.cli.main, crosspost.engine, crosspost.queue.worker, jobs.deliver, "
    "crosspost.platforms.x, crosspost.platforms.facebook"
)


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- machine and doc ----------------------------------------------------------------------------


class Load:
    """1-minute load average when the bench started and ended (the machine may be shared)."""

    def __init__(self) -> None:
        self.start = os.getloadavg()[0]
        self.end = self.start

    def stop(self) -> None:
        self.end = os.getloadavg()[0]


def machine(load: Load) -> list[str]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if m:
            cpu_model = m.group(1).strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    date = subprocess.run(["date"], capture_output=True, text=True, check=False).stdout.strip()
    import rq
    import sqlalchemy

    return [
        f"- Machine: {nproc} CPUs (`nproc`), {cpu_model}; Linux {platform.release()}",
        f"- Python {platform.python_version()}, rq {rq.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"- Date: {date}",
        f"- 1-minute load average at start / end of the bench: {load.start:.1f} / {load.end:.1f}",
    ]


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_doc(name: str, lines: Sequence[str]) -> None:
    """Replace the bench's own section of docs/benchmarks.md (appended if missing)."""
    start, end = markers(name)
    section = "\n".join([start, *lines, end])
    if DOC.exists():
        current = DOC.read_text()
        if start in current and end in current:
            before, rest = current.split(start, 1)
            _, after = rest.split(end, 1)
            DOC.write_text(before + section + after)
            return
        DOC.write_text(current.rstrip("\n") + "\n\n" + section + "\n")
        return
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("# Benchmarks\n\nMeasurements behind crosspost's defaults.\n\n" + section + "\n")


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table; the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def hwm(pid: int) -> int:
    """The process's peak RSS so far (VmHWM, bytes); 0 once it is gone.

    Not wait4's ru_maxrss: Linux carries a forked child's peak from before its exec over, so a
    child of this (large) bench process would report at least the bench's own size."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- CPU accounting -----------------------------------------------------------------------------


def cpu_of(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- databases ----------------------------------------------------------------------------------


@contextlib.contextmanager
def database(server: str | None, folder: Path, *, migrate_it: bool = True) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file in `folder`, or a new PostgreSQL database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from crosspost.db import migrate
    from crosspost.db.session import make_engine

    if server is None:
        url = f"sqlite:///{folder / 'crosspost.db'}"
        if migrate_it:
            eng = make_engine(url)
            migrate.upgrade(eng)
            eng.dispose()
        yield url
        return
    base = make_url(server)
    admin_url = base.set(database=base.database or "postgres")
    name = f"crosspost_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        if migrate_it:
            eng = make_engine(url)
            migrate.upgrade(eng)
            eng.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Loader:
    """Rows into a table as fast as the driver allows: executemany (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def _value(self, v: Any) -> Any:
        if isinstance(v, datetime):
            if self.pg:
                return v
            return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, dict | list):
            return json.dumps(v)
        return v

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        if self.pg:
            raw = self.conn.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row([self._value(v) for v in row])
                    n += 1
            return n
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        batch: list[list[Any]] = []
        for row in rows:
            batch.append([self._value(v) for v in row])
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                n += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            n += len(batch)
        return n


def postgres_available(server: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        eng = create_engine(server, connect_args={"connect_timeout": 2})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def write_config(folder: Path, database_url: str, redis_url: str | None) -> Path:
    config = folder / "crosspost.toml"
    body = f'[database]\nurl = "{database_url}"\n'
    if redis_url is not None:
        body += f'[redis]\nurl = "{redis_url}"\n'
    config.write_text(body)
    return config


# --- worker processes ---------------------------------------------------------------------------


def worker_env(config: Path, credentials: dict[str, str] | None = None) -> dict[str, str]:
    """A child's environment: this one, the channel credentials, the configuration."""
    env = {**os.environ, **(credentials or {}), "CROSSPOST_CONFIG": str(config)}
    for name in ("CROSSPOST_DATABASE_URL", "CROSSPOST_REDIS_URL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def warm_bytecode() -> None:
    """Fill the children's byte-code cache, so no run pays for compiling (idempotent)."""
    env = worker_env(Path("/nonexistent"))
    subprocess.run([sys.executable, "-c", WARM_IMPORTS], env=env, cwd=ROOT, check=True)


def worker_argv(
    name: str, *, burst: bool = True, fork: bool = False, cron: bool = False
) -> list[str]:
    argv = [str(CLI), "worker", "--fork" if fork else "--no-fork", "--log-level", "WARNING"]
    if burst:
        argv.append("--burst")
    if not cron:
        argv.append("--no-cron")
    return [*argv, "--name", f"{name}-{uuid.uuid4().hex[:6]}"]


def approved_articles(factory: sessionmaker[Session], n: int, now: datetime) -> list[int]:
    """`n` articles of source 1, approved by an officer (as ingestion and approval leave them)."""
    from crosspost.db.models import Article
    from crosspost.db.session import transaction
    from crosspost.domain.approval import Decision
    from crosspost.services.articles import decide_articles

    with transaction(factory) as session:
        articles = [
            Article(
                canonical_url=f"https://portal.example/tin-{i}.htm",
                link=f"https://portal.example/tin-{i}.htm",
                title=f"Chính phủ ban hành nghị định số {i}/2026/NĐ-CP về chuyển đổi số",
                summary="Nghị định quy định việc kết nối, chia sẻ dữ liệu giữa các bộ, ngành.",
                source_id=1,
                status="pending",
                published_at=now,
                published_at_estimated=False,
                first_seen_at=now,
                updated_at=now,
                revision=1,
            )
            for i in range(1, n + 1)
        ]
        session.add_all(articles)
        session.flush()
        ids = [a.id for a in articles]
    decide_articles(factory, ids, Decision.APPROVE, actor="Cán bộ A", note="", now=now)
    return ids
