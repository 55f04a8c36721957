"""The delivery engine for real: a database of each kind, a real Redis, the sandbox, RQ workers.

Redis is the server on 127.0.0.1:6379 (database 13, flushed around each test) when it runs, else
an embedded one in the test's workspace; CROSSPOST_REQUIRE_SERVERS=1 makes its absence a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from crosspost import engine as engine_module
from crosspost.bootstrap import Workspace, utcnow
from crosspost.db.models import Article
from crosspost.db.session import transaction
from crosspost.domain.approval import Decision
from crosspost.engine import Engine
from crosspost.queue.worker import build_worker
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import (
    DEMO_MASTODON_ACCOUNT,
    DEMO_PAGE,
    DEMO_TELEGRAM_BOT,
    DEMO_X_ACCOUNT,
    DEMO_ZALO_OA,
)
from crosspost.services.articles import decide_articles
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.sources import add_source
from crosspost.settings import load_settings

CREDENTIALS = {
    "CROSSPOST_GOV_X_CONSUMER_KEY": DEMO_X_ACCOUNT.consumer_key,
    "CROSSPOST_GOV_X_CONSUMER_SECRET": DEMO_X_ACCOUNT.consumer_secret,
    "CROSSPOST_GOV_X_ACCESS_TOKEN": DEMO_X_ACCOUNT.access_token,
    "CROSSPOST_GOV_X_ACCESS_TOKEN_SECRET": DEMO_X_ACCOUNT.access_token_secret,
    "CROSSPOST_GOV_FB_PAGE_ACCESS_TOKEN": DEMO_PAGE.access_token,
    "CROSSPOST_GOV_TG_BOT_TOKEN": DEMO_TELEGRAM_BOT.token,
    "CROSSPOST_GOV_MASTO_ACCESS_TOKEN": DEMO_MASTODON_ACCOUNT.access_token,
    "CROSSPOST_GOV_ZALO_APP_SECRET": DEMO_ZALO_OA.app_secret,
    "CROSSPOST_GOV_ZALO_REFRESH_TOKEN": DEMO_ZALO_OA.refresh_token,
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(port=0) as sb:
        yield sb


@dataclass
class Rig:
    """One workspace wired to the sandbox: engine, factory, redis, and helpers."""

    engine: Engine
    sandbox: Sandbox
    config: Path
    env: dict[str, str] = field(repr=False)  # credentials: not in failure reports

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.engine.workspace.factory

    @property
    def redis(self) -> Redis:
        return self.engine.redis

    def approved_article(self, n: int, title: str | None = None) -> int:
        """An approved article (as ingestion and an officer would leave it)."""
        now = utcnow()
        with transaction(self.factory) as session:
            article = Article(
                canonical_url=f"https://portal.example/tin-{n}.htm",
                link=f"https://portal.example/tin-{n}.htm",
                title=title or f"Chính phủ ban hành nghị định số {n}/2026/NĐ-CP về chuyển đổi số",
                summary="Nghị định quy định việc kết nối, chia sẻ dữ liệu giữa các bộ, ngành.",
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
            article_id = article.id
        decide_articles(
            self.factory, [article_id], Decision.APPROVE, actor="Cán bộ A", note="", now=now
        )
        return article_id

    def work(self) -> None:
        """What `crosspost worker --burst` does: sweep, then drain the queues in-process."""
        self.engine.sweep()
        build_worker(self.redis, fork=False).work(
            burst=True, with_scheduler=True, logging_level="WARNING"
        )


@pytest.fixture
def rig(tmp_path: Path, database_url: str, redis_url: str, sandbox: Sandbox) -> Iterator[Rig]:
    from crosspost.db import migrate
    from crosspost.db.session import make_engine

    config = tmp_path / "crosspost.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[redis]\nurl = "{redis_url}"\n')
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    eng.dispose()
    env = {**CREDENTIALS}
    ws = Workspace(settings=load_settings(config, env), environ=env)
    now = utcnow()
    add_source(ws.factory, name="chinhphu", url="https://portal.example/rss", now=now)
    add_channel(
        ws.factory,
        NewChannel(name="gov-x", platform="x", api_base=sandbox.x_api_base, timeout_seconds=2),
        now=now,
    )
    add_channel(
        ws.factory,
        NewChannel(
            name="gov-fb",
            platform="facebook",
            api_base=sandbox.graph_api_base,
            timeout_seconds=2,
            options={"page_id": DEMO_PAGE.page_id},
        ),
        now=now,
    )
    engine = Engine(ws, Redis.from_url(redis_url))
    engine_module.install(engine)
    yield Rig(engine, sandbox, config, {**env, "CROSSPOST_CONFIG": str(config)})
    engine_module.reset()


Clock = Callable[[], datetime]


def at(seconds: float) -> datetime:
    return datetime.now(UTC).fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC)
