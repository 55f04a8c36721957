"""The report's queries: every figure is aggregated by the database, on SQLite and PostgreSQL.

Each query returns a few already-aggregated rows per group, keyed by the group's key ("" for the
whole period). One code path; the dialect-specific pieces are two small helpers:

- `_epoch`: seconds since 1970 of a timestamp (PostgreSQL `extract(epoch …)`, SQLite
  `strftime('%s', …)`); durations and local days are computed from it in integer seconds.
- `_percentiles`: PostgreSQL's `percentile_cont … WITHIN GROUP`; SQLite, which has none, gets
  the same linear interpolation from ROW_NUMBER/COUNT window functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from crosspost.db.models import Article, AuditEntry, Channel, Delivery, MetricSnapshot, Source
from crosspost.domain.periods import Period
from crosspost.platforms.registry import ENGAGEMENT_METRICS

HISTOGRAM_EDGES = (15, 30, 60, 120, 240, 480, 1440)
"""Upper edges (minutes) of the timeliness histogram's bins; the last bin is open-ended."""

PUBLISHED = "published"


class GroupBy(StrEnum):
    SOURCE = "source"
    CHANNEL = "channel"
    PLATFORM = "platform"
    ARTICLE = "article"


Rows = dict[str, tuple[Any, ...]]
"""Group key -> (label, figures...)."""


def _group(by: GroupBy | None) -> tuple[list[ColumnElement[Any]], ColumnElement[Any], Any]:
    """(GROUP BY columns, key, label) for a grouping; no GROUP BY for the whole period."""
    if by is None:
        return [], literal_column("''", String).label("gkey"), literal_column("''").label("glabel")
    columns: dict[GroupBy, tuple[Any, Any]] = {
        GroupBy.SOURCE: (Source.name, Source.name),
        GroupBy.CHANNEL: (Channel.name, Channel.name),
        GroupBy.PLATFORM: (Channel.platform, Channel.platform),
        GroupBy.ARTICLE: (cast(Article.id, String), Article.title),
    }
    key, label = columns[by]
    return [key, label], key.label("gkey"), label.label("glabel")


def per_article(by: GroupBy | None) -> bool:
    """Whether the grouping follows the article (ingestion and approval have no channel)."""
    return by not in (GroupBy.CHANNEL, GroupBy.PLATFORM)


def _deliveries(*columns: Any) -> Select[Any]:
    return (
        select(*columns)
        .select_from(Delivery)
        .join(Article, Article.id == Delivery.article_id)
        .join(Source, Source.id == Article.source_id)
        .join(Channel, Channel.id == Delivery.channel_id)
    )


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _posted_in(period: Period) -> ColumnElement[bool]:
    return and_(Delivery.status == PUBLISHED, _in(Delivery.published_at, period))


def _epoch(column: Any, dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def _int(value: int) -> ColumnElement[int]:
    """An integer written into the SQL, not bound: PostgreSQL matches a SELECT expression to its
    GROUP BY twin only when both are the same text, and bound parameters get distinct numbers."""
    return literal_column(str(int(value)), Integer)


def _fetch(session: Session, query: Select[Any]) -> Rows:
    return {str(row[0]): tuple(row[1:]) for row in session.execute(query)}


def ingested(session: Session, period: Period, by: GroupBy | None) -> Rows:
    """key -> (label, articles first seen in the period)."""
    cols, key, label = _group(by)
    query = (
        select(key, label, func.count(Article.id))
        .select_from(Article)
        .join(Source, Source.id == Article.source_id)
        .where(_in(Article.first_seen_at, period))
        .group_by(*cols)
    )
    return _fetch(session, query)


def _approved_ids(period: Period) -> Subquery:
    """Articles approved in the period whose approval still stands (not withdrawn since)."""
    return (
        select(AuditEntry.subject_id.label("article_id"))
        .join(Article, Article.id == AuditEntry.subject_id)
        .where(
            AuditEntry.action == "approved",
            AuditEntry.subject_type == "article",
            _in(AuditEntry.at, period),
            Article.status == "approved",
        )
        .distinct()
        .subquery()
    )


def approvals(session: Session, period: Period, by: GroupBy | None) -> Rows:
    """key -> (label, approved, of them published).

    Per article grouping: approved articles of the group, and those with a published delivery
    (ever: an article approved on the 30th and posted on the 1st still counts as covered).
    Channel or platform: approved is None; published counts posts on that channel/platform.
    """
    cols, key, label = _group(by)
    approved = _approved_ids(period)
    if per_article(by):
        posted = exists().where(Delivery.article_id == Article.id, Delivery.status == PUBLISHED)
        query = (
            select(key, label, func.count(Article.id), func.sum(case((posted, 1), else_=0)))
            .select_from(Article)
            .join(approved, approved.c.article_id == Article.id)
            .join(Source, Source.id == Article.source_id)
            .group_by(*cols)
        )
    else:
        query = (
            _deliveries(key, label, null(), func.count(func.distinct(Delivery.article_id)))
            .join(approved, approved.c.article_id == Delivery.article_id)
            .where(Delivery.status == PUBLISHED)
            .group_by(*cols)
        )
    return _fetch(session, query)


def posts(session: Session, period: Period, by: GroupBy | None) -> Rows:
    """key -> (label, posts published in the period, distinct articles among them)."""
    cols, key, label = _group(by)
    query = _deliveries(
        key, label, func.count(Delivery.id), func.count(func.distinct(Delivery.article_id))
    ).where(_posted_in(period))
    return _fetch(session, query.group_by(*cols))


def _delays(period: Period, by: GroupBy | None, dialect: str) -> Select[Any]:
    """One row per (group, article): seconds from portal and from approval to the first post.

    The first post is the article's earliest published delivery (on that channel or platform,
    when grouped so) and must fall in the period. Portal times that the feed did not give
    (`published_at_estimated`) are left out (None): they would measure our crawler, not the
    portal. Both measures come from one pass over the first posts.
    """
    channel_cols = {GroupBy.CHANNEL: [Channel.name], GroupBy.PLATFORM: [Channel.platform]}
    extra = channel_cols.get(by, []) if by is not None else []
    first = func.min(Delivery.published_at)
    firsts = select(
        Delivery.article_id, *[c.label("gkey") for c in extra], first.label("first_post")
    )
    if extra:
        firsts = firsts.join(Channel, Channel.id == Delivery.channel_id)
    firsts_q = (
        firsts.where(Delivery.status == PUBLISHED)
        .group_by(Delivery.article_id, *extra)
        .having(and_(first >= period.start, first < period.end))
        .subquery()
    )
    _cols, key, label = _group(by)
    if extra:
        key = label = firsts_q.c.gkey
    # The last approval before the first post: a join and a GROUP BY rather than a correlated
    # subquery, which PostgreSQL runs once per row (tens of thousands in a year).
    approvals = (
        select(AuditEntry.subject_id, AuditEntry.at)
        .where(AuditEntry.action == "approved", AuditEntry.subject_type == "article")
        .subquery()
    )
    approved_at = func.max(
        case((approvals.c.at <= firsts_q.c.first_post, approvals.c.at), else_=null())
    )
    posted = _epoch(firsts_q.c.first_post, dialect)
    portal = case(
        (Article.published_at_estimated, null()), else_=_epoch(Article.published_at, dialect)
    )
    group = [firsts_q.c.article_id, *([firsts_q.c.gkey] if extra else [])]
    query = (
        select(
            key.label("key"),
            label.label("label"),
            (posted - portal).label("portal"),
            (posted - _epoch(approved_at, dialect)).label("approval"),
        )
        .select_from(firsts_q)
        .join(Article, Article.id == firsts_q.c.article_id)
        .outerjoin(approvals, approvals.c.subject_id == firsts_q.c.article_id)
    )
    if by is GroupBy.SOURCE:
        query = query.join(Source, Source.id == Article.source_id)
    named = [key, label] if by is not None and not extra else []  # not the '' literals
    return query.group_by(
        *group,
        *named,
        firsts_q.c.first_post,
        Article.published_at,
        Article.published_at_estimated,
    )


def delays(
    session: Session, period: Period, by: GroupBy | None, dialect: str
) -> list[tuple[str, Any, str, int]]:
    """(key, label, measure, seconds) of each article's first post in the period (`_delays`),
    measure "portal" or "approval"; a measure without a usable start is left out."""
    query = _delays(period, by, dialect)
    if dialect == "postgresql" and by in (GroupBy.CHANNEL, GroupBy.PLATFORM):
        # PostgreSQL estimates the HAVING on min(published_at) at 0.5 % of the (article,
        # channel) groups (240 rows for a year's 48,000) and probes articles and the audit log
        # in nested loops: 0.36 s, against 0.18 s with hash joins (docs/benchmarks.md).
        was = session.execute(text("SHOW enable_nestloop")).scalar_one()
        session.execute(text("SET LOCAL enable_nestloop = off"))
        try:
            found = session.execute(query).all()
        finally:
            session.execute(text(f"SET LOCAL enable_nestloop = {'on' if was == 'on' else 'off'}"))
    else:
        found = session.execute(query).all()
    rows: list[tuple[str, Any, str, int]] = []
    for key, label, portal, approval in found:
        if portal is not None:
            rows.append((str(key), label, "portal", int(portal)))
        if approval is not None:
            rows.append((str(key), label, "approval", int(approval)))
    return rows


def percentile(ordered: Sequence[float], p: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    h = (len(ordered) - 1) * p
    lo = int(h)
    if lo + 1 >= len(ordered):
        return float(ordered[lo])
    return ordered[lo] + (ordered[lo + 1] - ordered[lo]) * (h - lo)


def timeliness(rows: Sequence[tuple[str, Any, str, int]]) -> Rows:
    """key -> (label, portal median s, portal p90 s, approval median s, approval p90 s).

    Computed from the `delays` rows: a year's report has tens of thousands of them, and sorting
    them here is cheaper than the window functions SQLite would need (docs/benchmarks.md)."""
    found: dict[str, dict[str, Any]] = {}
    for key, label, measure, seconds in rows:
        found.setdefault(key, {"label": label}).setdefault(measure, []).append(seconds)
    result: Rows = {}
    for key, v in found.items():
        figures: list[float | None] = []
        for measure in ("portal", "approval"):
            values = sorted(v.get(measure, []))
            figures += (
                [percentile(values, 0.5), percentile(values, 0.9)] if values else [None, None]
            )
        result[key] = (v["label"], *figures)
    return result


def histogram(rows: Sequence[tuple[str, Any, str, int]]) -> list[tuple[str, int, int]]:
    """(measure, bin index, articles): first-post delays (`delays` rows) in HISTOGRAM_EDGES."""
    counts: dict[tuple[str, int], int] = {}
    for _key, _label, measure, seconds in rows:
        b = next(
            (i for i, edge in enumerate(HISTOGRAM_EDGES) if seconds < edge * 60),
            len(HISTOGRAM_EDGES),
        )
        counts[(measure, b)] = counts.get((measure, b), 0) + 1
    return [(m, b, n) for (m, b), n in sorted(counts.items())]


def latest_snapshots(posts: Select[Any], dialect: str) -> Subquery:
    """The newest value of each (post among `posts`, a select of delivery ids; metric).

    Both read the covering index (delivery_id, name, taken_at, id, value) in order, without
    touching the table or sorting (a year's report reads a million snapshots):

    - PostgreSQL: DISTINCT ON (delivery_id, name), newest first.
    - SQLite: GROUP BY (delivery_id, name) with max(taken_at): SQLite documents that the bare
      columns then come from the row holding the maximum (with two readings at the very same
      instant, either). ROW_NUMBER took ~1.7 s here against 0.3 s (docs/benchmarks.md).
    """
    snap = MetricSnapshot
    if dialect == "postgresql":
        return (
            select(snap.delivery_id, snap.name, snap.value)
            .where(snap.delivery_id.in_(posts))
            .ext(distinct_on(snap.delivery_id, snap.name))
            .order_by(
                snap.delivery_id.desc(), snap.name.desc(), snap.taken_at.desc(), snap.id.desc()
            )
            .subquery()
        )
    return (
        select(snap.delivery_id, snap.name, snap.value, func.max(snap.taken_at).label("at"))
        .where(snap.delivery_id.in_(posts))
        .group_by(snap.delivery_id, snap.name)
        .subquery()
    )


def _latest(period: Period, dialect: str) -> Subquery:
    return latest_snapshots(select(Delivery.id).where(_posted_in(period)), dialect)


def engagement(
    session: Session, period: Period, by: GroupBy | None, dialect: str
) -> dict[str, dict[str, int]]:
    """key -> {metric: sum of the latest values of the group's posts published in the period}."""
    cols, key, _label = _group(by)
    latest = _latest(period, dialect)
    query = (
        _deliveries(key, latest.c.name, func.sum(latest.c.value))
        .join(latest, latest.c.delivery_id == Delivery.id)
        .group_by(*cols, latest.c.name)
    )
    found: dict[str, dict[str, int]] = {}
    for group, name, total in session.execute(query):
        found.setdefault(str(group), {})[name] = int(total)
    return found


EngagementSums = list[tuple[int, int, str, int]]
"""(channel id, source id, metric, sum of the latest values) of the posts published."""


def engagement_and_top(
    session: Session, period: Period, dialect: str, limit: int
) -> tuple[EngagementSums, list[tuple[int, int]]]:
    """The engagement sums per (channel, source, metric) and the `limit` (article id,
    engagement) most engaging articles, in one statement.

    A year holds a million snapshots and reading the latest values is the report's costliest
    step: here it is done once (a CTE used twice, which SQLite and PostgreSQL materialise), and
    every engagement figure but the per-article grouping is summed from these few rows
    (`engagement_of`) instead of by a scan per figure (docs/benchmarks.md).
    """
    latest = _latest(period, dialect)
    per_post = (
        select(
            Delivery.channel_id, Article.source_id, Delivery.article_id, latest.c.name,
            latest.c.value,
        )
        .select_from(Delivery)
        .join(latest, latest.c.delivery_id == Delivery.id)
        .join(Article, Article.id == Delivery.article_id)
        .cte("per_post")
    )  # fmt: skip
    engagement = func.sum(per_post.c.value).label("engagement")
    top = (
        select(per_post.c.article_id, engagement)
        .where(per_post.c.name.in_(ENGAGEMENT_METRICS))
        .group_by(per_post.c.article_id)
        .order_by(engagement.desc(), per_post.c.article_id)
        .limit(limit)
        .subquery()
    )
    query = union_all(
        select(
            literal_column("'g'").label("part"), per_post.c.channel_id, per_post.c.source_id,
            per_post.c.name, func.sum(per_post.c.value),
        ).group_by(per_post.c.channel_id, per_post.c.source_id, per_post.c.name),
        select(
            literal_column("'t'"), top.c.article_id, null(), null(), top.c.engagement,
        ),
    )  # fmt: skip
    sums: EngagementSums = []
    tops: list[tuple[int, int]] = []
    for part, a, b, name, value in session.execute(query):
        if part == "g":
            sums.append((int(a), int(b), str(name), int(value)))
        else:
            tops.append((int(a), int(value)))
    tops.sort(key=lambda t: (-t[1], t[0]))
    return sums, tops


def engagement_of(
    session: Session, sums: EngagementSums, by: GroupBy | None
) -> dict[str, dict[str, int]]:
    """key -> {metric: sum of the latest values of the group's posts}, as `engagement` gives,
    for the whole period (None) or by channel, platform or source."""
    names: dict[int, str] = {}
    if by is GroupBy.CHANNEL:
        names = {i: str(n) for i, n in session.execute(select(Channel.id, Channel.name))}
    elif by is GroupBy.PLATFORM:
        names = {i: str(n) for i, n in session.execute(select(Channel.id, Channel.platform))}
    elif by is GroupBy.SOURCE:
        names = {i: str(n) for i, n in session.execute(select(Source.id, Source.name))}
    elif by is not None:
        raise ValueError(f"engagement_of cannot group by {by}")
    found: dict[str, dict[str, int]] = {}
    for channel, source, name, value in sums:
        key = "" if by is None else names[source if by is GroupBy.SOURCE else channel]
        group = found.setdefault(key, {})
        group[name] = group.get(name, 0) + value
    return found


def top_engaging(
    session: Session, period: Period, limit: int, dialect: str, ranked: Sequence[tuple[int, int]]
) -> list[tuple[Any, ...]]:
    """`top_articles` from the ranking `engagement_and_top` made; asks `top_articles` itself
    when fewer than `limit` articles have any engagement (the rest are then ranked by id among
    the articles without)."""
    if len(ranked) < limit or ranked[-1][1] <= 0:
        return top_articles(session, period, limit, dialect)
    ids = [article for article, _ in ranked]
    query = (
        select(Article.id, Article.title, Source.name, func.count(Delivery.id))
        .select_from(Delivery)
        .join(Article, Article.id == Delivery.article_id)
        .join(Source, Source.id == Article.source_id)
        .where(_posted_in(period), Delivery.article_id.in_(ids))
        .group_by(Article.id, Article.title, Source.name)
    )
    found = {int(i): (title, source, int(n)) for i, title, source, n in session.execute(query)}
    return [(a, *found[a], engagement) for a, engagement in ranked]


def top_articles(
    session: Session, period: Period, limit: int, dialect: str
) -> list[tuple[Any, ...]]:
    """(article id, title, source, posts, engagement) of the most engaging articles."""
    latest = _latest(period, dialect)
    counts = (
        select(Delivery.article_id, func.count().label("posts"))
        .where(_posted_in(period))
        .group_by(Delivery.article_id)
        .subquery()
    )
    sums = (
        select(Delivery.article_id, func.sum(latest.c.value).label("engagement"))
        .join(latest, latest.c.delivery_id == Delivery.id)
        .where(latest.c.name.in_(ENGAGEMENT_METRICS))
        .group_by(Delivery.article_id)
        .subquery()
    )
    total = func.coalesce(sums.c.engagement, 0)
    query = (
        select(Article.id, Article.title, Source.name, counts.c.posts, total)
        .select_from(counts)
        .join(Article, Article.id == counts.c.article_id)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(sums, sums.c.article_id == counts.c.article_id)
        .order_by(total.desc(), Article.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]


def posts_by_platform(
    session: Session, period: Period, by: GroupBy | None
) -> dict[str, dict[str, int]]:
    """key -> {platform: posts published in the period}: which platforms a group's figures
    come from, so a figure no platform of the group can give is "not available", not zero."""
    cols, key, _label = _group(by)
    query = (
        _deliveries(key, Channel.platform, func.count())
        .where(_posted_in(period))
        .group_by(*cols, Channel.platform)
    )
    found: dict[str, dict[str, int]] = {}
    for group, platform, count in session.execute(query):
        found.setdefault(str(group), {})[str(platform)] = int(count)
    return found


def reliability(session: Session, period: Period, by: GroupBy | None) -> Rows:
    """key -> (label, failed, unconfirmed, retried) among deliveries due in the period."""
    cols, key, label = _group(by)

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    query = _deliveries(
        key,
        label,
        count_if(Delivery.status == "failed"),
        count_if(Delivery.status == "unconfirmed"),
        count_if(Delivery.attempts > 1),
    ).where(_in(Delivery.due_at, period))
    return _fetch(session, query.group_by(*cols))


def posts_per_day(session: Session, period: Period, dialect: str) -> list[tuple[int, str, int]]:
    """(local day as days since 1970-01-01, platform, posts) over the period.

    SQLite knows no time zones, so the local day is computed from the UTC instant plus the zone's
    offset in force then (a CASE over the period's offset changes; Vietnam has none).
    """
    seconds = _epoch(Delivery.published_at, dialect)
    offsets = period.offsets()
    shift: Any = _int(offsets[0][1])
    changes = [(int(at.timestamp()), offset) for at, offset in offsets[1:]]
    if changes:
        # Before the first change the first offset holds, and so on.
        bounds = [at for at, _ in changes]
        whens = [
            (seconds < _int(at), _int(off))
            for at, (_, off) in zip(bounds, offsets[:-1], strict=True)
        ]
        shift = case(*whens, else_=_int(changes[-1][1]))
    day = (seconds + shift) // _int(86400)
    query = _deliveries(day, Channel.platform, func.count()).where(_posted_in(period))
    return [
        (int(d), str(p), int(n))
        for d, p, n in session.execute(query.group_by(day, Channel.platform))
    ]
