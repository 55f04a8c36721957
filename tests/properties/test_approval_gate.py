"""The approval gate, as a property: whatever an officer, the feeds and the workers do, in any
order, the platform only ever receives posts of articles that are approved when they are sent,
and a withdrawal (or rejection) before the send time cancels the delivery.

A hypothesis state machine drives the real services on SQLite (ingest through `store_item`,
decisions through `decide_articles`, `schedule_article` now and later, a clock that moves) and
runs the real delivery path (`dispatch.deliver`: claim, publish over HTTP to the sandbox, record)
on every queued job that is due, stale ones included, as RQ would. A small model of what an
officer expects is checked against the database and the sandbox after every step.

Articles cannot be deleted in crosspost (no command or service does it), so deletion is not a
rule here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from redis import Redis
from sqlalchemy import select

from crosspost.bootstrap import Workspace
from crosspost.db import migrate
from crosspost.db.models import Article, Delivery
from crosspost.db.session import make_engine, session_factory
from crosspost.domain.approval import Decision
from crosspost.domain.delivery import DeliveryStatus
from crosspost.domain.feed import FeedItem
from crosspost.engine import Engine
from crosspost.errors import InvalidInput, InvalidTransition
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_MASTODON_ACCOUNT, DEMO_X_ACCOUNT
from crosspost.services import dispatch
from crosspost.services.articles import decide_articles
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.ingest_store import Outcome, SourceRef, store_item
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sources import add_source
from crosspost.settings import load_settings

CHANNELS = {"gov-x": "x", "gov-masto": "mastodon"}
"""Channel name -> platform; both accounts are the sandbox's demo accounts."""

ENV = {
    "CROSSPOST_GOV_X_CONSUMER_KEY": DEMO_X_ACCOUNT.consumer_key,
    "CROSSPOST_GOV_X_CONSUMER_SECRET": DEMO_X_ACCOUNT.consumer_secret,
    "CROSSPOST_GOV_X_ACCESS_TOKEN": DEMO_X_ACCOUNT.access_token,
    "CROSSPOST_GOV_X_ACCESS_TOKEN_SECRET": DEMO_X_ACCOUNT.access_token_secret,
    "CROSSPOST_GOV_MASTO_ACCESS_TOKEN": DEMO_MASTODON_ACCOUNT.access_token,
}

OFFICER = "Cán bộ A"


@dataclass
class FakeQueue:
    """RQ as the engine sees it: jobs kept in order of due time, none ever dropped."""

    jobs: list[tuple[datetime, int]] = field(default_factory=list)

    def enqueue_delivery(self, delivery_id: int, version: int, due_at: datetime) -> None:
        self.jobs.append((due_at, delivery_id))

    def enqueue_reconcile(self, delivery_id: int, at: datetime) -> None:
        raise AssertionError(f"delivery {delivery_id}: no outcome should be unknown here")

    def take_due(self, now: datetime) -> list[int]:
        due = sorted(job for job in self.jobs if job[0] <= now)
        self.jobs = [job for job in self.jobs if job[0] > now]
        return [delivery_id for _, delivery_id in due]


@dataclass
class Expected:
    """What an officer expects of one article."""

    id: int
    path: str
    status: str
    guids: dict[str, str]  # source name -> the item's guid in that source
    live: dict[str, datetime] = field(default_factory=dict)  # channel -> due time
    posted: set[str] = field(default_factory=set)  # channels it was posted on


@dataclass
class World:
    """What every example starts from: a migrated database to copy and a running sandbox."""

    template: Path
    sandbox: Sandbox
    folder: Path


class ApprovalGate(RuleBasedStateMachine):
    world: World

    articles = Bundle("articles")

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        world.sandbox.state.reset()
        self.folder = Path(world.folder, f"ex{id(self)}")
        self.folder.mkdir()
        db = self.folder / "crosspost.db"
        shutil.copy(world.template, db)
        config = self.folder / "crosspost.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
        workspace = Workspace(settings=load_settings(config, ENV), environ=ENV)
        self.db_engine = workspace.engine
        self.factory = workspace.factory
        # The engine is used for what a worker builds (adapters from channels and credentials);
        # its Redis is never touched: the queue here is the fake above.
        self.engine = Engine(workspace, Redis.from_url("redis://127.0.0.1:1/0"))
        self.queue = FakeQueue()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.sources: dict[str, SourceRef] = {}
        for name, trusted in (("bo", False), ("hub", True)):
            view = add_source(
                self.factory,
                name=name,
                url=f"https://{name}.example/rss",
                trusted=trusted,
                now=self.now,
            )
            self.sources[name] = SourceRef(
                view.id, name, view.url, trusted, False, None, None, 5.0, 1_000_000
            )
        for name, platform in CHANNELS.items():
            base = world.sandbox.url + ("/x" if platform == "x" else "/mastodon")
            add_channel(
                self.factory,
                NewChannel(name=name, platform=platform, api_base=base, timeout_seconds=30),
                now=self.now,
            )
        self.expected: dict[int, Expected] = {}
        self.counter = 0
        self.seen_posts = 0

    def teardown(self) -> None:
        from tests.canary import SCANNER

        SCANNER.sandbox(self.world.sandbox, "approval gate example")  # reset by the next one
        self.db_engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- the feeds ---------------------------------------------------------------------------

    def _item(self, guid: str, path: str, title: str) -> FeedItem:
        url = f"https://portal.example{path}"
        summary = "Nghị định quy định việc kết nối, chia sẻ dữ liệu giữa các bộ, ngành."
        return FeedItem(guid, url, url, title, summary, self.now, False)

    @rule(target=articles, source=st.sampled_from(["bo", "hub"]))
    def ingest_new_article(self, source: str) -> int:
        self.counter += 1
        path = f"/tin/a{self.counter}.htm"
        guid = f"{source}-{self.counter}"
        title = f"Thông cáo báo chí số {self.counter}/2026 về chuyển đổi số"
        outcome = store_item(
            self.factory, self.sources[source], self._item(guid, path, title), self.now
        )
        assert outcome is Outcome.NEW
        with self.factory() as session:
            article_id = session.scalars(
                select(Article.id).where(Article.canonical_url.endswith(path))
            ).one()
        status = "approved" if source == "hub" else "pending"  # a trusted source vouches
        self.expected[article_id] = Expected(article_id, path, status, {source: guid})
        return article_id

    @initialize(target=articles)
    def an_approved_article_to_start_with(self) -> int:
        return self.ingest_new_article("hub")

    @rule(article=articles, source=st.sampled_from(["bo", "hub"]))
    def another_source_carries_it(self, article: int, source: str) -> None:
        exp = self.expected[article]
        if source in exp.guids:
            return
        exp.guids[source] = f"{source}-copy-{article}"
        with self.factory() as session:
            title = session.get_one(Article, article).title
        item = self._item(exp.guids[source], exp.path, title)
        assert store_item(self.factory, self.sources[source], item, self.now) is Outcome.DUPLICATE
        if source == "hub" and exp.status == "pending":
            exp.status = "approved"

    @rule(article=articles)
    def the_article_is_revised(self, article: int) -> None:
        exp = self.expected[article]
        self.counter += 1
        source, guid = next(iter(exp.guids.items()))
        title = f"Thông cáo báo chí (cập nhật {self.counter}) về chuyển đổi số"
        item = self._item(guid, exp.path, title)
        assert store_item(self.factory, self.sources[source], item, self.now) is Outcome.REVISED

    # --- the officer -------------------------------------------------------------------------

    @rule(article=articles)
    def officer_approves(self, article: int) -> None:
        self._decide(article, Decision.APPROVE)

    @rule(article=articles)
    def officer_rejects(self, article: int) -> None:
        self._decide(article, Decision.REJECT)

    @rule(article=articles)
    def officer_withdraws(self, article: int) -> None:
        self._decide(article, Decision.WITHDRAW)

    def _decide(self, article: int, decision: Decision) -> None:
        exp = self.expected[article]
        moves = {
            ("pending", Decision.APPROVE): "approved",
            ("pending", Decision.REJECT): "rejected",
            ("approved", Decision.WITHDRAW): "pending",
        }
        target = moves.get((exp.status, decision))
        if decision is Decision.WITHDRAW and exp.posted:
            target = None  # published somewhere: too late to withdraw
        try:
            decide_articles(
                self.factory, [article], decision, actor=OFFICER, note="lý do", now=self.now
            )
        except InvalidTransition:
            assert target is None, f"{decision} of a {exp.status} article was refused"
            return
        assert target is not None, f"{decision} of a {exp.status} article was allowed"
        exp.status = target
        if target != "approved":
            exp.live.clear()  # its scheduled deliveries are cancelled

    @rule(
        article=articles,
        channel=st.sampled_from(sorted(CHANNELS)),
        later=st.none() | st.integers(min_value=1, max_value=120),
    )
    def officer_schedules(self, article: int, channel: str, later: int | None) -> None:
        exp = self.expected[article]
        when = When(now=True) if later is None else When(at=self.now + timedelta(minutes=later))
        allowed = exp.status == "approved" and channel not in exp.live and channel not in exp.posted
        refused = None
        try:
            planned = schedule_article(
                self.factory, article, [channel], when, actor=OFFICER, now=self.now
            )
        except (InvalidTransition, InvalidInput) as exc:
            refused = str(exc)
        assert (refused is None) == allowed, refused or f"{exp.status} article scheduled"
        if refused is not None:
            return
        (p,) = planned
        self.queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
        exp.live[channel] = p.due_at

    # --- time and the workers ----------------------------------------------------------------

    @rule(minutes=st.integers(min_value=1, max_value=90))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def workers_run(self) -> None:
        approved_now = {a.id for a in self.expected.values() if a.status == "approved"}
        for delivery_id in self.queue.take_due(self.now):
            dispatch.deliver(
                self.factory,
                delivery_id,
                publisher_for=self.engine.publisher_for,
                queue=self.queue,
                templates=self.engine.templates,
                clock=lambda: self.now,
                sleep=lambda _s: None,
            )
        posts = self.world.sandbox.posts()
        fresh = posts[self.seen_posts :]
        self.seen_posts = len(posts)
        sent = set()
        for post in fresh:
            exp = self._article_of(post.link or post.text)
            channel = next(c for c, p in CHANNELS.items() if p == post.platform)
            assert exp.id in approved_now, (
                f"article {exp.id} was posted on {channel} while {exp.status}"
            )
            sent.add((exp.id, channel))
        due = {
            (a.id, channel)
            for a in self.expected.values()
            for channel, at in a.live.items()
            if at <= self.now
        }
        assert sent == due, f"posted {sorted(sent)}, but due were {sorted(due)}"
        for article_id, channel in due:
            exp = self.expected[article_id]
            del exp.live[channel]
            exp.posted.add(channel)

    def _article_of(self, text: str) -> Expected:
        hits = [a for a in self.expected.values() if a.path in text]
        assert len(hits) == 1, f"post {text!r} is not one known article's"
        return hits[0]

    # --- after every step --------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_officer(self) -> None:
        with self.factory() as session:
            statuses = {i: s for i, s in session.execute(select(Article.id, Article.status))}
            live = session.execute(
                select(Delivery.article_id, Delivery.status).where(
                    Delivery.status.in_([DeliveryStatus.SCHEDULED, DeliveryStatus.SENDING])
                )
            ).all()
        assert statuses == {a.id: a.status for a in self.expected.values()}
        for article_id, status in live:
            assert statuses[article_id] == "approved", (
                f"article {article_id} is {statuses[article_id]} but has a {status} delivery"
            )

    @invariant()
    def nothing_is_posted_twice(self) -> None:
        posts = self.world.sandbox.posts()
        keys = [(p.platform, self._article_of(p.link or p.text).id) for p in posts]
        assert len(keys) == len(set(keys)), f"posted twice: {keys}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("approval-gate")
    template = folder / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    migrate.upgrade(engine)
    engine.dispose()
    session_factory(engine)  # nothing kept open: the file is copied per example
    with Sandbox.start(port=0) as sandbox:
        yield World(template, sandbox, folder)


def test_only_approved_articles_reach_the_platform(world: World) -> None:
    ApprovalGate.world = world
    run_state_machine_as_test(
        ApprovalGate,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
