"""Bench: one engagement-collection round over 100,000 published posts due for a poll.

Builds a workspace with 20 channels (10 X accounts, 10 Facebook Pages, each its own account in
the sandbox) and 5,000 published posts on each (`--posts` in all), every one due for a reading,
bulk-loaded into the database (driver executemany / COPY) and into the sandbox's memory. Then
one round, as the worker's cron runs it (`Engine.collect_metrics`, real tweepy and
facebook-sdk calls over HTTP to the sandbox), measuring:

* API calls made, counted by the sandbox, against the minimum the platforms allow: one
  `GET /2/tweets` per 100 X posts and one Graph batch request per 50 Facebook posts, per account;
* wall time of the round, and database time: every statement's execution as seen by
  SQLAlchemy's cursor events;
* that every post got its snapshots and its next reading time, and that a second round at once
  (nothing due) makes no call at all.

    .venv/bin/python bench/metrics.py                  # 100,000 posts, SQLite
    .venv/bin/python bench/metrics.py --database postgresql+psycopg://postgres@127.0.0.1:5432
    .venv/bin/python bench/metrics.py --smoke          # 1,000 posts, asserts, no doc

The sandbox's state is subclassed here with an index of posts by id (its own lookup is a linear
scan, fine for tests and hopeless for 100,000 posts); the HTTP handling is the sandbox's own.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Load, Loader, database, machine, md_table, say, write_config, write_doc
from redis import Redis
from sqlalchemy import event, func, select

from crosspost.bootstrap import Workspace, utcnow
from crosspost.db.models import Channel, Delivery, MetricSnapshot
from crosspost.engine import Engine
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import GraphPage, Post, SandboxState, XAccount
from crosspost.services.channels import NewChannel, add_channel
from crosspost.settings import load_settings

SECTION = "metrics"
X_BATCH, FB_BATCH = 100, 50


class IndexedState(SandboxState):
    """The sandbox's state with posts indexed by (platform, id)."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self._index: dict[tuple[str, str], Post] = {}

    def add_post(self, post: Post) -> Post:
        with self.lock():
            self.posts.append(post)
            self._index[(post.platform, post.id)] = post
        return post

    def find_post(self, platform: str, post_id: str) -> Post | None:
        with self.lock():
            post = self._index.get((platform, post_id))
        return None if post is None or post.deleted else post


@dataclass
class DbClock:
    seconds: float = 0.0
    statements: int = 0
    _started: dict[int, float] = field(default_factory=dict)

    def before(self, conn: Any, *_a: Any) -> None:
        self._started[id(conn)] = time.perf_counter()

    def after(self, conn: Any, *_a: Any) -> None:
        self.seconds += time.perf_counter() - self._started.pop(id(conn), time.perf_counter())
        self.statements += 1


@dataclass
class Result:
    posts: int
    channels: int
    calls: dict[str, int]
    minimum: dict[str, int]
    wall: float
    db: DbClock
    snapshots: int
    second_round_calls: int
    load_s: float
    errors: list[str]


def setup(
    ws: Workspace, sandbox: Sandbox, env: dict[str, str], n_channels: int, per_channel: int
) -> dict[str, int]:
    """Channels and accounts, posts in the sandbox and in the database; -> posts per platform."""
    now = utcnow()
    state = sandbox.state
    for key in ("x:read", "facebook:calls"):
        sandbox.set_limit(key, 10**9, 900)
    published = now - timedelta(hours=2)
    channel_posts: list[tuple[int, str, list[str]]] = []
    per_platform = {"x": 0, "facebook": 0}
    for c in range(n_channels):
        platform = "x" if c < n_channels // 2 else "facebook"
        name = f"{platform}-{c:02d}"
        if platform == "x":
            account = XAccount(
                user_id=str(1790000000000001000 + c),
                username=f"bench_{c}",
                name=f"Bench {c}",
                consumer_key=f"ck-{c}",
                consumer_secret=f"cs-{c}",
                access_token=f"{1790000000000001000 + c}-at",
                access_token_secret=f"ats-{c}",
            )
            sandbox.add_x_account(account)
            view = add_channel(
                ws.factory,
                NewChannel(name=name, platform="x", api_base=sandbox.x_api_base),
                now=now,
            )
            values = {
                "consumer_key": account.consumer_key,
                "consumer_secret": account.consumer_secret,
                "access_token": account.access_token,
                "access_token_secret": account.access_token_secret,
            }
            owner = account.user_id
        else:
            page = GraphPage(page_id=str(200000000000000 + c), name=f"Trang {c}",
                             access_token=f"page-token-{c}")  # fmt: skip
            sandbox.add_page(page)
            view = add_channel(
                ws.factory,
                NewChannel(
                    name=name,
                    platform="facebook",
                    api_base=sandbox.graph_api_base,
                    options={"page_id": page.page_id},
                ),
                now=now,
            )
            values = {"page_access_token": page.access_token}
            owner = page.page_id
        for cred, var in view.credentials_env.items():
            env[var] = values[cred]
        ids = []
        for i in range(per_channel):
            if platform == "x":
                post_id = state.next_x_id()
            else:
                post_id = f"{owner}_{100000000000000 + state.next_seq()}"
            state.add_post(Post(platform, owner, post_id, f"Tin {c}-{i}", None, published))
            ids.append(post_id)
        channel_posts.append((view.id, platform, ids))
        per_platform[platform] += per_channel
    with ws.engine.begin() as conn:
        loader = Loader(conn)
        loader.load(
            "sources",
            ("id", "name", "url", "trusted", "enabled", "allow_private", "created_at",
             "items_seen", "articles_created", "revisions_recorded"),
            [(1, "chinhphu", "https://portal.example/rss", False, True, False, now, 0, 0, 0)],
        )  # fmt: skip
        loader.load(
            "articles",
            ("id", "canonical_url", "link", "title", "summary", "source_id", "status",
             "published_at", "published_at_estimated", "first_seen_at", "updated_at", "revision"),
            ((i, f"https://portal.example/tin-{i}.htm", f"https://portal.example/tin-{i}.htm",
              f"Tin {i}", "", 1, "published", published, False, published, published, 1)
             for i in range(1, per_channel + 1)),
        )  # fmt: skip

        def deliveries() -> Any:
            d = 0
            for channel_id, _platform, ids in channel_posts:
                for i, post_id in enumerate(ids, start=1):
                    d += 1
                    yield (d, i, channel_id, "published", published, False, 1, 1, published,
                           published, "bench", published, post_id, published,
                           now - timedelta(minutes=1))  # fmt: skip

        loader.load(
            "deliveries",
            ("id", "article_id", "channel_id", "status", "due_at", "urgent", "version",
             "attempts", "created_at", "updated_at", "scheduled_by", "claimed_at", "post_id",
             "published_at", "metrics_due_at"),
            deliveries(),
        )  # fmt: skip
    return per_platform


def run(args: argparse.Namespace) -> Result:
    per_channel = args.posts // args.channels
    with (
        tempfile.TemporaryDirectory(prefix="crosspost-bench-metrics-") as tmp,
        database(args.database, Path(tmp)) as url,
        Sandbox.start(port=0, state=IndexedState()) as sandbox,
    ):
        env: dict[str, str] = {}
        config = write_config(Path(tmp), url, None)
        ws = Workspace(settings=load_settings(config, {}), environ=env)
        t = time.perf_counter()
        per_platform = setup(ws, sandbox, env, args.channels, per_channel)
        load_s = time.perf_counter() - t
        say(f"  set up {args.channels * per_channel:,} posts in {load_s:.1f} s")
        engine = Engine(ws, Redis.from_url(args.redis))  # Redis is not used by a metrics round
        clock = DbClock()
        event.listen(ws.engine, "before_cursor_execute", clock.before)
        event.listen(ws.engine, "after_cursor_execute", clock.after)
        before = len(sandbox.requests())
        t = time.perf_counter()
        report = engine.collect_metrics()
        wall = time.perf_counter() - t
        event.remove(ws.engine, "before_cursor_execute", clock.before)
        event.remove(ws.engine, "after_cursor_execute", clock.after)
        requests = sandbox.requests()[before:]
        calls = {
            "x": sum(1 for r in requests if r.platform == "x"),
            "facebook": sum(1 for r in requests if r.platform == "facebook"),
        }
        minimum = {
            "x": (args.channels // 2) * math.ceil(per_channel / X_BATCH),
            "facebook": (args.channels - args.channels // 2) * math.ceil(per_channel / FB_BATCH),
        }
        second_before = len(sandbox.requests())
        engine.collect_metrics()
        second = len(sandbox.requests()) - second_before
        with ws.factory() as session:
            snapshots = session.scalar(select(func.count()).select_from(MetricSnapshot)) or 0
            read = session.scalar(select(func.count(func.distinct(MetricSnapshot.delivery_id))))
            still_due = session.scalar(
                select(func.count()).where(Delivery.metrics_due_at <= utcnow())
            )
            channels = session.scalar(select(func.count()).select_from(Channel))
        ws.close()
    errors = []
    total = args.channels * per_channel
    summary = report.summary()
    if summary["failed"] or summary["deferred"]:
        errors.append(f"round: {summary}")
    if read != total:
        errors.append(f"{read} posts got snapshots, expected {total}")
    if still_due:
        errors.append(f"{still_due} posts still due after the round")
    if calls != minimum:
        errors.append(f"calls {calls} != minimum {minimum}")
    if second:
        errors.append(f"a round with nothing due made {second} calls")
    if channels != args.channels or sum(per_platform.values()) != total:
        errors.append("set-up mismatch")
    return Result(total, args.channels, calls, minimum, wall, clock, snapshots, second, load_s,
                  errors)  # fmt: skip


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--posts", type=int, default=100_000, help="posts in all (100,000)")
    p.add_argument("--channels", type=int, default=20, help="half X, half Facebook (20)")
    p.add_argument("--database", help="PostgreSQL server URL (default: a SQLite file)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="never used by a round")
    p.add_argument("--smoke", action="store_true", help="tiny, asserts, never touches the doc")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.smoke:
        args.posts, args.channels, args.no_doc = 1_000, 4, True
    if args.channels < 2 or args.posts < args.channels:
        p.error("at least 2 channels and a post per channel")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    load = Load()
    say(f"{args.posts:,} posts on {args.channels} channels ...")
    r = run(args)
    load.stop()
    db_name = "PostgreSQL" if args.database else "SQLite"
    rows = [
        (
            db_name,
            f"{r.posts:,}",
            f"{r.calls['x']} / {r.minimum['x']}",
            f"{r.calls['facebook']} / {r.minimum['facebook']}",
            f"{r.wall:.1f}",
            f"{r.db.seconds:.1f}",
            r.db.statements,
            f"{r.snapshots:,}",
            f"{r.wall / r.posts * 1e6:.0f}",
            r.second_round_calls,
            "ok" if not r.errors else "FAILED",
        )
    ]
    table = md_table(
        ("database", "posts due", "X calls / minimum", "Facebook calls / minimum", "wall s",
         "database s", "statements", "snapshots written", "µs per post", "calls, next round",
         "check"),
        rows,
    )  # fmt: skip
    say("\n".join(table))
    for e in r.errors:
        say(f"FAILED: {e}")
    if not args.no_doc and not r.errors:
        write_doc(SECTION, section(args, load, table))
        say("wrote docs/benchmarks.md")
    return 1 if r.errors else 0


def section(args: argparse.Namespace, load: Load, table: list[str]) -> list[str]:
    db = "PostgreSQL (`--database`)" if args.database else "a SQLite file (WAL) in a temp dir"
    return [
        "## Metrics collection",
        "",
        *machine(load),
        "",
        f"`.venv/bin/python bench/metrics.py --posts {args.posts} --channels {args.channels}`: "
        f"{args.channels} channels ({args.channels // 2} X accounts, the rest Facebook Pages, "
        f"each its own account in the sandbox), {args.posts // args.channels:,} published posts "
        f"on each, all due, in {db} and in the sandbox; then one collection round as the "
        "worker's cron runs it (`Engine.collect_metrics`: tweepy and facebook-sdk over HTTP). "
        "Calls are counted by the sandbox; the minimum is one `GET /2/tweets` per 100 X posts "
        "and one Graph batch per 50 Facebook posts, per account. *database s*: time inside "
        "the database driver (every statement, from SQLAlchemy's cursor events; commits not "
        "included), the rest of "
        "the wall time is the platform calls (the sandbox runs in the bench process, so its "
        "CPU is in the wall time too) and Python. *calls, next round*: a second round at "
        "once, with nothing due.",
        "",
        *table,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
