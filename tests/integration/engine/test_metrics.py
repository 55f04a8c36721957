"""Engagement collection against the sandbox, on SQLite and PostgreSQL.

Posts are really published on the sandbox (through the adapters, or through the worker), so the
numbers come over HTTP. Time is travelled, never slept: each round gets its `now`, and the
sandbox's clock is advanced alongside so engagement grows between rounds.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crosspost.bootstrap import Workspace, utcnow
from crosspost.cli.main import main
from crosspost.db.models import Article, AuditEntry, Channel, Delivery, MetricSnapshot
from crosspost.db.session import transaction
from crosspost.engine import Engine
from crosspost.platforms.base import OutgoingPost
from crosspost.sandbox.state import DEMO_X_ACCOUNT, RequestRecord
from crosspost.services.ledger import FIRST_METRICS_POLL
from crosspost.services.metrics import DEFAULT_DEFER, CollectReport, collect_due
from crosspost.services.scheduling import When, schedule_article
from crosspost.settings import load_settings
from tests.integration.engine.conftest import Rig

HOUR = timedelta(hours=1)


def _x_lookup(r: RequestRecord) -> bool:
    return r.method == "GET" and r.path == "/2/tweets"


def _graph_batch(r: RequestRecord) -> bool:
    return r.method == "POST" and r.path.rstrip("/").count("/") == 1  # POST /v21.0/


def _calls(rig: Rig) -> tuple[int, int]:
    """Metrics calls seen so far: (X lookups, Graph batches)."""
    return (
        sum(1 for r in rig.sandbox.requests("x") if _x_lookup(r)),
        sum(1 for r in rig.sandbox.requests("facebook") if _graph_batch(r)),
    )


def _publish(rig: Rig, channel: str, count: int, *, first: int = 0) -> list[int]:
    """`count` posts really published on `channel`, with their published deliveries; ids."""
    publisher = rig.engine.publisher_for(channel)
    posts = [
        publisher.publish(
            OutgoingPost(f"Thông cáo báo chí số {n} của {channel}", f"https://portal.example/{n}")
        )
        for n in range(first, first + count)
    ]
    now = utcnow()
    ids = []
    with transaction(rig.factory) as session:
        channel_id = session.scalars(select(Channel.id).where(Channel.name == channel)).one()
        for n, post in enumerate(posts, start=first):
            url = f"https://portal.example/{channel}/{n}"
            article = Article(
                canonical_url=url,
                link=url,
                title=f"Tin {n}",
                source_id=1,
                status="approved",
                published_at=now,
                first_seen_at=now,
                updated_at=now,
            )
            session.add(article)
            session.flush()
            delivery = Delivery(
                article_id=article.id,
                channel_id=channel_id,
                status="published",
                due_at=now,
                created_at=now,
                updated_at=now,
                scheduled_by="test",
                post_id=post.post_id,
                post_url=post.url,
                published_at=post.published_at,
                metrics_due_at=post.published_at + FIRST_METRICS_POLL,
            )
            session.add(delivery)
            session.flush()
            ids.append(delivery.id)
    return ids


def _latest_published(rig: Rig) -> datetime:
    with rig.factory() as session:
        latest = session.scalars(
            select(Delivery.published_at).order_by(Delivery.published_at.desc()).limit(1)
        ).first()
    assert latest is not None
    return latest


def _collect(
    rig: Rig, now: datetime, *, limit_per_channel: int = 5000, defer: timedelta = DEFAULT_DEFER
) -> CollectReport:
    return collect_due(
        rig.factory,
        publisher_for=rig.engine.publisher_for,
        now=now,
        limit_per_channel=limit_per_channel,
        defer=defer,
    )


def _snapshots(rig: Rig) -> list[tuple[int, int, datetime, str, int]]:
    """Every snapshot row as (id, delivery, taken_at, name, value), oldest first."""
    with rig.factory() as session:
        rows = session.scalars(select(MetricSnapshot).order_by(MetricSnapshot.id))
        return [(r.id, r.delivery_id, r.taken_at, r.name, r.value) for r in rows]


def _delivery(rig: Rig, delivery_id: int) -> Delivery:
    with rig.factory() as session:
        delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def test_one_round_reads_every_due_post_in_the_fewest_calls(rig: Rig) -> None:
    rig.sandbox.set_limit("x:create", 1000, 900)
    # One over a batch each: the cheapest counts that tell "fewest calls" from off-by-one.
    x_ids = _publish(rig, "gov-x", 101)
    fb_ids = _publish(rig, "gov-fb", 51)
    rig.sandbox.advance(3600)
    now = _latest_published(rig) + HOUR
    before = _calls(rig)

    report = _collect(rig, now)

    x_calls, fb_calls = (a - b for a, b in zip(_calls(rig), before, strict=True))
    assert (x_calls, fb_calls) == (math.ceil(101 / 100), math.ceil(51 / 50)) == (2, 2)
    rounds = {c.channel: c for c in report.channels}
    assert rounds["gov-x"].outcome == rounds["gov-fb"].outcome == "collected"
    assert (rounds["gov-x"].posts, rounds["gov-fb"].posts) == (101, 51)
    # X gives six public metrics, Facebook the three configured fields.
    assert (rounds["gov-x"].snapshots, rounds["gov-fb"].snapshots) == (606, 153)
    rows = _snapshots(rig)
    assert len(rows) == 759
    assert {r[2] for r in rows} == {now}
    assert {r[3] for r in rows if r[1] in fb_ids} == {"likes", "comments", "shares"}
    assert {r[3] for r in rows if r[1] in x_ids} == {
        "likes",
        "shares",
        "comments",
        "quotes",
        "bookmarks",
        "impressions",
    }
    assert all(r[4] > 0 for r in rows if r[3] == "likes")  # an hour old: liked
    for delivery_id in (x_ids[0], fb_ids[-1]):
        d = _delivery(rig, delivery_id)
        assert d.published_at is not None
        assert d.metrics_due_at == d.published_at + 2 * HOUR  # the next step on the hourly grid
    assert report.summary() == {
        "channels": 2,
        "posts": 152,
        "snapshots": 759,
        "deleted": 0,
        "deferred": 0,
        "failed": 0,
    }


def test_a_later_round_appends_rows_and_the_numbers_grow(rig: Rig) -> None:
    x_ids = _publish(rig, "gov-x", 3)
    _publish(rig, "gov-fb", 2)
    t0 = _latest_published(rig)
    rig.sandbox.advance(3600)
    _collect(rig, t0 + HOUR)
    first = _snapshots(rig)
    rig.sandbox.advance(3600)

    _collect(rig, t0 + 2 * HOUR)

    rows = _snapshots(rig)
    assert len(rows) == 2 * len(first) == 2 * (3 * 6 + 2 * 3)
    assert rows[: len(first)] == first  # nothing overwritten
    value = {(r[1], r[3], r[2]): r[4] for r in rows}
    for delivery_id in x_ids:
        assert (
            value[(delivery_id, "likes", t0 + 2 * HOUR)] > value[(delivery_id, "likes", t0 + HOUR)]
        )
        assert (
            value[(delivery_id, "impressions", t0 + 2 * HOUR)]
            > value[(delivery_id, "impressions", t0 + HOUR)]
        )


def test_the_ladder_is_honoured_and_ends_after_day_90(rig: Rig) -> None:
    (old,) = _publish(rig, "gov-x", 1)
    rig.sandbox.advance(3 * 3600)
    (young,) = _publish(rig, "gov-x", 1, first=1)
    born = _delivery(rig, old).published_at
    assert born is not None
    young_post = _delivery(rig, young).post_id

    assert _collect(rig, born + 30 * timedelta(minutes=1)).channels == []  # nothing due yet
    assert _calls(rig) == (0, 0)

    report = _collect(rig, born + HOUR)  # the old post is due, the young one is not
    assert [(c.channel, c.posts) for c in report.channels] == [("gov-x", 1)]
    assert rig.sandbox.requests("x", method="GET", path="/2/tweets")[-1].query["ids"] == (
        _delivery(rig, old).post_id
    )
    assert _collect(rig, born + 90 * timedelta(minutes=1)).channels == []

    # Months later: one reading catches up (missed ones are skipped), then the final one at day 90.
    report = _collect(rig, born + timedelta(days=89, hours=23))
    assert report.channels[0].posts == 2
    assert _delivery(rig, old).metrics_due_at == born + timedelta(days=90)
    _collect(rig, born + timedelta(days=90))
    assert _delivery(rig, old).metrics_due_at is None
    count = len(_snapshots(rig))

    _collect(rig, born + timedelta(days=120))

    lookup = rig.sandbox.requests("x", method="GET", path="/2/tweets")[-1]
    assert lookup.query["ids"] == young_post  # the old post is no longer read
    assert _delivery(rig, young).metrics_due_at is None
    assert len(_snapshots(rig)) == count + 6


def test_a_backlog_drains_over_rounds_longest_due_first(rig: Rig) -> None:
    ids = _publish(rig, "gov-x", 5)
    now = _latest_published(rig) + HOUR

    sizes = [_collect(rig, now, limit_per_channel=2).summary()["posts"] for _ in range(4)]

    assert sizes == [2, 2, 1, 0]
    assert _calls(rig) == (3, 0)
    taken = {delivery_id for _, delivery_id, *_ in _snapshots(rig)}
    assert taken == set(ids)


def test_a_rate_limit_defers_that_channel_only(rig: Rig) -> None:
    x_ids = _publish(rig, "gov-x", 3)
    fb_ids = _publish(rig, "gov-fb", 2)
    now = _latest_published(rig) + HOUR
    rig.sandbox.inject("rate_limit", platform="x", method="GET", path="/2/tweets", reset_in=120)

    report = _collect(rig, now)

    rounds = {c.channel: c for c in report.channels}
    x_round = rounds["gov-x"]
    assert (x_round.outcome, rounds["gov-fb"].outcome) == ("deferred", "collected")
    assert report.failed == []
    assert x_round.deferred_until is not None
    assert now + timedelta(seconds=60) < x_round.deferred_until <= now + timedelta(seconds=121)
    assert {_delivery(rig, i).metrics_due_at for i in x_ids} == {x_round.deferred_until}
    assert {r[1] for r in _snapshots(rig)} == set(fb_ids)
    assert _collect(rig, now + timedelta(seconds=30)).channels == []  # not knocked on again

    later = _collect(rig, x_round.deferred_until)

    assert [(c.channel, c.outcome, c.posts) for c in later.channels] == [("gov-x", "collected", 3)]
    assert {r[1] for r in _snapshots(rig)} == set(fb_ids) | set(x_ids)


def test_an_error_fails_that_channel_and_puts_it_off(rig: Rig) -> None:
    _publish(rig, "gov-x", 1)
    _publish(rig, "gov-fb", 1)
    now = _latest_published(rig) + HOUR
    rig.sandbox.revoke("x", DEMO_X_ACCOUNT.user_id)

    report = _collect(rig, now, defer=timedelta(minutes=10))

    assert [c.channel for c in report.failed] == ["gov-x"]
    assert report.failed[0].deferred_until == now + timedelta(minutes=10)
    assert [c.outcome for c in report.channels if c.channel == "gov-fb"] == ["collected"]


def test_a_post_deleted_on_the_platform_is_marked_and_no_longer_read(rig: Rig) -> None:
    kept, removed = _publish(rig, "gov-x", 2)
    (fb_removed,) = _publish(rig, "gov-fb", 1)
    for channel, delivery_id in (("gov-x", removed), ("gov-fb", fb_removed)):
        post_id = _delivery(rig, delivery_id).post_id
        assert post_id is not None
        rig.engine.publisher_for(channel).delete(post_id)
    now = _latest_published(rig) + HOUR

    report = _collect(rig, now)

    assert {c.channel: c.deleted for c in report.channels} == {"gov-x": 1, "gov-fb": 1}
    for delivery_id in (removed, fb_removed):
        gone = _delivery(rig, delivery_id)
        assert (gone.post_deleted_at, gone.metrics_due_at, gone.status) == (
            now,
            None,
            "published",
        )
    assert {r[1] for r in _snapshots(rig)} == {kept}
    with rig.factory() as session:
        noted = session.scalars(
            select(AuditEntry.subject_id).where(AuditEntry.action == "post-deleted")
        ).all()
    assert sorted(noted) == sorted([removed, fb_removed])
    before = _calls(rig)

    _collect(rig, now + HOUR)

    assert _calls(rig) == (before[0] + 1, before[1])  # Facebook has nothing left to read
    lookup = rig.sandbox.requests("x", method="GET", path="/2/tweets")[-1]
    assert lookup.query["ids"] == _delivery(rig, kept).post_id


def test_the_facebook_fields_come_from_the_metrics_settings(rig: Rig, tmp_path: Path) -> None:
    (fb,) = _publish(rig, "gov-fb", 1)
    config = tmp_path / "fewer-fields.toml"
    config.write_text(
        rig.config.read_text() + '[metrics]\nfacebook_fields = ["reactions", "comments"]\n'
    )
    engine = Engine(Workspace(settings=load_settings(config, rig.env), environ=rig.env), rig.redis)
    rig.sandbox.advance(3600)

    collect_due(rig.factory, publisher_for=engine.publisher_for, now=_latest_published(rig) + HOUR)

    # An hour-old post has shares in the sandbox: had they been asked for, they would be here.
    assert {(r[1], r[3]) for r in _snapshots(rig)} == {(fb, "likes"), (fb, "comments")}
    engine.workspace.close()


def test_the_worker_published_post_is_collected_by_the_cli(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    article = rig.approved_article(1)
    for p in schedule_article(
        rig.factory, article, ["gov-x"], When(now=True), actor="A", now=utcnow()
    ):
        rig.engine.queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
    rig.work()
    with transaction(rig.factory) as session:
        published = session.scalars(select(Delivery)).one()
        assert published.published_at is not None
        assert published.metrics_due_at == published.published_at + FIRST_METRICS_POLL
        # An hour passes (in the database's eyes).
        session.execute(update(Delivery).values(metrics_due_at=utcnow() - timedelta(seconds=1)))
    for name, value in rig.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()

    code = main(["--config", str(rig.config), "metrics", "collect", "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(c["channel"], c["outcome"], c["posts"], c["snapshots"]) for c in out["channels"]] == [
        ("gov-x", "collected", 1, 6)
    ]
    code = main(["--config", str(rig.config), "metrics", "collect"])
    assert code == 0
    assert "No posts are due" in capsys.readouterr().out
