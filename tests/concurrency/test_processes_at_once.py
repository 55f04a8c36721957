"""Officers, schedulers and workers as separate processes at once, on PostgreSQL and Redis.

Every actor is the installed `crosspost` console script in a process of its own, started
together: three officers approving the same batch in different orders, an approval racing a
rejection, two schedulers scheduling the same article on the same channels, withdrawals racing
the schedulers and three workers that are already publishing. Afterwards: each decision and each
delivery happened once (the audit log verifies, one entry per decision), the sandbox holds each
post once, a withdrawal that succeeded left nothing published, every loser got one clear line,
and PostgreSQL is left with no lock held, no session idle in a transaction and no deadlock.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, AuditEntry, Delivery
from crosspost.db.session import make_engine, session_factory, transaction
from crosspost.sandbox import DEMO_PAGE, Sandbox
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.sources import add_source
from tests.integration.engine.conftest import CREDENTIALS
from tests.integration.engine.processes import CROSSPOST, wait_for, worker_processes

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

NOW = datetime.now(UTC)
CHANNELS = "gov-x,gov-fb,gov-masto"


class Actors:
    """`crosspost` commands started now, each with its output in a file of the test's folder."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.config = config
        self.folder = folder
        self.env = {**os.environ, **CREDENTIALS, "PYTHONUNBUFFERED": "1"}
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, name: str, *args: str) -> None:
        out = self.folder / f"{name}.out"
        with out.open("wb") as sink:
            self.running[name] = (
                subprocess.Popen(
                    [str(CROSSPOST), "--config", str(self.config), *args],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                ),
                out,
            )

    def finish(self, timeout: float = 120) -> dict[str, tuple[int, str]]:
        """Exit code and output of every command started, once all have ended."""
        deadline = time.monotonic() + timeout
        results = {}
        for name, (proc, out) in self.running.items():
            try:
                code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{name} still running after {timeout:.0f} s") from None
            results[name] = (code, out.read_text(encoding="utf-8").strip())
        self.running.clear()
        return results

    def kill_all(self) -> None:
        for proc, _ in self.running.values():
            proc.kill()
            proc.wait()


def _clean_refusal(result: tuple[int, str]) -> str:
    """A loser's answer: exit 1 and one line, no traceback, nothing about the database."""
    code, out = result
    assert code == 1, out
    assert len(out.splitlines()) == 1, out
    assert "Traceback" not in out, out
    assert "deadlock" not in out.lower(), out
    return out


@pytest.fixture
def workspace(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[Path, sessionmaker[Session], Sandbox]]:
    """A PostgreSQL workspace with three channels on a sandbox and seven pending articles."""
    config = tmp_path / "crosspost.toml"
    config.write_text(f'[database]\nurl = "{postgres_url}"\n[redis]\nurl = "{redis_url}"\n')
    engine = make_engine(postgres_url)
    factory = session_factory(engine)
    with Sandbox.start(port=0) as sandbox:
        add_source(factory, name="bo", url="https://bo.example/rss", now=NOW)
        for name, platform, base, options in (
            ("gov-x", "x", sandbox.x_api_base, {}),
            ("gov-fb", "facebook", sandbox.graph_api_base, {"page_id": DEMO_PAGE.page_id}),
            ("gov-masto", "mastodon", sandbox.mastodon_api_base, {}),
        ):
            add_channel(
                factory,
                NewChannel(
                    name=name,
                    platform=platform,
                    api_base=base,
                    options=options,
                    timeout_seconds=30,
                ),
                now=NOW,
            )
        with transaction(factory) as session:
            for n in range(1, 8):
                url = f"https://bo.example/tin/{n}.htm"
                session.add(
                    Article(
                        canonical_url=url,
                        link=url,
                        title=f"Bộ công bố quyết định số {n}/QĐ về chuyển đổi số",
                        summary="Quyết định có hiệu lực từ ngày ký.",
                        source_id=1,
                        status="pending",
                        published_at=NOW,
                        published_at_estimated=False,
                        first_seen_at=NOW,
                        updated_at=NOW,
                        revision=1,
                    )
                )
        yield config, factory, sandbox
    engine.dispose()


def test_officers_schedulers_and_workers_at_once(
    workspace: tuple[Path, sessionmaker[Session], Sandbox], postgres_url: str, tmp_path: Path
) -> None:
    config, factory, sandbox = workspace
    deadlocks_before = _deadlocks(postgres_url)
    actors = Actors(config, tmp_path)
    try:
        # 1. Three officers approve the same batch, typed in different orders; one approval of
        #    article 7 races its rejection.
        for n, order in enumerate(("1 2 3 4 5 6", "6 5 4 3 2 1", "3 1 5 2 6 4"), start=1):
            actors.start(f"approve-{n}", "articles", "approve", *order.split(), "--by", f"CB {n}")
        actors.start("approve-7", "articles", "approve", "7", "--by", "CB 4")
        actors.start("reject-7", "articles", "reject", "7", "--by", "CB 5", "--reason", "trùng")
        decided = actors.finish()

        batch = [decided[f"approve-{n}"] for n in (1, 2, 3)]
        assert sorted(code for code, _ in batch) == [0, 1, 1], batch
        for result in batch:
            if result[0]:
                assert "already approved" in _clean_refusal(result)
        seven = [decided["approve-7"], decided["reject-7"]]
        assert sorted(code for code, _ in seven) == [0, 1], seven
        _clean_refusal(next(r for r in seven if r[0]))
        with factory() as session:
            decisions = Counter(
                (subject, action)
                for subject, action in session.execute(
                    select(AuditEntry.subject_id, AuditEntry.action).where(
                        AuditEntry.subject_type == "article"
                    )
                )
            )
        assert decisions == Counter(
            {(n, "approved"): 1 for n in range(1, 7)}
            | {(7, "approved" if decided["approve-7"][0] == 0 else "rejected"): 1}
        )

        # 2. Workers already running while two schedulers race on articles 1-3, articles 4-6
        #    are scheduled once, and articles 5 and 6 are withdrawn at the same time.
        with worker_processes(config, CREDENTIALS, tmp_path / "workers") as workers:
            for n in (1, 2, 3):
                workers.start(f"w{n}", "--no-cron")
            for n in (1, 2, 3):
                for k in ("a", "b"):
                    actors.start(
                        f"schedule-{n}{k}", "schedule", str(n), "--channels", CHANNELS, "--now"
                    )
            for n in (4, 5, 6):
                actors.start(f"schedule-{n}", "schedule", str(n), "--channels", CHANNELS, "--now")
            for n in (5, 6):
                actors.start(f"withdraw-{n}", "articles", "withdraw", str(n), "--note", "chờ")
            acted = actors.finish()
            wait_for(
                lambda: _unsettled(factory) == 0,
                timeout=90,
                what="every delivery published or cancelled",
            )
            logs = workers.logs()
        for result in acted.values():
            if result[0]:
                _clean_refusal(result)
        for n in (1, 2, 3):
            pair = [acted[f"schedule-{n}a"], acted[f"schedule-{n}b"]]
            assert sorted(code for code, _ in pair) == [0, 1], pair
        assert acted["schedule-4"][0] == 0, acted["schedule-4"]
    finally:
        actors.kill_all()

    # 3. What the public sees, and what the database says.
    assert "Traceback" not in logs, logs
    posts = Counter((p.platform, p.link) for p in sandbox.posts())
    assert posts, "nothing was posted"
    assert max(posts.values()) == 1, posts
    with factory() as session:
        rows = session.execute(
            select(Delivery.article_id, Delivery.status, func.count()).group_by(
                Delivery.article_id, Delivery.status
            )
        ).all()
        statuses = {i: s for i, s in session.execute(select(Article.id, Article.status))}
    published = {a: c for a, s, c in rows if s == "published"}
    assert sum(published.values()) == len(posts), rows
    for n in (1, 2, 3, 4):
        assert published.get(n) == 3, rows  # each channel once
    for n in (5, 6):
        withdrawn = acted[f"withdraw-{n}"][0] == 0
        posted = [p for p in sandbox.posts() if p.link and f"/tin/{n}.htm" in p.link]
        if withdrawn:
            assert statuses[n] == "pending"
            assert posted == [], f"article {n} was withdrawn, yet posted: {posted}"
        else:
            assert "already published" in acted[f"withdraw-{n}"][1]
            assert statuses[n] == "approved"
            assert posted
    code, out = _run(config, "audit", "verify")
    assert code == 0, out

    # 4. Nothing left behind in PostgreSQL once the processes are gone.
    assert wait_for(lambda: _leftovers(postgres_url) == [], timeout=10, what="no locks") is True
    assert _deadlocks(postgres_url) == deadlocks_before


def _run(config: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, **CREDENTIALS}
    done = subprocess.run(
        [str(CROSSPOST), "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _unsettled(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count()).where(
                    Delivery.status.in_(["scheduled", "sending", "unconfirmed"])
                )
            )
            or 0
        )


def _admin(url: str) -> tuple[Engine, str]:
    return create_engine(url, isolation_level="AUTOCOMMIT"), url.rsplit("/", 1)[1]


def _leftovers(url: str) -> list[str]:
    """Other sessions on the database holding locks or idle inside a transaction."""
    engine, db = _admin(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.pid, a.state, count(l.pid) FROM pg_stat_activity a "
                    "LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype <> 'virtualxid' "
                    "WHERE a.datname = :db AND a.pid <> pg_backend_pid() "
                    "GROUP BY a.pid, a.state "
                    "HAVING count(l.pid) > 0 OR a.state LIKE 'idle in transaction%'"
                ),
                {"db": db},
            ).all()
    finally:
        engine.dispose()
    return [f"pid {pid} {state} holding {locks} locks" for pid, state, locks in rows]


def _deadlocks(url: str) -> int:
    engine, db = _admin(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(
                conn.scalar(
                    text("SELECT deadlocks FROM pg_stat_database WHERE datname = :db"), {"db": db}
                )
                or 0
            )
    finally:
        engine.dispose()
