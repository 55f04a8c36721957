"""The chaos run: many deliveries through real workers while faults are injected at random.

Full size (about 6 minutes on a 2-core machine; needs PostgreSQL on 127.0.0.1:5432)::

    .venv/bin/python -m tests.chaos.driver --deliveries 1000 --channels 20 --workers 3

What it sets up, all of its own and all torn down at the end: a fresh PostgreSQL database, a
dedicated redis-server process on a free port (so it can be SIGKILLed and restarted with its data
lost without touching anything else on the machine), the sandbox with one account per channel
(X, Facebook, Telegram and Mastodon in turn), approved articles scheduled over a window, and
`crosspost worker` processes with cron, restarted when killed, as a supervisor would.

What it injects (see `FAULT_KINDS`): SIGKILL of a worker while its publish is in flight (held
there by a sandbox delay), SIGKILL of the worker holding the cron lock or RQ's scheduler lock,
Redis killed and restarted empty, 5xx bursts on creates, 429 storms with and without reset
information, accept-then-drop on 10% of creates, answers slower than the client timeout, and a
revoked token on one channel.

What it checks at the end (`Result.problems`): no article twice on a channel's account, no
delivery lost (each published and found on the account, failed with the platform's reason, or
waiting on the paused channel), none published more than 30 s after its due time unless its
attempts show a rate limit or it is on the paused channel, and `crosspost audit verify` passes.

Telegram has no idempotency and a bot cannot read its channel's history, so a send whose answer
was lost cannot be reconciled and may be sent twice (docs/reliability.md). The run therefore
aims its ambiguous faults (drops, slow answers, kills mid-publish, and leader kills while a
Telegram send is in flight) at the other platforms; Telegram still gets 5xx bursts and 429s. Any
duplicate, Telegram's included, fails the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform as platform_module
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, select, text

from crosspost.bootstrap import Workspace, utcnow
from crosspost.db.models import Article, Channel, Delivery, DeliveryAttempt
from crosspost.db.session import transaction
from crosspost.domain.approval import Decision
from crosspost.platforms.registry import PLATFORMS
from crosspost.queue.cron import LOCK_KEY as CRON_LOCK
from crosspost.queue.liveness import KEY
from crosspost.queue.rq_queue import DELIVERIES, RQDeliveryQueue
from crosspost.sandbox import Sandbox
from crosspost.sandbox.faults import Fault
from crosspost.sandbox.state import GraphPage, MastodonAccount, TelegramBot, XAccount
from crosspost.services.articles import decide_articles
from crosspost.services.channels import NewChannel, add_channel, default_env_name
from crosspost.services.ledger import claim_holder
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sources import add_source
from crosspost.settings import load_settings
from tests.integration.engine.processes import CROSSPOST, WorkerProcess, Workers

POSTGRES_ADMIN_URL = os.environ.get(
    "CROSSPOST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

PLATFORM_CYCLE = ("x", "facebook", "telegram", "mastodon")
"""Channel i is on PLATFORM_CYCLE[i % 4]: the channels are spread evenly."""

CREATE_PATH = {
    "x": "/2/tweets",
    "facebook": "/feed",
    "telegram": "/sendMessage",
    "mastodon": "/api/v1/statuses",
}
"""The sandbox path (substring) of each platform's create call."""

AMBIGUOUS_OK = ("x", "facebook", "mastodon")
"""Platforms whose lost answers can be reconciled (Telegram's cannot)."""

CLIENT_TIMEOUT = 5.0
"""Every channel's platform timeout, in seconds."""

LATE_AFTER = timedelta(seconds=30)
"""Published later than this after its due time is late (unless excused)."""

DROP_RATE = 0.10
"""Share of creates (on the platforms that can be reconciled) answered with a dropped connection."""

FAULT_KINDS = (
    "kill_worker_mid_publish",
    "kill_cron_leader",
    "kill_scheduler_holder",
    "redis_restart",
    "5xx_burst",
    "429_with_reset",
    "429_without_reset",
    "slow_past_timeout",
    "revoked_token",
)
"""Faults injected at planned random moments; accept-then-drop runs throughout (`drops`)."""


@dataclass
class Config:
    deliveries: int = 1000
    channels: int = 20
    workers: int = 3
    window: float = 300.0
    """Seconds over which the due times are spread."""
    lead: float = 10.0
    """Seconds between the end of setup and the first due time."""
    fault_every: float = 5.0
    """Mean seconds between injected faults (besides one of each kind)."""
    settle_timeout: float = 240.0
    """Seconds after the window to wait for every delivery to settle."""
    seed: int | None = None
    keep: Path | None = None


@dataclass
class Result:
    config: dict[str, Any]
    started: datetime
    duration: float
    faults: Counter[str]
    skipped: Counter[str]
    outcomes: Counter[str]
    lateness: list[float]
    """Seconds from due time to the post, every published delivery."""
    plain_lateness: list[float]
    """The same for deliveries no rate limit held back (the 30 s promise applies to them)."""
    excused_late: Counter[str]
    posts: int
    restarts: int
    problems: list[str] = field(default_factory=list)

    @staticmethod
    def percentile(values: list[float], p: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    @classmethod
    def spread(cls, values: list[float]) -> dict[str, float]:
        return {
            "p50": round(cls.percentile(values, 50), 2),
            "p99": round(cls.percentile(values, 99), 2),
            "max": round(max(values, default=0.0), 2),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "config": self.config,
            "duration_seconds": round(self.duration, 1),
            "faults_injected": dict(sorted(self.faults.items())),
            "faults_skipped": dict(sorted(self.skipped.items())),
            "worker_restarts": self.restarts,
            "deliveries_by_outcome": dict(sorted(self.outcomes.items())),
            "sandbox_posts": self.posts,
            "lateness_seconds": self.spread(self.lateness),
            "lateness_seconds_without_rate_limits": self.spread(self.plain_lateness),
            "late_but_excused": dict(sorted(self.excused_late.items())),
            "problems": self.problems,
        }


def machine() -> str:
    return (
        f"{platform_module.system()} {platform_module.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform_module.python_version()}"
    )


# --- the servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from crosspost.queue.redis_server import redis_server_binary

    return str(redis_server_binary())


class RedisProcess:
    """A redis-server of this run only: no persistence, so a restart loses everything."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.popen = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the chaos run's redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)
            self.popen = None

    def restart_empty(self) -> None:
        """SIGKILL and start again on the same port: every key is gone."""
        self.kill()
        self.start()
        self.restarts += 1


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this run, dropped afterwards."""
    from crosspost.db import migrate
    from crosspost.db.session import make_engine

    name = f"crosspost_chaos_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        eng = make_engine(url)
        migrate.upgrade(eng)
        eng.dispose()
        yield url
    finally:
        if os.environ.get("CROSSPOST_CHAOS_KEEP_DATABASE") == "1":
            print(f"database kept: {url}", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the workspace -------------------------------------------------------------------------


@dataclass
class ChannelSetup:
    name: str
    platform: str
    account: str
    """The sandbox account (X user id, Page id, bot id, Mastodon account id)."""


def add_accounts(sandbox: Sandbox, count: int) -> tuple[list[ChannelSetup], dict[str, str]]:
    """One sandbox account per channel and the environment holding its credentials."""
    setups: list[ChannelSetup] = []
    env: dict[str, str] = {}
    for i in range(count):
        kind = PLATFORM_CYCLE[i % len(PLATFORM_CYCLE)]
        name = f"chaos-{kind}-{i:02d}"
        n = f"{i:02d}"
        values: dict[str, str]
        if kind == "x":
            account = XAccount(
                user_id=f"17900000000000001{n}",
                username=f"chaos_x_{n}",
                name=f"Chaos X {n}",
                consumer_key=f"ck-{n}",
                consumer_secret=f"cs-{n}",
                access_token=f"17900000000000001{n}-at",
                access_token_secret=f"ats-{n}",
            )
            sandbox.add_x_account(account)
            values = {
                "consumer_key": account.consumer_key,
                "consumer_secret": account.consumer_secret,
                "access_token": account.access_token,
                "access_token_secret": account.access_token_secret,
            }
            setups.append(ChannelSetup(name, kind, account.user_id))
        elif kind == "facebook":
            page = GraphPage(page_id=f"1000000000001{n}", name=f"Chaos {n}", access_token=f"pt-{n}")
            sandbox.add_page(page)
            values = {"page_access_token": page.access_token}
            setups.append(ChannelSetup(name, kind, page.page_id))
        elif kind == "telegram":
            bot = TelegramBot(
                bot_id=f"70000001{n}",
                username=f"chaos_{n}_bot",
                first_name=f"Chaos {n}",
                token=f"70000001{n}:chaos-token-{n}",
                chat_id=f"-1001000001{n}",
                chat_username=f"chaos_tg_{n}",
                chat_title=f"Chaos {n}",
            )
            sandbox.add_telegram_bot(bot)
            values = {"bot_token": bot.token}
            setups.append(ChannelSetup(name, kind, bot.bot_id))
        else:
            masto = MastodonAccount(
                account_id=f"1100000000000001{n}",
                username=f"chaos_{n}",
                display_name=f"Chaos {n}",
                access_token=f"mt-{n}",
            )
            sandbox.add_mastodon_account(masto)
            values = {"access_token": masto.access_token}
            setups.append(ChannelSetup(name, kind, masto.account_id))
        for credential in PLATFORMS[kind].credential_names:
            env[default_env_name(name, credential)] = values[credential]
    return setups, env


def register_channels(ws: Workspace, sandbox: Sandbox, setups: list[ChannelSetup]) -> None:
    base = {
        "x": sandbox.x_api_base,
        "facebook": sandbox.graph_api_base,
        "telegram": sandbox.telegram_api_base,
        "mastodon": sandbox.mastodon_api_base,
    }
    now = utcnow()
    for setup in setups:
        options: dict[str, str] = {}
        if setup.platform == "facebook":
            options["page_id"] = setup.account
        if setup.platform == "telegram":
            options["chat"] = f"@chaos_tg_{setup.name[-2:]}"
        add_channel(
            ws.factory,
            NewChannel(
                name=setup.name,
                platform=setup.platform,
                api_base=base[setup.platform],
                timeout_seconds=CLIENT_TIMEOUT,
                options=options,
            ),
            now=now,
        )


def article_url(n: int) -> str:
    return f"https://portal.example/chaos/a{n:05d}.htm"


def approved_articles(ws: Workspace, count: int) -> list[int]:
    now = utcnow()
    ids: list[int] = []
    with transaction(ws.factory) as session:
        for n in range(count):
            article = Article(
                canonical_url=article_url(n),
                link=article_url(n),
                title=f"Thông cáo báo chí số {n}: Chính phủ họp phiên thường kỳ tháng 11",
                summary="Thủ tướng chủ trì phiên họp; các bộ, ngành báo cáo tình hình kinh tế.",
                source_id=1,
                status="pending",
                published_at=now,
                published_at_estimated=False,
                first_seen_at=now,
                updated_at=now,
                revision=1,
            )
            session.add(article)
            session.flush()
            ids.append(article.id)
    decide_articles(ws.factory, ids, Decision.APPROVE, actor="Cán bộ chaos", note="", now=now)
    return ids


def schedule_all(
    ws: Workspace, queue: RQDeliveryQueue, cfg: Config, rng: random.Random, start: datetime
) -> dict[int, datetime]:
    """Deliveries spread over the window; returns delivery id -> due time."""
    per_article = min(5, cfg.channels)
    articles = approved_articles(ws, math.ceil(cfg.deliveries / per_article))
    names = [f"chaos-{PLATFORM_CYCLE[i % 4]}-{i:02d}" for i in range(cfg.channels)]
    due: dict[int, datetime] = {}
    left = cfg.deliveries
    for i, article in enumerate(articles):
        chosen = [names[(i * per_article + j) % cfg.channels] for j in range(per_article)]
        chosen = chosen[: min(per_article, left)]
        left -= len(chosen)
        for channel in chosen:
            at = start + timedelta(seconds=cfg.lead + rng.uniform(0, cfg.window))
            for p in schedule_article(
                ws.factory, article, [channel], When(at=at), actor="chaos", now=utcnow()
            ):
                queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
                due[p.delivery_id] = p.due_at
    return due


# --- the run -------------------------------------------------------------------------------


class Chaos:
    """One run: owns the servers, the workers and the fault schedule."""

    def __init__(self, cfg: Config, folder: Path, database_url: str) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.folder = folder
        self.redis_proc = RedisProcess(folder)
        self.redis_proc.start()
        self.sandbox = Sandbox.start(port=0)
        self.setups, self.env = add_accounts(self.sandbox, cfg.channels)
        self.config = folder / "crosspost.toml"
        self.config.write_text(
            f'[database]\nurl = "{database_url}"\n[redis]\nurl = "{self.redis_proc.url}"\n'
        )
        self.ws = Workspace(settings=load_settings(self.config, self.env), environ=self.env)
        self.redis = Redis.from_url(self.redis_proc.url, socket_timeout=5)
        self.faults: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.drop_faults: list[Fault] = []
        self.revoked: ChannelSetup | None = None
        self.workers: Workers | None = None
        self.by_name: dict[str, WorkerProcess] = {}
        self.restarts = 0
        self.log: list[str] = []

    # -- setup

    def prepare(self) -> dict[int, datetime]:
        add_source(
            self.ws.factory, name="chaos", url=self.sandbox.url + "/no-feed.rss", now=utcnow()
        )
        register_channels(self.ws, self.sandbox, self.setups)
        queue = RQDeliveryQueue(self.redis)
        return schedule_all(self.ws, queue, self.cfg, self.rng, utcnow())

    def start_workers(self) -> None:
        env = {**self.env, "CROSSPOST_CONFIG": str(self.config)}
        self.workers = Workers(self.config, env, self.folder / "workers")
        (self.folder / "workers").mkdir(exist_ok=True)
        for i in range(self.cfg.workers):
            self._start_worker(f"w{i}")

    def _start_worker(self, name: str) -> None:
        assert self.workers is not None
        proc = self.workers.start(name, "--log-level", "INFO")
        self.by_name[name] = proc

    def supervise(self) -> None:
        """Restart dead workers under a new name, as systemd or a container runtime would."""
        for name, proc in list(self.by_name.items()):
            if not proc.alive():
                del self.by_name[name]
                proc.kill()  # reap the group
                self.restarts += 1
                base = name.split("-r")[0]
                self._start_worker(f"{base}-r{self.restarts}")

    # -- faults

    def say(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        self.log.append(line)
        print(line, flush=True)

    def start_drops(self) -> None:
        for kind in AMBIGUOUS_OK:
            self.drop_faults.append(
                self.sandbox.inject(
                    "drop",
                    platform=kind,
                    method="POST",
                    path=CREATE_PATH[kind],
                    count=1_000_000,
                    probability=DROP_RATE,
                )
            )

    def drops(self) -> int:
        return sum(f.count - f.remaining for f in self.drop_faults)

    def stop_faults(self) -> None:
        self.sandbox.clear_faults()

    def inject(self, kind: str) -> None:
        handler = getattr(self, "_" + kind.replace("5xx", "five").replace("429", "too_many"))
        try:
            done = handler()
        except RedisError:  # the run's own Redis is restarting: try this one again later
            done = None
        if done:
            self.faults[kind] += 1
            self.say(f"fault {kind}: {done}")
        else:
            self.skipped[kind] += 1
            self.say(f"fault {kind}: skipped (nothing to hit)")

    def _sending(self, platforms: tuple[str, ...]) -> dict[int, str]:
        """Deliveries in flight on `platforms` -> the worker holding each (by its heartbeat)."""
        with self.ws.factory() as session:
            rows = session.execute(
                select(Delivery.id, Delivery.claim_token)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.status == "sending", Channel.platform.in_(platforms))
            ).all()
        held: dict[int, str] = {}
        for delivery, token in rows:
            holder = claim_holder(token)
            pid = self.redis.get(KEY.format(holder)) if holder else None
            name = self._worker_of_pid(int(pid)) if pid else None
            if name is not None:
                held[delivery] = name
        return held

    def _kill(self, name: str) -> bool:
        proc = self.by_name.get(name)
        if proc is None or not proc.alive():
            return False
        proc.kill()
        return True

    def _kill_worker_mid_publish(self) -> str | None:
        kind = self.rng.choice(AMBIGUOUS_OK)
        fault = self.sandbox.inject(
            "delay",
            platform=kind,
            method="POST",
            path=CREATE_PATH[kind],
            delay=CLIENT_TIMEOUT - 1.0,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if fault.remaining == 0:
                for delivery, name in self._sending((kind,)).items():
                    if self._kill(name):
                        return f"SIGKILL {name} while delivery {delivery} ({kind}) was in flight"
            time.sleep(0.1)
        with self.sandbox.state.lock():
            if fault in self.sandbox.state.faults:
                self.sandbox.state.faults.remove(fault)
        return None

    def _safe_to_kill(self, name: str) -> bool:
        """Not while it publishes on Telegram (an ambiguous Telegram send cannot be settled)."""
        return name not in self._sending(("telegram",)).values()

    def _worker_of_pid(self, pid: int) -> str | None:
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((n for n, p in self.by_name.items() if p.pgid == group), None)

    def _kill_lock_holder(self, pid: int | None, what: str) -> str | None:
        name = self._worker_of_pid(pid) if pid else None
        if name is None:
            return None
        deadline = time.monotonic() + 5
        while not self._safe_to_kill(name):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return f"SIGKILL {name}, holder of {what}" if self._kill(name) else None

    def _kill_cron_leader(self) -> str | None:
        token = (self.redis.get(CRON_LOCK) or b"").decode()
        pid = int(token.split("-", 1)[0]) if token.split("-", 1)[0].isdigit() else None
        return self._kill_lock_holder(pid, "the cron lock")

    def _kill_scheduler_holder(self) -> str | None:
        holder = self.redis.get(f"rq:scheduler-lock:{DELIVERIES}")
        if not holder:
            return None
        pid = self.redis.hget(f"rq:scheduler:{holder.decode()}", "pid")
        name = self._worker_of_pid(int(pid)) if pid else None
        if name is None:
            # After Redis lost its data RQ's scheduler hash comes back without its pid: the
            # holder is the live worker that logged taking the lock last.
            name = self._last_to_log(f"Acquired scheduler lock for {DELIVERIES}")
        proc = self.by_name.get(name) if name else None
        return self._kill_lock_holder(proc.pid if proc else None, "RQ's scheduler lock")

    def _last_to_log(self, line: str) -> str | None:
        latest: tuple[str, str] | None = None
        for name, proc in self.by_name.items():
            stamps = [row[:23] for row in proc.log().splitlines() if line in row]
            if stamps and (latest is None or stamps[-1] > latest[0]):
                latest = (stamps[-1], name)
        return latest[1] if latest else None

    def _redis_restart(self) -> str:
        self.redis_proc.restart_empty()
        return "redis-server SIGKILLed and restarted empty"

    def _five_burst(self) -> str:
        kind = self.rng.choice(PLATFORM_CYCLE)
        count = self.rng.randint(2, 5)
        if kind == "facebook" and self.rng.random() < 0.5:
            self.sandbox.inject("html_502", platform=kind, method="POST", path="/feed", count=count)
            return f"{count} x HTML 502 on facebook creates"
        status = self.rng.choice((500, 502, 503))
        body: dict[str, Any] = {
            "x": {"title": "Service Unavailable", "status": status},
            "facebook": {
                "error": {"message": "Service temporarily unavailable", "code": 2},
            },
            "telegram": {
                "ok": False,
                "error_code": status,
                "description": "Internal Server Error",
            },
            "mastodon": {"error": "Internal server error"},
        }[kind]
        self.sandbox.inject(
            "respond",
            platform=kind,
            method="POST",
            path=CREATE_PATH[kind],
            status=status,
            body=body,
            count=count,
        )
        return f"{count} x HTTP {status} on {kind} creates"

    def _too_many_with_reset(self) -> str:
        kind = self.rng.choice(PLATFORM_CYCLE)
        count = self.rng.randint(3, 8)
        reset = self.rng.randint(5, 20)
        self.sandbox.inject(
            "rate_limit",
            platform=kind,
            method="POST",
            path=CREATE_PATH[kind],
            count=count,
            reset_in=reset,
        )
        return f"{count} x 429 on {kind} creates, reset in {reset} s"

    def _too_many_without_reset(self) -> str:
        # X falls back to 60 s; Mastodon (300 s) and Graph (300 s) would outlast a CI run.
        count = self.rng.randint(3, 8)
        self.sandbox.inject(
            "rate_limit",
            platform="x",
            method="POST",
            path=CREATE_PATH["x"],
            count=count,
            reset_header=False,
        )
        return f"{count} x 429 without x-rate-limit-reset on x creates"

    def _slow_past_timeout(self) -> str:
        kind = self.rng.choice(AMBIGUOUS_OK)
        count = self.rng.randint(1, 3)
        self.sandbox.inject(
            "delay",
            platform=kind,
            method="POST",
            path=CREATE_PATH[kind],
            delay=CLIENT_TIMEOUT + 2,
            count=count,
        )
        return f"{count} x answer after {CLIENT_TIMEOUT + 2:.0f} s on {kind} creates"

    def _revoked_token(self) -> str | None:
        if self.revoked is not None:
            return None
        self.revoked = self.rng.choice(self.setups)
        self.sandbox.revoke(self.revoked.platform, self.revoked.account)
        return f"token of {self.revoked.name} revoked"

    def plan(self) -> list[tuple[float, str]]:
        """Fault moments over the window: one of each kind first, the rest at random."""
        cfg = self.cfg
        span = cfg.window * 0.8
        moments = [(cfg.lead + self.rng.uniform(0, span), kind) for kind in FAULT_KINDS]
        extra = max(0, int(span / cfg.fault_every) - len(FAULT_KINDS))
        repeatable = [k for k in FAULT_KINDS if k != "revoked_token"]
        moments += [
            (cfg.lead + self.rng.uniform(0, span), self.rng.choice(repeatable))
            for _ in range(extra)
        ]
        return sorted(moments)

    # -- the end

    def unsettled(self) -> int:
        paused = self.revoked.name if self.revoked else None
        with self.ws.factory() as session:
            rows = session.execute(
                select(Delivery.status, Channel.name)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.status.in_(("scheduled", "sending", "unconfirmed")))
            ).all()
        return sum(1 for status, name in rows if not (status != "sending" and name == paused))

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()
        self.sandbox.stop()
        self.redis.close()
        self.redis_proc.kill()
        self.ws.close()


def check(
    chaos: Chaos, due: dict[int, datetime]
) -> tuple[Counter[str], list[float], list[float], Counter[str], list[str], int]:
    """The end-of-run assertions, as a list of problems (empty: the run passed)."""
    problems: list[str] = []
    account_of = {s.name: (s.platform, s.account) for s in chaos.setups}
    channel_of = {v: k for k, v in account_of.items()}
    posts = [p for p in chaos.sandbox.posts() if not p.deleted]
    per_pair: Counter[tuple[str, int]] = Counter()
    url = re.compile(r"https://portal\.example/chaos/a(\d{5})\.htm")
    for post in posts:
        match = url.search(post.text) or url.search(post.link or "")
        channel = channel_of.get((post.platform, post.account))
        if match is None or channel is None:
            problems.append(f"unexpected post on the sandbox: {post.platform} {post.id}")
            continue
        per_pair[(channel, int(match.group(1)))] += 1
    for (channel, n), times in sorted(per_pair.items()):
        if times > 1:
            problems.append(f"duplicate: article {n} posted {times} times on {channel}")

    paused_name = chaos.revoked.name if chaos.revoked else None
    outcomes: Counter[str] = Counter()
    lateness: list[float] = []
    plain: list[float] = []
    excused: Counter[str] = Counter()
    post_ids = {(p.platform, p.account, p.id) for p in posts}
    with chaos.ws.factory() as session:
        rows = session.execute(
            select(
                Delivery, Channel.name, Channel.platform, Channel.paused_at, Article.canonical_url
            )
            .join(Channel, Channel.id == Delivery.channel_id)
            .join(Article, Article.id == Delivery.article_id)
        ).all()
        attempts: dict[int, list[tuple[str, str | None]]] = {}
        for a in session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)):
            attempts.setdefault(a.delivery_id, []).append((a.outcome, a.error))
    if len(rows) != len(due):
        problems.append(f"{len(rows)} delivery rows for {len(due)} scheduled")
    for delivery, name, kind, paused_at, canonical in rows:
        status = delivery.status
        if status == "published":
            outcomes["published"] += 1
            if (kind, account_of[name][1], delivery.post_id) not in post_ids:
                problems.append(
                    f"delivery {delivery.id} published as {delivery.post_id}, "
                    "which is not on the account"
                )
            n = int(url.search(canonical).group(1))  # type: ignore[union-attr]
            if per_pair[(name, n)] == 0:
                problems.append(f"delivery {delivery.id} published but nothing on {name}")
            late = (delivery.published_at - due[delivery.id]).total_seconds()
            lateness.append(late)
            why = [o for o, _ in attempts.get(delivery.id, [])]
            if "rate_limited" not in why:
                plain.append(late)
            if late > LATE_AFTER.total_seconds():
                if "rate_limited" in why:
                    excused["rate_limited"] += 1
                elif name == paused_name:
                    excused["paused_channel"] += 1
                else:
                    problems.append(
                        f"delivery {delivery.id} on {name} published {late:.0f} s late; "
                        f"attempts: {why}"
                    )
        elif status == "failed":
            outcomes["failed"] += 1
            if not delivery.last_error:
                problems.append(f"delivery {delivery.id} failed without a reason")
        elif status in ("scheduled", "unconfirmed") and name == paused_name and paused_at:
            # waiting for the channel to be resumed (an unconfirmed one is reconciled then)
            outcomes[f"paused (revoked channel, {status})"] += 1
        else:
            outcomes[f"LOST ({status})"] += 1
            problems.append(
                f"delivery {delivery.id} on {name} left {status}: "
                f"{delivery.last_error or ''} attempts {attempts.get(delivery.id, [])}"
            )
    if chaos.revoked is not None:
        with chaos.ws.factory() as session:
            paused = session.scalar(
                select(Channel.paused_at).where(Channel.name == chaos.revoked.name)
            )
        if paused is None:
            problems.append(f"{chaos.revoked.name}'s token was revoked but it is not paused")
    verify = subprocess.run(
        [str(CROSSPOST), "--config", str(chaos.config), "audit", "verify"],
        env={**os.environ, **chaos.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if verify.returncode != 0:
        problems.append(f"audit verify failed: {verify.stdout.strip()} {verify.stderr.strip()}")
    return outcomes, lateness, plain, excused, problems, len(posts)


def run(cfg: Config) -> Result:
    """One full chaos run; never leaves a process, a database or a server behind."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="crosspost-chaos-")) if cfg.keep is None else cfg.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with fresh_database() as database_url:
            chaos = Chaos(cfg, folder, database_url)
            try:
                due = chaos.prepare()
                chaos.say(f"{len(due)} deliveries scheduled over {cfg.window:.0f} s")
                plan = chaos.plan()
                chaos.start_workers()
                chaos.start_drops()
                begin = time.monotonic()
                end = begin + cfg.lead + cfg.window
                while time.monotonic() < end:
                    chaos.supervise()
                    while plan and time.monotonic() - begin >= plan[0][0]:
                        moment, kind = plan.pop(0)
                        chaos.inject(kind)
                        chaos.supervise()
                        if not chaos.faults[kind] and moment < cfg.lead + cfg.window * 0.9:
                            # nothing to hit yet (e.g. the lock holder just died): again soon
                            plan = sorted([*plan, (moment + 3.0, kind)])
                    time.sleep(0.2)
                chaos.faults["accept_then_drop"] = chaos.drops()
                chaos.stop_faults()
                chaos.say("window over; faults stopped, waiting for deliveries to settle")
                settle_end = time.monotonic() + cfg.settle_timeout
                while time.monotonic() < settle_end and chaos.unsettled():
                    chaos.supervise()
                    time.sleep(0.5)
                chaos.say(f"settled with {chaos.unsettled()} unsettled")
                if chaos.workers is not None:
                    chaos.workers.close()
                outcomes, lateness, plain, excused, problems, posts = check(chaos, due)
                if cfg.keep is not None:
                    (folder / "sandbox-posts.json").write_text(
                        json.dumps([p.as_dict() for p in chaos.sandbox.posts()], indent=1)
                    )
                return Result(
                    config={
                        "deliveries": cfg.deliveries,
                        "channels": cfg.channels,
                        "workers": cfg.workers,
                        "window_seconds": cfg.window,
                        "seed": cfg.seed,
                    },
                    started=started,
                    duration=time.monotonic() - t0,
                    faults=chaos.faults,
                    skipped=chaos.skipped,
                    outcomes=outcomes,
                    lateness=lateness,
                    plain_lateness=plain,
                    excused_late=excused,
                    posts=posts,
                    restarts=chaos.restarts,
                    problems=problems,
                )
            finally:
                chaos.close()
    finally:
        if cfg.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--window", type=float, default=None, help="seconds (default: 0.3 s per delivery)"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the workspace and logs here")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here too")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    cfg = Config(
        deliveries=args.deliveries,
        channels=args.channels,
        workers=args.workers,
        window=args.window if args.window is not None else max(30.0, 0.3 * args.deliveries),
        seed=seed,
        keep=args.keep,
    )
    result = run(cfg)
    summary = result.summary()
    text_out = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text_out)
    if args.json is not None:
        args.json.write_text(text_out + "\n", encoding="utf-8")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
