"""The report's figures against hand-computed expectations, on SQLite and PostgreSQL.

The fixture (local times, Asia/Ho_Chi_Minh, UTC+7) — November 2026 is the period under test:

    art  source    portal pub     seen  approved       posts (channel: local time, attempts)
    A1   chinhphu  11-02 08:00    same  08:10          gov-x 08:30 (1), gov-fb 09:00 (2)
    A2   chinhphu  11-10 10:00    same  10:05, withdrawn 10:10, again 10:20;  gov-x 11:20
    A3   mofa      11-30 22:00    same  22:30          gov-fb 23:30  <- last hour of the month
    A4   mofa      11-15 07:00    same  07:10          gov-x2 07:15; gov-x failed (3 attempts)
    A5   chinhphu  10-31 23:00    same  10-31 23:20    gov-x 11-01 01:00 (only the post in Nov)
    A6   mofa      11-20 09:00    same  09:30          gov-fb unconfirmed
    A7   chinhphu  11-25 (pending, never approved)
    A8   mofa      12-01 00:30    same  00:40          gov-x 12-01 01:00 (December)
    A9   chinhphu  11-28 approved then withdrawn (status pending)
    A10  mofa      11-05 12:00 estimated (= seen)  12:00  gov-x 12:30

Delays to the first post (minutes): portal A1 30, A2 80, A3 90, A4 15, A5 120 (A10 estimated:
left out); approval A1 20, A2 60 (the latest approval), A3 60, A4 5, A5 100, A10 30.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Channel, Delivery, MetricSnapshot, Source
from crosspost.db.session import transaction
from crosspost.domain.periods import parse_period, period_between
from crosspost.services import audit
from crosspost.services.report import GroupBy, GroupRow, Report, build_report, latest_engagement

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ICT).astimezone(UTC)


# article: (source, portal time, estimated, approvals [(at, action)], status)
ARTICLES = {
    1: ("chinhphu", local(11, 2, 8), False, [(local(11, 2, 8, 10), "approved")], "approved"),
    2: (
        "chinhphu",
        local(11, 10, 10),
        False,
        [
            (local(11, 10, 10, 5), "approved"),
            (local(11, 10, 10, 10), "withdrawn"),
            (local(11, 10, 10, 20), "approved"),
        ],
        "approved",
    ),
    3: ("mofa", local(11, 30, 22), False, [(local(11, 30, 22, 30), "approved")], "approved"),
    4: ("mofa", local(11, 15, 7), False, [(local(11, 15, 7, 10), "approved")], "approved"),
    5: ("chinhphu", local(10, 31, 23), False, [(local(10, 31, 23, 20), "approved")], "approved"),
    6: ("mofa", local(11, 20, 9), False, [(local(11, 20, 9, 30), "approved")], "approved"),
    7: ("chinhphu", local(11, 25, 9), False, [], "pending"),
    8: ("mofa", local(12, 1, 0, 30), False, [(local(12, 1, 0, 40), "approved")], "approved"),
    9: (
        "chinhphu",
        local(11, 28, 9),
        False,
        [(local(11, 28, 9, 5), "approved"), (local(11, 28, 9, 6), "withdrawn")],
        "pending",
    ),
    10: ("mofa", local(11, 5, 12), True, [(local(11, 5, 12), "approved")], "approved"),
}
CHANNELS = {"gov-x": "x", "gov-fb": "facebook", "gov-x2": "x"}
# (article, channel, status, due/published local time, attempts, {metric: [values by time]})
DELIVERIES = [
    (1, "gov-x", "published", local(11, 2, 8, 30), 1,
     {"likes": [10, 25], "shares": [2, 5], "comments": [3], "impressions": [1000]}),
    (1, "gov-fb", "published", local(11, 2, 9), 2,
     {"likes": [50, 48], "shares": [10], "comments": [7]}),
    (2, "gov-x", "published", local(11, 10, 11, 20), 1,
     {"likes": [5], "shares": [1], "comments": [0]}),
    (3, "gov-fb", "published", local(11, 30, 23, 30), 1,
     {"likes": [100], "shares": [20], "comments": [30]}),
    (4, "gov-x2", "published", local(11, 15, 7, 15), 1,
     {"likes": [8, 12], "shares": [2], "comments": [1]}),
    (4, "gov-x", "failed", local(11, 15, 7, 15), 3, {}),
    (5, "gov-x", "published", local(11, 1, 1), 1, {}),
    (6, "gov-fb", "unconfirmed", local(11, 20, 10), 1, {}),
    (8, "gov-x", "published", local(12, 1, 1), 1, {"likes": [999]}),
    (10, "gov-x", "published", local(11, 5, 12, 30), 1,
     {"likes": [3], "shares": [0], "comments": [1]}),
]  # fmt: skip


def seed(factory: sessionmaker[Session]) -> None:
    """Write the fixture of the module docstring (also used by the CLI tests)."""
    with transaction(factory) as session:
        sources = {}
        for name in ("chinhphu", "mofa"):
            sources[name] = Source(name=name, url=f"https://{name}.gov.vn/rss", created_at=NOW)
            session.add(sources[name])
        channels = {}
        for name, platform in CHANNELS.items():
            channels[name] = Channel(
                name=name, platform=platform, timezone="Asia/Ho_Chi_Minh", created_at=NOW
            )
            session.add(channels[name])
        session.flush()
        for aid, (source, published, estimated, decisions, status) in ARTICLES.items():
            session.add(
                Article(
                    id=aid,
                    canonical_url=f"https://portal.gov.vn/{aid}",
                    link=f"https://portal.gov.vn/{aid}",
                    title=f"Bài {aid}",
                    source_id=sources[source].id,
                    status=status,
                    published_at=published,
                    published_at_estimated=estimated,
                    first_seen_at=published,
                    updated_at=published,
                )
            )
            session.flush()
            for at, action in decisions:
                audit.append(
                    session, at=at, actor="officer", action=action,
                    subject_type="article", subject_id=aid,
                )  # fmt: skip
        for aid, channel, status, at, attempts, metrics in DELIVERIES:
            delivery = Delivery(
                article_id=aid,
                channel_id=channels[channel].id,
                status=status,
                due_at=at,
                attempts=attempts,
                created_at=at,
                updated_at=at,
                scheduled_by="officer",
                published_at=at if status == "published" else None,
            )
            session.add(delivery)
            session.flush()
            for name, values in metrics.items():
                for hours, value in enumerate(values, start=1):
                    taken = at + timedelta(hours=hours)
                    session.add(
                        MetricSnapshot(
                            delivery_id=delivery.id, taken_at=taken, name=name, value=value
                        )
                    )


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(factory)
    return factory


def _report(factory: sessionmaker[Session], period: str, by: GroupBy) -> Report:
    return build_report(factory, parse_period(period, ICT), by=by, now=NOW)


def _row(**figures: object) -> dict[str, object]:
    """A GroupRow as a dict, zeros and nulls where not given (metrics checked apart)."""
    blank = dict.fromkeys(GroupRow.__dataclass_fields__, 0)
    for name in ("coverage", "engagement_per_post", "ingested", "approved"):
        blank[name] = None
    for name in ("portal_median_min", "portal_p90_min", "approval_median_min", "approval_p90_min"):
        blank[name] = None
    blank.pop("metrics")
    return {**blank, **figures}


def _figures(row: GroupRow) -> dict[str, object]:
    out = asdict(row)
    out.pop("metrics")
    return out


TOTAL = _row(
    key="", label="", ingested=8, approved=6, posts=7, published_articles=6, coverage=0.8333,
    portal_median_min=80.0, portal_p90_min=108.0, approval_median_min=45.0, approval_p90_min=80.0,
    likes=193, shares=38, comments=42, engagement=273, engagement_per_post=39.0,
    failed=1, unconfirmed=1, retried=2,
)  # fmt: skip

EXPECTED = {
    GroupBy.SOURCE: [
        _row(key="chinhphu", label="chinhphu", ingested=4, approved=2, posts=4,
             published_articles=3, coverage=1.0, portal_median_min=80.0, portal_p90_min=112.0,
             approval_median_min=60.0, approval_p90_min=92.0, likes=78, shares=16, comments=10,
             engagement=104, engagement_per_post=26.0, retried=1),
        _row(key="mofa", label="mofa", ingested=4, approved=4, posts=3, published_articles=3,
             coverage=0.75, portal_median_min=52.5, portal_p90_min=82.5,
             approval_median_min=30.0, approval_p90_min=54.0, likes=115, shares=22, comments=32,
             engagement=169, engagement_per_post=56.33, failed=1, unconfirmed=1, retried=1),
    ],
    GroupBy.CHANNEL: [
        _row(key="gov-fb", label="gov-fb", posts=2, published_articles=2, coverage=0.3333,
             portal_median_min=75.0, portal_p90_min=87.0, approval_median_min=55.0,
             approval_p90_min=59.0, likes=148, shares=30, comments=37, engagement=215,
             engagement_per_post=107.5, unconfirmed=1, retried=1),
        _row(key="gov-x", label="gov-x", posts=4, published_articles=4, coverage=0.5,
             portal_median_min=80.0, portal_p90_min=112.0, approval_median_min=45.0,
             approval_p90_min=88.0, likes=33, shares=6, comments=4, engagement=43,
             engagement_per_post=10.75, failed=1, retried=1),
        _row(key="gov-x2", label="gov-x2", posts=1, published_articles=1, coverage=0.1667,
             portal_median_min=15.0, portal_p90_min=15.0, approval_median_min=5.0,
             approval_p90_min=5.0, likes=12, shares=2, comments=1, engagement=15,
             engagement_per_post=15.0),
    ],
    GroupBy.PLATFORM: [
        _row(key="facebook", label="facebook", posts=2, published_articles=2, coverage=0.3333,
             portal_median_min=75.0, portal_p90_min=87.0, approval_median_min=55.0,
             approval_p90_min=59.0, likes=148, shares=30, comments=37, engagement=215,
             engagement_per_post=107.5, unconfirmed=1, retried=1),
        _row(key="x", label="x", posts=5, published_articles=5, coverage=0.6667,
             portal_median_min=55.0, portal_p90_min=108.0, approval_median_min=30.0,
             approval_p90_min=84.0, likes=45, shares=8, comments=5, engagement=58,
             engagement_per_post=11.6, failed=1, retried=1),
    ],
}  # fmt: skip


@pytest.mark.parametrize("by", list(EXPECTED))
def test_every_figure_per_group(seeded: sessionmaker[Session], by: GroupBy) -> None:
    report = _report(seeded, "2026-11", by)
    assert _figures(report.total) == TOTAL
    assert [_figures(g) for g in report.groups] == EXPECTED[by]


def test_by_article_and_the_extra_metrics(seeded: sessionmaker[Session]) -> None:
    report = _report(seeded, "2026-11", GroupBy.ARTICLE)
    rows = {g.key: g for g in report.groups}
    assert list(rows) == ["1", "2", "3", "4", "5", "6", "7", "9", "10"]  # A8 is December's
    assert _figures(rows["1"]) == _row(
        key="1", label="Bài 1", ingested=1, approved=1, posts=2, published_articles=1,
        coverage=1.0, portal_median_min=30.0, portal_p90_min=30.0, approval_median_min=20.0,
        approval_p90_min=20.0, likes=73, shares=15, comments=10, engagement=98,
        engagement_per_post=49.0, retried=1,
    )  # fmt: skip
    assert (rows["5"].ingested, rows["5"].approved, rows["5"].coverage) == (0, 0, None)
    assert (rows["5"].posts, rows["5"].portal_median_min) == (1, 120.0)
    assert (rows["6"].approved, rows["6"].coverage, rows["6"].unconfirmed) == (1, 0.0, 1)
    assert (rows["9"].ingested, rows["9"].approved) == (1, 0)  # withdrawn: not approved
    assert (rows["10"].portal_median_min, rows["10"].approval_median_min) == (None, 30.0)
    assert report.total.metrics == {"comments": 42, "impressions": 1000, "likes": 193, "shares": 38}


def test_top_articles_and_chart_series(seeded: sessionmaker[Session]) -> None:
    report = _report(seeded, "2026-11", GroupBy.SOURCE)
    assert [(t.rank, t.article_id, t.posts, t.engagement) for t in report.top_articles] == [
        (1, 3, 1, 150), (2, 1, 2, 98), (3, 4, 1, 15), (4, 2, 1, 6), (5, 10, 1, 4), (6, 5, 1, 0),
    ]  # fmt: skip
    assert report.top_articles[0].source == "mofa"
    assert [(d.day, d.platform, d.posts) for d in report.posts_per_day] == [
        ("2026-11-01", "x", 1), ("2026-11-02", "facebook", 1), ("2026-11-02", "x", 1),
        ("2026-11-05", "x", 1), ("2026-11-10", "x", 1), ("2026-11-15", "x", 1),
        ("2026-11-30", "facebook", 1),
    ]  # fmt: skip
    assert [(c.channel, c.engagement) for c in report.engagement_by_channel] == [
        ("gov-fb", 215), ("gov-x", 43), ("gov-x2", 15),
    ]  # fmt: skip
    bins = [
        (b.from_minutes, b.to_minutes, b.portal, b.approval) for b in report.timeliness_histogram
    ]
    assert bins == [
        (0, 15, 0, 1), (15, 30, 1, 1), (30, 60, 1, 1), (60, 120, 2, 3), (120, 240, 1, 0),
        (240, 480, 0, 0), (480, 1440, 0, 0), (1440, None, 0, 0),
    ]  # fmt: skip


def test_the_last_hour_of_the_month_is_that_months(seeded: sessionmaker[Session]) -> None:
    november_30 = _report(seeded, "2026-11-30", GroupBy.CHANNEL)
    assert [(g.key, g.posts) for g in november_30.groups] == [("gov-fb", 1)]  # A3 at 23:30
    december = _report(seeded, "2026-12", GroupBy.ARTICLE)
    assert [(g.key, g.posts) for g in december.groups] == [("8", 1)]
    assert december.total.likes == 999
    week = _report(seeded, "2026-W49", GroupBy.SOURCE)  # Mon 30 Nov - Sun 6 Dec
    assert week.total.posts == 2
    quarter = build_report(
        seeded, period_between("2026-10-01", "2026-12-31", ICT), by=GroupBy.PLATFORM, now=NOW
    )
    assert quarter.total.posts == 8
    assert quarter.total.approved == 8  # A5 approved 31 Oct and A8 1 Dec join the six


def test_an_empty_period_has_a_zero_total(seeded: sessionmaker[Session]) -> None:
    report = _report(seeded, "2025", GroupBy.SOURCE)
    assert report.groups == []
    assert _figures(report.total) == _row(key="", label="", ingested=0, approved=0)
    assert report.top_articles == []
    assert report.posts_per_day == []


def test_latest_engagement_per_channel(seeded: sessionmaker[Session]) -> None:
    assert latest_engagement(seeded, 1) == {
        "gov-fb": {"comments": 7, "likes": 48, "shares": 10},
        "gov-x": {"comments": 3, "impressions": 1000, "likes": 25, "shares": 5},
    }
    assert latest_engagement(seeded, 7) == {}


def test_figures_a_platform_cannot_give_are_not_available_not_zero(
    seeded: sessionmaker[Session],
) -> None:
    """Telegram bots read no engagement at all; Zalo gives views and shares, no likes or
    comments. Their posts count as posts, but not as zeros in the engagement figures."""
    with transaction(seeded) as session:
        for name, platform in (("gov-tg", "telegram"), ("gov-zalo", "zalo")):
            session.add(
                Channel(name=name, platform=platform, timezone="Asia/Ho_Chi_Minh", created_at=NOW)
            )
        session.flush()
        ids = {name: cid for name, cid in session.execute(select(Channel.name, Channel.id))}
        for channel, at, metrics in (
            ("gov-tg", local(11, 2, 8, 40), {}),
            ("gov-zalo", local(11, 2, 8, 45), {"views": 700, "shares": 9}),
        ):
            delivery = Delivery(
                article_id=1, channel_id=ids[channel], status="published", due_at=at,
                attempts=1, created_at=at, updated_at=at, scheduled_by="officer",
                published_at=at,
            )  # fmt: skip
            session.add(delivery)
            session.flush()
            for name, value in metrics.items():
                session.add(
                    MetricSnapshot(delivery_id=delivery.id, taken_at=at, name=name, value=value)
                )

    by_platform = {g.key: g for g in _report(seeded, "2026-11", GroupBy.PLATFORM).groups}
    telegram, zalo = by_platform["telegram"], by_platform["zalo"]
    assert telegram.posts == 1
    assert (telegram.likes, telegram.shares, telegram.comments) == (None, None, None)
    assert (telegram.engagement, telegram.engagement_per_post) == (None, None)
    assert (zalo.likes, zalo.shares, zalo.comments, zalo.engagement) == (None, 9, None, 9)
    assert zalo.metrics == {"shares": 9, "views": 700}

    report = _report(seeded, "2026-11", GroupBy.SOURCE)
    total = report.total
    assert total.posts == 9
    assert total.engagement == 43 + 215 + 15 + 9
    # Per post among the 8 posts on platforms that give engagement, not all 9.
    assert total.engagement_per_post == round((43 + 215 + 15 + 9) / 8, 2)
    channels = {c.channel: c.engagement for c in report.engagement_by_channel}
    assert channels["gov-tg"] is None
    assert channels["gov-zalo"] == 9

    from crosspost.reporting.formats import cell

    assert cell(telegram, "likes", "en") == "not available"
    assert cell(telegram, "engagement_per_post", "vi") == "không có số liệu"
    assert cell(zalo, "shares", "en") == "9"
