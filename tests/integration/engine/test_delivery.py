"""Exactly-once delivery through the real SDKs to the sandbox, with a real Redis and RQ workers.

Every test asserts on what the sandbox recorded (the posts the public would see), not only on
crosspost's own rows.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from crosspost.bootstrap import utcnow
from crosspost.db.models import Delivery, DeliveryAttempt
from crosspost.domain.approval import Decision
from crosspost.domain.xtext import weighted_length
from crosspost.sandbox.state import DEMO_X_ACCOUNT
from crosspost.services import audit
from crosspost.services.articles import decide_articles
from crosspost.services.channels import check_channel
from crosspost.services.deliveries import list_deliveries
from crosspost.services.scheduling import When, schedule_article
from crosspost.services.sweep import sweep
from tests.integration.engine.conftest import Rig


def _schedule_now(rig: Rig, article: int, channels: list[str]) -> None:
    for p in schedule_article(
        rig.factory, article, channels, When(now=True), actor="A", now=utcnow()
    ):
        rig.engine.queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)


def _by_channel(rig: Rig) -> dict[str, object]:
    return {v.channel: v for v in list_deliveries(rig.factory)}


def test_an_approved_article_is_published_once_on_each_channel(rig: Rig) -> None:
    article = rig.approved_article(1)
    _schedule_now(rig, article, ["gov-x", "gov-fb"])
    rig.work()
    rig.work()  # a second pass finds nothing more to send
    x_posts, fb_posts = rig.sandbox.posts("x"), rig.sandbox.posts("facebook")
    assert len(x_posts) == 1
    assert len(fb_posts) == 1
    views = {v.channel: v for v in list_deliveries(rig.factory)}
    assert {v.status for v in views.values()} == {"published"}
    assert views["gov-x"].post_id == x_posts[0].id
    assert views["gov-fb"].post_id == fb_posts[0].id
    # the exact text sent is recorded and is what the platform holds
    assert views["gov-fb"].text == fb_posts[0].text
    assert "https://portal.example/tin-1.htm" in (views["gov-x"].text or "")
    assert weighted_length(views["gov-x"].text or "") <= 280
    actions = [e.action for e in audit.list_entries(rig.factory) if e.subject_type == "delivery"]
    assert actions.count("published") == 2


def test_a_429_with_reset_waits_for_the_reset_without_using_an_attempt(rig: Rig) -> None:
    article = rig.approved_article(2)
    rig.sandbox.inject("rate_limit", platform="x", method="POST", path="/2/tweets", reset_in=4)
    started = utcnow()
    _schedule_now(rig, article, ["gov-x"])
    rig.work()
    assert rig.sandbox.posts("x") == []
    (view,) = list_deliveries(rig.factory)
    assert view.status == "scheduled"
    assert view.attempts == 0
    # X's reset header is in whole seconds: the wait is at least 3 of the 4 seconds asked for
    assert view.due_at >= started + timedelta(seconds=3)
    time.sleep(max(0.0, (view.due_at - utcnow()).total_seconds()) + 1.1)
    rig.work()
    assert len(rig.sandbox.posts("x")) == 1
    assert list_deliveries(rig.factory)[0].status == "published"


def test_a_duplicate_is_failed_with_the_platforms_reason_and_not_retried(rig: Rig) -> None:
    first = rig.approved_article(3, title="Cùng một nội dung")
    _schedule_now(rig, first, ["gov-x"])
    rig.work()
    with rig.factory() as session:
        text = session.scalars(select(Delivery.text)).one()
    # the same text again from a second article: X answers 403 duplicate content
    second = rig.approved_article(4, title="Cùng một nội dung")
    _schedule_now(rig, second, ["gov-x"])
    rig.sandbox.inject(
        "respond",
        platform="x",
        method="POST",
        path="/2/tweets",
        status=403,
        body={
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        },
    )
    rig.work()
    rig.work()
    views = [v for v in list_deliveries(rig.factory) if v.article_id == second]
    assert views[0].status == "failed"
    assert "duplicate" in (views[0].last_error or "").lower()
    assert len(rig.sandbox.posts("x")) == 1
    assert text


def test_expired_token_pauses_the_channel_until_a_check_passes(rig: Rig) -> None:
    article = rig.approved_article(5)
    rig.sandbox.revoke("x", DEMO_X_ACCOUNT.username)
    _schedule_now(rig, article, ["gov-x", "gov-fb"])
    rig.work()
    views = _by_channel(rig)
    assert views["gov-x"].status == "scheduled"  # type: ignore[attr-defined]
    assert views["gov-fb"].status == "published"  # type: ignore[attr-defined]
    assert rig.sandbox.posts("x") == []
    rig.engine.sweep()
    rig.work()
    assert rig.sandbox.posts("x") == []  # paused: not retried while the token is bad
    rig.sandbox.restore("x", DEMO_X_ACCOUNT.username)
    check_channel(rig.factory, "gov-x", rig.env, now=utcnow())
    rig.engine.sweep()
    rig.work()
    assert len(rig.sandbox.posts("x")) == 1
    assert _by_channel(rig)["gov-x"].status == "published"  # type: ignore[attr-defined]


def test_accept_then_drop_is_published_exactly_once_after_reconciliation(rig: Rig) -> None:
    article = rig.approved_article(6)
    rig.sandbox.inject("drop", platform="facebook", method="POST", path="/feed")
    _schedule_now(rig, article, ["gov-fb"])
    rig.work()
    (view,) = list_deliveries(rig.factory)
    assert view.status == "unconfirmed"
    assert len(rig.sandbox.posts("facebook")) == 1
    from crosspost.services import ledger

    result = ledger.reconcile(
        rig.factory, view.id, rig.engine.publisher_for, now=utcnow() + timedelta(minutes=1)
    )
    assert result.outcome == "published"
    rig.engine.sweep()
    rig.work()
    assert len(rig.sandbox.posts("facebook")) == 1
    (view,) = list_deliveries(rig.factory)
    assert view.status == "published"
    assert view.post_id == rig.sandbox.posts("facebook")[0].id


def test_an_unknown_outcome_not_found_on_the_account_is_sent_again(rig: Rig) -> None:
    article = rig.approved_article(7)
    rig.sandbox.inject(
        "respond",
        platform="x",
        method="POST",
        path="/2/tweets",
        status=503,
        body={"title": "Service Unavailable", "status": 503},
    )
    _schedule_now(rig, article, ["gov-x"])
    rig.work()
    (view,) = list_deliveries(rig.factory)
    assert view.status == "unconfirmed"
    assert rig.sandbox.posts("x") == []
    from crosspost.services import ledger

    result = ledger.reconcile(
        rig.factory, view.id, rig.engine.publisher_for, now=utcnow(), settle=timedelta(0)
    )
    assert result.outcome == "rescheduled"
    rig.engine.sweep()
    rig.work()
    assert len(rig.sandbox.posts("x")) == 1


def test_redis_flushed_with_deliveries_scheduled_still_publishes_each_once(rig: Rig) -> None:
    articles = [rig.approved_article(10 + i) for i in range(3)]
    due = utcnow() + timedelta(seconds=2)
    for article in articles:
        for p in schedule_article(
            rig.factory, article, ["gov-fb"], When(at=due), actor="A", now=utcnow()
        ):
            rig.engine.queue.enqueue_delivery(p.delivery_id, p.version, p.due_at)
    rig.redis.flushdb()  # Redis lost everything
    time.sleep(2.2)
    rig.engine.sweep()
    rig.work()
    rig.engine.sweep()
    rig.work()
    assert len(rig.sandbox.posts("facebook")) == 3
    assert {v.status for v in list_deliveries(rig.factory)} == {"published"}


def test_a_delivery_never_goes_out_before_its_due_time(rig: Rig) -> None:
    article = rig.approved_article(20)
    due = utcnow() + timedelta(seconds=1.5)
    for p in schedule_article(
        rig.factory, article, ["gov-x"], When(at=due), actor="A", now=utcnow()
    ):
        # a job started early (as RQ's scheduler may) waits for the due time
        rig.engine.queue.enqueue_delivery(p.delivery_id, p.version, utcnow())
    rig.work()
    assert len(rig.sandbox.posts("x")) == 1
    with rig.factory() as session:
        started = session.scalars(select(DeliveryAttempt.started_at)).one()
    assert started >= due


def test_withdrawing_the_article_cancels_its_scheduled_deliveries(rig: Rig) -> None:
    article = rig.approved_article(30)
    planned = schedule_article(
        rig.factory,
        article,
        ["gov-x", "gov-fb"],
        When(at=utcnow() + timedelta(hours=2)),
        actor="A",
        now=utcnow(),
    )
    assert len(planned) == 2
    decide_articles(
        rig.factory, [article], Decision.WITHDRAW, actor="B", note="sai số liệu", now=utcnow()
    )
    assert {v.status for v in list_deliveries(rig.factory)} == {"cancelled"}
    report = sweep(rig.factory, now=utcnow() + timedelta(hours=3), stuck_after=timedelta(minutes=5))
    assert report.due == []


def test_auto_schedule_puts_a_trusted_sources_articles_into_the_next_slot(rig: Rig) -> None:
    from sqlalchemy import update

    from crosspost.db.models import Channel
    from crosspost.db.session import transaction

    with transaction(rig.factory) as session:
        session.execute(
            update(Channel)
            .where(Channel.name == "gov-fb")
            .values(auto_schedule=["chinhphu"], slots=["07:30", "19:00"])
        )
    article = rig.approved_article(40)
    rig.engine.sweep()
    rig.engine.sweep()  # a second sweep adds nothing
    (view,) = list_deliveries(rig.factory)
    assert view.article_id == article
    assert view.channel == "gov-fb"
    assert view.status == "scheduled"
    from zoneinfo import ZoneInfo

    assert view.due_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M") in (
        "07:30",
        "19:00",
    )
    assert rig.sandbox.posts() == []


def test_auto_schedule_from_the_configuration_file(rig: Rig) -> None:
    from crosspost.services.scheduling import auto_schedule

    article = rig.approved_article(41)
    assert auto_schedule(rig.factory, now=utcnow()) == []
    planned = auto_schedule(rig.factory, now=utcnow(), configured={"gov-x": ["chinhphu"]})
    assert [(p.channel, p.delivery_id) for p in planned] == [
        ("gov-x", list_deliveries(rig.factory, article_id=article)[0].id)
    ]


def test_articles_show_lists_each_channels_post_and_latest_engagement(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from crosspost.cli.main import main
    from crosspost.db.models import MetricSnapshot
    from crosspost.db.session import transaction

    article = rig.approved_article(50)
    _schedule_now(rig, article, ["gov-x", "gov-fb"])
    rig.work()
    views = _by_channel(rig)
    with transaction(rig.factory) as session:
        x_id = views["gov-x"].id  # type: ignore[attr-defined]
        for taken, likes in ((utcnow() - timedelta(hours=2), 3), (utcnow(), 11)):
            session.add(MetricSnapshot(delivery_id=x_id, taken_at=taken, name="likes", value=likes))
    capsys.readouterr()
    assert main(["--config", str(rig.config), "articles", "show", str(article), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["engagement"] == {"gov-x": {"likes": 11}}
    assert {d["channel"]: d["status"] for d in shown["deliveries"]} == {
        "gov-x": "published",
        "gov-fb": "published",
    }


def test_a_request_that_never_reached_the_platform_is_retried_after_a_backoff(rig: Rig) -> None:
    import socket

    from sqlalchemy import update

    from crosspost.db.models import Channel
    from crosspost.db.session import transaction

    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/graph"
    with transaction(rig.factory) as session:
        session.execute(update(Channel).where(Channel.name == "gov-fb").values(api_base=dead))
    rig.engine.forget_publishers()
    article = rig.approved_article(60)
    started = utcnow()
    _schedule_now(rig, article, ["gov-fb"])
    rig.work()
    (view,) = list_deliveries(rig.factory)
    assert view.status == "scheduled"
    assert view.attempts == 1
    assert view.due_at >= started + timedelta(seconds=29)  # the first backoff step
    assert rig.sandbox.posts() == []
    with rig.factory() as session:
        outcomes = list(session.scalars(select(DeliveryAttempt.outcome)))
    assert outcomes == ["retry"]
    # the platform is back and the backoff has passed
    with transaction(rig.factory) as session:
        session.execute(
            update(Channel)
            .where(Channel.name == "gov-fb")
            .values(api_base=rig.sandbox.graph_api_base)
        )
        session.execute(update(Delivery).values(due_at=utcnow()))
    rig.engine.forget_publishers()
    rig.work()
    assert len(rig.sandbox.posts("facebook")) == 1
    (view,) = list_deliveries(rig.factory)
    assert (view.status, view.attempts) == ("published", 2)


def test_one_article_on_five_platforms_is_published_once_on_each(rig: Rig) -> None:
    from crosspost.sandbox.state import DEMO_TELEGRAM_BOT, DEMO_ZALO_OA
    from crosspost.services.channels import NewChannel, add_channel

    bot = DEMO_TELEGRAM_BOT
    add_channel(
        rig.factory,
        NewChannel(
            name="gov-tg",
            platform="telegram",
            api_base=rig.sandbox.telegram_api_base,
            options={"chat": f"@{bot.chat_username}"},
        ),
        now=utcnow(),
    )
    add_channel(
        rig.factory,
        NewChannel(name="gov-masto", platform="mastodon", api_base=rig.sandbox.mastodon_api_base),
        now=utcnow(),
    )
    add_channel(
        rig.factory,
        NewChannel(
            name="gov-zalo",
            platform="zalo",
            api_base=rig.sandbox.zalo_api_base,
            options={
                "oa_id": DEMO_ZALO_OA.oa_id,
                "app_id": DEMO_ZALO_OA.app_id,
                "cover_url": "https://portal.example/cover.jpg",
            },
        ),
        now=utcnow(),
    )
    article = rig.approved_article(70)
    _schedule_now(rig, article, ["all"])
    rig.work()
    rig.work()
    assert {v.channel: v.status for v in list_deliveries(rig.factory)} == {
        "gov-x": "published",
        "gov-fb": "published",
        "gov-tg": "published",
        "gov-masto": "published",
        "gov-zalo": "published",
    }
    platforms = ("x", "facebook", "telegram", "mastodon", "zalo")
    counts = {p: len(rig.sandbox.posts(p)) for p in platforms}
    assert counts == dict.fromkeys(platforms, 1)
    [zalo_article] = rig.sandbox.posts("zalo")
    assert zalo_article.title == "Chính phủ ban hành nghị định số 70/2026/NĐ-CP về chuyển đổi số"
    assert zalo_article.link == "https://portal.example/tin-70.htm"
