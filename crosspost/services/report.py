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
  engagement_per_post = engagement / posts.
- failed, unconfirmed, retried: deliveries due in the period now failed, unconfirmed, or that
  took more than one attempt.

JSON schema (`crosspost report --format json`; "schema" changes when a field changes meaning or
goes away; new fields may be added)::

    {
      "schema": "crosspost.report/1",
      "generated_at": "2026-12-01T02:00:00+00:00",
      "period": {"label": "2026-11", "first_day": "2026-11-01", "last_day": "2026-11-30",
                 "timezone": "Asia/Ho_Chi_Minh",
                 "start": "2026-10-31T17:00:00+00:00", "end": "2026-11-30T17:00:00+00:00"},
      "by": "source" | "channel" | "platform" | "article",
      "total": ROW, "groups": [ROW, ...],
      "top_articles": [{"rank": 1, "article_id": 12, "title": "…", "source": "chinhphu",
                        "posts": 2, "engagement": 340}, ...],            # at most 10
      "posts_per_day": [{"day": "2026-11-01", "platform": "x", "posts": 3}, ...],
      "engagement_by_channel": [{"channel": "gov-x", "engagement": 340}, ...],
      "timeliness_histogram": [{"from_minutes": 0, "to_minutes": 15, "portal": 4,
                                "approval": 9}, ..., {"from_minutes": 1440, "to_minutes": null, …}]
    }
    ROW = {"key": "chinhphu", "label": "chinhphu", "ingested": int|null, "approved": int|null,
           "posts": int, "published_articles": int, "coverage": float|null,
           "portal_median_min": float|null, "portal_p90_min": float|null,
           "approval_median_min": float|null, "approval_p90_min": float|null,
           "likes": int, "shares": int, "comments": int, "engagement": int,
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
from crosspost.services import report_sql as q
from crosspost.services.report_sql import ENGAGEMENT_METRICS, HISTOGRAM_EDGES, GroupBy

__all__ = ["SCHEMA", "GroupBy", "GroupRow", "Report", "build_report", "latest_engagement"]

SCHEMA = "crosspost.report/1"
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
    likes: int
    shares: int
    comments: int
    engagement: int
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
    engagement: int


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
        # The latest-snapshot scan is the costly part: run it per channel once, and add the few
        # per-channel sums up for the total rather than scanning again.
        by_channel = q.engagement(session, period, GroupBy.CHANNEL)
        summed: dict[str, int] = {}
        for sums in by_channel.values():
            for name, value in sums.items():
                summed[name] = summed.get(name, 0) + value
        total = _rows(session, period, None, dialect, {"": summed}, approved_total=None)[""]
        grouped = by_channel if by is GroupBy.CHANNEL else q.engagement(session, period, by)
        groups = _rows(session, period, by, dialect, grouped, approved_total=total.approved)
        tops = q.top_articles(session, period, TOP_ARTICLES)
        days = q.posts_per_day(session, period, dialect)
        bins = q.histogram(session, period, dialect)
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
        top_articles=[TopArticle(i, *row) for i, row in enumerate(tops, start=1)],
        posts_per_day=[
            DayPosts((_EPOCH + timedelta(days=d)).isoformat(), platform, n)
            for d, platform, n in sorted(days)
        ],
        engagement_by_channel=sorted(
            (ChannelEngagement(c, _engagement(m)) for c, m in by_channel.items()),
            key=lambda c: (-c.engagement, c.channel),
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
) -> dict[str, GroupRow]:
    """Put each query's aggregated rows side by side, one GroupRow per key seen anywhere."""
    ingested = q.ingested(session, period, by) if q.per_article(by) else {}
    approvals = q.approvals(session, period, by)
    posts = q.posts(session, period, by)
    timely = q.timeliness(session, period, by, dialect)
    reliable = q.reliability(session, period, by)
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
        likes, shares, comments = (int(sums.get(name, 0)) for name in ENGAGEMENT_METRICS)
        total = likes + shares + comments
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
            engagement_per_post=round(total / n_posts, 2) if n_posts else None,
            failed=int(failed or 0),
            unconfirmed=int(unconfirmed or 0),
            retried=int(retried or 0),
            metrics=dict(sorted(sums.items())),
        )
    return rows


def _minutes(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)


def _engagement(metrics: dict[str, int]) -> int:
    return sum(metrics.get(name, 0) for name in ENGAGEMENT_METRICS)


def latest_engagement(factory: sessionmaker[Session], article_id: int) -> dict[str, dict[str, int]]:
    """Channel name -> {metric: latest value} for each post of one article that has snapshots."""
    latest = q.latest_snapshots(select(Delivery.id).where(Delivery.article_id == article_id))
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
