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
    union_all,
)
from sqlalchemy.orm import Session

from crosspost.db.models import Article, AuditEntry, Channel, Delivery, MetricSnapshot, Source
from crosspost.domain.periods import Period

ENGAGEMENT_METRICS = ("likes", "shares", "comments")
"""The snapshot names whose sum is a post's engagement."""

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


def _delays(period: Period, by: GroupBy | None, dialect: str) -> Subquery:
    """One row per (group, article, measure): seconds from portal or approval to first post.

    The first post is the article's earliest published delivery (on that channel or platform,
    when grouped so) and must fall in the period. Portal times that the feed did not give
    (`published_at_estimated`) are left out: they would measure our crawler, not the portal.
    """
    channel_cols = {GroupBy.CHANNEL: [Channel.name], GroupBy.PLATFORM: [Channel.platform]}
    extra = channel_cols.get(by, []) if by is not None else []
    first = func.min(Delivery.published_at)
    firsts = (
        select(Delivery.article_id, *[c.label("gkey") for c in extra], first.label("first_post"))
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.status == PUBLISHED)
        .group_by(Delivery.article_id, *extra)
        .having(and_(first >= period.start, first < period.end))
        .subquery()
    )
    _cols, key, label = _group(by)
    if extra:
        key = label = firsts.c.gkey
    approved_at = (
        select(func.max(AuditEntry.at))
        .where(
            AuditEntry.action == "approved",
            AuditEntry.subject_type == "article",
            AuditEntry.subject_id == firsts.c.article_id,
            AuditEntry.at <= firsts.c.first_post,
        )
        .scalar_subquery()
    )
    posted = _epoch(firsts.c.first_post, dialect)
    portal = case(
        (Article.published_at_estimated, null()), else_=_epoch(Article.published_at, dialect)
    )
    parts = [
        select(
            key.label("key"),
            label.label("label"),
            literal_column(f"'{name}'").label("measure"),
            (posted - start).label("seconds"),
        )
        .select_from(firsts)
        .join(Article, Article.id == firsts.c.article_id)
        .join(Source, Source.id == Article.source_id)
        for name, start in (("portal", portal), ("approval", _epoch(approved_at, dialect)))
    ]
    return union_all(*parts).subquery()


def _percentiles(delays: Subquery, dialect: str, fractions: Sequence[float]) -> Select[Any]:
    """key, label, measure, one column per fraction: linear-interpolated percentiles."""
    keys = (delays.c.key, delays.c.label, delays.c.measure)
    seconds = delays.c.seconds
    if dialect == "postgresql":
        exact = [func.percentile_cont(p).within_group(seconds) for p in fractions]
        return select(*keys, *exact).where(seconds.is_not(None)).group_by(*keys)
    ranked = (
        select(
            *keys,
            seconds,
            (func.row_number().over(partition_by=keys, order_by=seconds) - 1).label("rn"),
            func.count().over(partition_by=keys).label("n"),
        )
        .where(seconds.is_not(None))
        .subquery()
    )
    columns: list[ColumnElement[Any]] = []
    for p in fractions:
        # Position h = (n-1)p between sorted values lo=floor(h) and lo+1 (as percentile_cont).
        h = (ranked.c.n - 1) * p
        lo = cast(h, Integer)
        low = ranked.c.seconds * (1 - (h - lo))
        high = ranked.c.seconds * (h - lo)
        columns.append(
            func.sum(case((ranked.c.rn == lo, low), (ranked.c.rn == lo + 1, high), else_=0))
        )
    keep = (ranked.c.key, ranked.c.label, ranked.c.measure)
    return select(*keep, *columns).group_by(*keep)


def timeliness(session: Session, period: Period, by: GroupBy | None, dialect: str) -> Rows:
    """key -> (label, portal median s, portal p90 s, approval median s, approval p90 s)."""
    query = _percentiles(_delays(period, by, dialect), dialect, (0.5, 0.9))
    found: dict[str, dict[str, Any]] = {}
    for key, label, measure, median, p90 in session.execute(query):
        found.setdefault(str(key), {"label": label})[measure] = (median, p90)
    empty = (None, None)
    return {
        key: (v["label"], *v.get("portal", empty), *v.get("approval", empty))
        for key, v in found.items()
    }


def histogram(session: Session, period: Period, dialect: str) -> list[tuple[str, int, int]]:
    """(measure, bin index, articles): first-post delays of the whole period in HISTOGRAM_EDGES."""
    delays = _delays(period, None, dialect)
    bin_of = case(
        *[(delays.c.seconds < _int(edge * 60), _int(i)) for i, edge in enumerate(HISTOGRAM_EDGES)],
        else_=_int(len(HISTOGRAM_EDGES)),
    )
    query = (
        select(delays.c.measure, bin_of, func.count())
        .where(delays.c.seconds.is_not(None))
        .group_by(delays.c.measure, bin_of)
    )
    return [(str(m), int(b), int(n)) for m, b, n in session.execute(query)]


def latest_snapshots(posts: Select[Any]) -> Subquery:
    """The newest value of each (post among `posts`, a select of delivery ids; metric).

    ROW_NUMBER rather than a MAX(taken_at) self-join: PostgreSQL estimates that join at one row
    and then nests loops over it (minutes on a year of history); SQLite is fine either way.
    """
    snap = MetricSnapshot
    newest = func.row_number().over(
        partition_by=(snap.delivery_id, snap.name),
        order_by=(snap.taken_at.desc(), snap.id.desc()),
    )
    ranked = (
        select(snap.delivery_id, snap.name, snap.value, newest.label("rn"))
        .where(snap.delivery_id.in_(posts))
        .subquery()
    )
    return (
        select(ranked.c.delivery_id, ranked.c.name, ranked.c.value)
        .where(ranked.c.rn == 1)
        .subquery()
    )


def _latest(period: Period) -> Subquery:
    return latest_snapshots(select(Delivery.id).where(_posted_in(period)))


def engagement(session: Session, period: Period, by: GroupBy | None) -> dict[str, dict[str, int]]:
    """key -> {metric: sum of the latest values of the group's posts published in the period}."""
    cols, key, _label = _group(by)
    latest = _latest(period)
    query = (
        _deliveries(key, latest.c.name, func.sum(latest.c.value))
        .join(latest, latest.c.delivery_id == Delivery.id)
        .group_by(*cols, latest.c.name)
    )
    found: dict[str, dict[str, int]] = {}
    for group, name, total in session.execute(query):
        found.setdefault(str(group), {})[name] = int(total)
    return found


def top_articles(session: Session, period: Period, limit: int) -> list[tuple[Any, ...]]:
    """(article id, title, source, posts, engagement) of the most engaging articles."""
    latest = _latest(period)
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
