"""The dissemination report: volume, timeliness, engagement and reliability for one period.

`build_report(factory, period, by=..., now=...)` returns a `Report`; the CLI prints it as a table,
CSV, JSON or HTML (`crosspost.reporting`). The figures are aggregated by the database
(`report_sql`); this module only puts the aggregated rows side by side.

What each figure counts (period = the UTC half-open interval of `crosspost.domain.periods`):

- ingested: articles first seen in the period.
- approved: articles with an "approved" audit entry in the period whose approval still stands
  (the article's status is approved now: a withdrawn approval is not counted, it was undone).
- posts: deliveries published in the period; published_articles: distinct articles among them.
- coverage: of the articles approved in the period, the share with at least one published post
  (at any time up to now). Counted on the approval cohort so that it never exceeds 1 and an
  article approved on the 30th and posted on the 1st is still covered. Grouped by channel or
  platform, ingested and approved are null (approval is not per channel) and coverage is the
  share of all the period's approved articles posted on that channel or platform.
- portal/approval median and p90 (minutes): from the portal's publication time (not when only
  estimated) or from the latest approval before the post, to the article's first post (on that
  channel or platform, when grouped so) — for articles whose first post is in the period.
  Percentiles interpolate linearly, as PostgreSQL's percentile_cont.
- likes, shares, comments, metrics: for posts published in the period, the latest snapshot of
  each metric (whenever taken), summed; engagement = likes + shares + comments;
  engagement_per_post = engagement / the posts on platforms that give engagement. A figure that
  no platform of the group can give (Telegram: none; Zalo: no likes or comments) is null, "not
  available", never 0; a group with no posts has 0.
- failed, unconfirmed, retried: deliveries due in the period now failed, unconfirmed, or that
  took more than one attempt.

JSON schema (`crosspost report --format json`; "schema" changes when a field changes meaning or
goes away; new fields may be added)::

    {
      "schema": "crosspost.report/2",
      "generated_at": "2026-12-01T02:00:00+00:00",
      "period": {"label": "2026-11", "first_day": "2026-11-01", "last_day": "2026-11-30",
                 "timezone": "Asia/Ho_Chi_Minh",
                 "start": "2026-10-31T17:00:00+00:00", "end": "2026-11-30T17:00:00+00:00"},
      "by": "source" | "channel" | "platform" | "article",
      "total": ROW, "groups": [ROW, ...],
      "top_articles": [{"rank": 1, "article_id": 12, "title": "…", "source": "chinhphu",
                        "posts": 2, "engagement": 340}, ...],            # at most 10
      "posts_per_day": [{"day": "2026-11-01", "platform": "x", "posts": 3}, ...],
      "engagement_by_channel": [{"channel": "gov-x", "engagement": 340},
                                {"channel": "gov-tg", "engagement": null}, ...],
      "timeliness_histogram": [{"from_minutes": 0, "to_minutes": 15, "portal": 4,
                                "approval": 9}, ..., {"from_minutes": 1440, "to_minutes": null, …}]
    }
    ROW = {"key": "chinhphu", "label": "chinhphu", "ingested": int|null, "approved": int|null,
           "posts": int, "published_articles": int, "coverage": float|null,
           "portal_median_min": float|null, "portal_p90_min": float|null,
           "approval_median_min": float|null, "approval_p90_min": float|null,
           "likes": int|null, "shares": int|null, "comments": int|null, "engagement": int|null,
           "engagement_per_post": float|null, "failed": int, "unconfirmed": int, "retried": int,
           "metrics": {"likes": int, "impressions": int, ...}}

The total row has key "" and label "". CSV has the ROW fields in this order (without metrics),
preceded by `scope` ("group" or "total"). Minutes are rounded to 0.1, coverage to 0.0001 and
engagement per post to 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel, Delivery
from crosspost.domain.periods import Period
from crosspost.platforms.registry import ENGAGEMENT_METRICS, gives_engagement
from crosspost.services import report_sql as q
from crosspost.services.report_sql import HISTOGRAM_EDGES, GroupBy

__all__ = ["SCHEMA", "GroupBy", "GroupRow", "Report", "build_report", "latest_engagement"]

SCHEMA = "crosspost.report/2"
"""The JSON schema's name and version."""

TOP_ARTICLES = 10
"""How many articles the top list holds."""

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class GroupRow:
    """The figures of one group (or of the whole period, key "")."""

    key: str
    label: str
    ingested: int | None
    approved: int | None
    posts: int
    published_articles: int
    coverage: float | None
    portal_median_min: float | None
    portal_p90_min: float | None
    approval_median_min: float | None
    approval_p90_min: float | None
    likes: int | None
    shares: int | None
    comments: int | None
    engagement: int | None
    engagement_per_post: float | None
    failed: int
    unconfirmed: int
    retried: int
    metrics: dict[str, int] = field(default_factory=dict)


CSV_COLUMNS = ("scope", *(f.name for f in fields(GroupRow) if f.name != "metrics"))
"""The CSV header, in order: stable, like the JSON schema."""


@dataclass(frozen=True, slots=True)
class PeriodView:
    label: str
    first_day: str
    last_day: str
    timezone: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class TopArticle:
    rank: int
    article_id: int
    title: str
    source: str
    posts: int
    engagement: int


@dataclass(frozen=True, slots=True)
class DayPosts:
    day: str
    platform: str
    posts: int


@dataclass(frozen=True, slots=True)
class ChannelEngagement:
    channel: str
    engagement: int | None


@dataclass(frozen=True, slots=True)
class HistogramBin:
    from_minutes: int
    to_minutes: int | None
    portal: int
    approval: int


@dataclass(frozen=True, slots=True)
class Report:
    schema: str
    generated_at: datetime
    period: PeriodView
    by: str
    total: GroupRow
    groups: list[GroupRow]
    top_articles: list[TopArticle]
    posts_per_day: list[DayPosts]
    engagement_by_channel: list[ChannelEngagement]
    timeliness_histogram: list[HistogramBin]


def build_report(
    factory: sessionmaker[Session], period: Period, *, by: GroupBy, now: datetime
) -> Report:
    """Every figure of `period`, grouped `by`, plus the whole period's total and charts."""
    with factory() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            # One snapshot for every query, so the figures agree with each other.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        # Reading the latest snapshots is the costly part: do it once, and sum every
        # engagement figure (per channel, per group, the total, the top articles) from it.
        sums, ranked = q.engagement_and_top(session, period, dialect, TOP_ARTICLES)
        by_channel = q.engagement_of(session, sums, GroupBy.CHANNEL)
        summed = q.engagement_of(session, sums, None).get("", {})
        # The whole period's first-post delays give both its timeliness and the histogram.
        delays = q.delays(session, period, None, dialect)
        total = _rows(
            session, period, None, dialect, {"": summed}, approved_total=None, delays=delays
        )[""]
        if by is GroupBy.CHANNEL:
            grouped = by_channel
        elif by is GroupBy.ARTICLE:
            grouped = q.engagement(session, period, by, dialect)
        else:
            grouped = q.engagement_of(session, sums, by)
        groups = _rows(session, period, by, dialect, grouped, approved_total=total.approved)
        channel_platforms = q.posts_by_platform(session, period, GroupBy.CHANNEL)
        tops = q.top_engaging(session, period, TOP_ARTICLES, dialect, ranked)
        days = q.posts_per_day(session, period, dialect)
        bins = q.histogram(delays)
    order = (lambda r: (int(r.key), r.key)) if by is GroupBy.ARTICLE else (lambda r: (0, r.label))
    counts: dict[tuple[str, int], int] = {(m, b): n for m, b, n in bins}
    edges = (0, *HISTOGRAM_EDGES)
    return Report(
        schema=SCHEMA,
        generated_at=now,
        period=PeriodView(
            period.label,
            period.first_day.isoformat(),
            period.last_day.isoformat(),
            period.zone.key,
            period.start,
            period.end,
        ),
        by=by.value,
        total=total,
        groups=sorted(groups.values(), key=order),
        # PostgreSQL's SUM of a bigint is a numeric (a Decimal in Python): keep the ints ints.
        top_articles=[
            TopArticle(i, int(a), str(t), str(s), int(p), int(e))
            for i, (a, t, s, p, e) in enumerate(tops, start=1)
        ],
        posts_per_day=[
            DayPosts((_EPOCH + timedelta(days=d)).isoformat(), platform, n)
            for d, platform, n in sorted(days)
        ],
        engagement_by_channel=sorted(
            (
                ChannelEngagement(c, _available(by_channel.get(c, {}), on)[3])
                for c, on in channel_platforms.items()
            ),
            key=lambda c: (-(c.engagement if c.engagement is not None else -1), c.channel),
        ),
        timeliness_histogram=[
            HistogramBin(
                lo,
                edges[i + 1] if i + 1 < len(edges) else None,
                counts.get(("portal", i), 0),
                counts.get(("approval", i), 0),
            )
            for i, lo in enumerate(edges)
        ],
    )


def _rows(
    session: Session,
    period: Period,
    by: GroupBy | None,
    dialect: str,
    metrics: dict[str, dict[str, int]],
    *,
    approved_total: int | None,
    delays: list[tuple[str, Any, str, int]] | None = None,
) -> dict[str, GroupRow]:
    """Put each query's aggregated rows side by side, one GroupRow per key seen anywhere."""
    ingested = q.ingested(session, period, by) if q.per_article(by) else {}
    approvals = q.approvals(session, period, by)
    posts = q.posts(session, period, by)
    timely = q.timeliness(delays if delays is not None else q.delays(session, period, by, dialect))
    reliable = q.reliability(session, period, by)
    platforms = q.posts_by_platform(session, period, by)
    labels: dict[str, Any] = {}
    for found in (ingested, approvals, posts, timely, reliable):
        labels.update({key: row[0] for key, row in found.items()})
    if by is None:
        labels.setdefault("", "")
    per_article = q.per_article(by)
    rows = {}
    for key, label in labels.items():
        _, approved, covered = approvals.get(key, (None, 0 if per_article else None, 0))
        _, n_posts, n_articles = posts.get(key, (None, 0, 0))
        _, *minutes = timely.get(key, (None, None, None, None, None))
        _, failed, unconfirmed, retried = reliable.get(key, (None, 0, 0, 0))
        sums = metrics.get(key, {})
        denominator = approved if per_article else approved_total
        on = platforms.get(key, {})
        likes, shares, comments, total = _available(sums, on)
        measured = sum(n for platform, n in on.items() if gives_engagement(platform))
        rows[key] = GroupRow(
            key=key,
            label=str(label),
            ingested=int(ingested.get(key, (None, 0))[1]) if per_article else None,
            approved=int(approved) if per_article else None,
            posts=int(n_posts),
            published_articles=int(n_articles),
            coverage=round(int(covered or 0) / denominator, 4) if denominator else None,
            portal_median_min=_minutes(minutes[0]),
            portal_p90_min=_minutes(minutes[1]),
            approval_median_min=_minutes(minutes[2]),
            approval_p90_min=_minutes(minutes[3]),
            likes=likes,
            shares=shares,
            comments=comments,
            engagement=total,
            engagement_per_post=round(total / measured, 2)
            if total is not None and measured
            else None,
            failed=int(failed or 0),
            unconfirmed=int(unconfirmed or 0),
            retried=int(retried or 0),
            metrics=dict(sorted(sums.items())),
        )
    return rows


def _minutes(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)


def _available(
    sums: dict[str, int], posts_on: dict[str, int]
) -> tuple[int | None, int | None, int | None, int | None]:
    """(likes, shares, comments, engagement) of a group whose posts are on `posts_on`'s
    platforms: None for a figure none of them can give; 0s for a group without posts."""
    figures: list[int | None] = [
        int(sums.get(name, 0))
        if not posts_on or any(gives_engagement(p, name) for p in posts_on)
        else None
        for name in ENGAGEMENT_METRICS
    ]
    given = [f for f in figures if f is not None]
    likes, shares, comments = figures
    return likes, shares, comments, (sum(given) if given else None)


def latest_engagement(factory: sessionmaker[Session], article_id: int) -> dict[str, dict[str, int]]:
    """Channel name -> {metric: latest value} for each post of one article that has snapshots."""
    with factory() as session:
        dialect = session.get_bind().dialect.name
    latest = q.latest_snapshots(
        select(Delivery.id).where(Delivery.article_id == article_id), dialect
    )
    query = (
        select(Channel.name, latest.c.name, latest.c.value)
        .join(Delivery, Delivery.channel_id == Channel.id)
        .join(latest, latest.c.delivery_id == Delivery.id)
        .order_by(Channel.name, latest.c.name)
    )
    result: dict[str, dict[str, int]] = {}
    with factory() as session:
        for channel, name, value in session.execute(query):
            result.setdefault(channel, {})[name] = int(value)
    return result
