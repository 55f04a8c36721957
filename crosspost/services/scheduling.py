"""Putting approved articles on channels' calendars, and managing what is scheduled.

The database is the schedule. These functions write delivery rows (all or none) and return what
the caller must hand to the queue after the commit; the queue adapter never decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Channel, Delivery, Source
from crosspost.db.session import transaction
from crosspost.domain.approval import ArticleStatus
from crosspost.domain.delivery import LIVE, DeliveryStatus
from crosspost.domain.slots import check_not_past, into_hours, next_free_slot, urgent_time
from crosspost.errors import InvalidInput, InvalidTransition, NotFound
from crosspost.services import audit


@dataclass(frozen=True, slots=True)
class Planned:
    """A delivery that was (re)scheduled: what the queue needs after the commit."""

    delivery_id: int
    version: int
    channel: str
    timezone: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class When:
    """How to pick the time: the next free slot (neither set), a given instant, or now."""

    at: datetime | None = None
    now: bool = False


def channel_names(session: Session, spec: Sequence[str]) -> list[Channel]:
    """Channels by name; `all` means every enabled channel. Unknown names are refused."""
    if list(spec) == ["all"]:
        rows = list(session.scalars(select(Channel).where(Channel.enabled).order_by(Channel.name)))
        if not rows:
            raise InvalidInput("there are no channels: add one with `crosspost channels add`")
        return rows
    found = {c.name: c for c in session.scalars(select(Channel).where(Channel.name.in_(spec)))}
    missing = [name for name in spec if name not in found]
    if missing:
        raise NotFound(f"no channel named {missing[0]!r}")
    return [found[name] for name in dict.fromkeys(spec)]


def channel_zones(factory: sessionmaker[Session], spec: Sequence[str]) -> dict[str, str]:
    """Channel name -> IANA zone, for the channels `spec` names (`all` included)."""
    with factory() as session:
        return {c.name: c.timezone for c in channel_names(session, spec)}


def schedule_article(
    factory: sessionmaker[Session],
    article_id: int,
    channels: Sequence[str],
    when: When,
    *,
    actor: str,
    now: datetime,
) -> list[Planned]:
    """Schedule an approved article on channels; all or none.

    With `channels == ["all"]`, channels already carrying the article are skipped; a channel named
    explicitly that already has a live or published delivery of it is an error.
    """
    if not channels:
        raise InvalidInput("give --channels (names separated by commas, or all)")
    planned: list[Planned] = []
    with transaction(factory) as session:
        # Locked: a withdrawal committing between this check and the insert below would leave a
        # scheduled delivery of an article that is no longer approved.
        article = session.get(Article, article_id, with_for_update=True)
        if article is None:
            raise NotFound(f"no article with id {article_id}")
        if article.status != ArticleStatus.APPROVED:
            raise InvalidTransition(
                f"article {article_id} is {article.status}; only approved articles are scheduled"
            )
        skip_existing = list(channels) == ["all"]
        for channel in channel_names(session, channels):
            existing = session.scalar(
                select(Delivery).where(
                    Delivery.article_id == article_id, Delivery.channel_id == channel.id
                )
            )
            if existing is not None and existing.status not in (
                DeliveryStatus.CANCELLED,
                DeliveryStatus.FAILED,
            ):
                if skip_existing:
                    continue
                raise InvalidInput(
                    f"article {article_id} is already {existing.status} on {channel.name} "
                    f"(delivery {existing.id})"
                )
            due = _pick_time(session, channel, when, now)
            planned.append(_put(session, article_id, channel, existing, due, when.now, actor, now))
    return planned


def _pick_time(session: Session, channel: Channel, when: When, now: datetime) -> datetime:
    due = _pick_time_any_hour(session, channel, when, now)
    hours = allowed_hours(channel.platform, channel.options)
    if hours is None:
        return due
    moved = into_hours(due, hours, BROADCAST_ZONE)
    if moved == due:
        return due
    # Moved to the morning: keep the channel's gap from what is already due then.
    gap = timedelta(seconds=channel.min_gap_seconds)
    return urgent_time(now=moved, taken=taken_times(session, channel.id), min_gap=gap)


BROADCAST_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
"""Zalo counts its broadcast hours in Vietnam's time, whatever the channel's zone."""


def allowed_hours(platform: str, options: Mapping[str, str]) -> tuple[time, time] | None:
    """The daily hours a channel's posts may go out in, when its platform restricts them: a
    Zalo channel that broadcasts (Zalo refuses broadcasts at night)."""
    if platform != "zalo" or not options.get("broadcast"):
        return None
    from crosspost.platforms.zalo import DEFAULT_BROADCAST_HOURS, parse_hours

    return parse_hours(options.get("broadcast_hours") or DEFAULT_BROADCAST_HOURS)


def _pick_time_any_hour(session: Session, channel: Channel, when: When, now: datetime) -> datetime:
    taken = taken_times(session, channel.id)
    gap = timedelta(seconds=channel.min_gap_seconds)
    if when.now:
        return urgent_time(now=now, taken=taken, min_gap=gap)
    if when.at is not None:
        check_not_past(when.at, now, zone=ZoneInfo(channel.timezone))
        return when.at
    return next_free_slot(
        now=now,
        zone=ZoneInfo(channel.timezone),
        slots=[time.fromisoformat(s) for s in channel.slots],
        taken=taken,
        min_gap=gap,
    )


def taken_times(session: Session, channel_id: int) -> list[datetime]:
    """Due times of the channel's live deliveries and recent posts (for slots and gaps)."""
    rows = session.execute(
        select(Delivery.due_at, Delivery.published_at, Delivery.status).where(
            Delivery.channel_id == channel_id,
            Delivery.status.in_([*LIVE, DeliveryStatus.PUBLISHED]),
        )
    ).all()
    return [published or due for due, published, _ in rows]


def _put(
    session: Session,
    article_id: int,
    channel: Channel,
    existing: Delivery | None,
    due: datetime,
    urgent: bool,
    actor: str,
    now: datetime,
) -> Planned:
    if existing is None:
        delivery = Delivery(
            article_id=article_id,
            channel_id=channel.id,
            status=DeliveryStatus.SCHEDULED,
            due_at=due,
            urgent=urgent,
            version=1,
            attempts=0,
            created_at=now,
            updated_at=now,
            scheduled_by=actor,
        )
        session.add(delivery)
        session.flush()
        before = None
    else:
        delivery = existing
        before = delivery.status
        delivery.status = DeliveryStatus.SCHEDULED
        delivery.due_at = due
        delivery.urgent = urgent
        delivery.version += 1
        delivery.attempts = 0
        delivery.updated_at = now
        delivery.scheduled_by = actor
        delivery.last_error = None
        delivery.error_kind = None
    audit.append(
        session,
        at=now,
        actor=actor,
        action="scheduled",
        subject_type="delivery",
        subject_id=delivery.id,
        from_state=before,
        to_state=DeliveryStatus.SCHEDULED,
        note=f"article {article_id} on {channel.name} at {due.isoformat()}"
        + (" (urgent)" if urgent else ""),
    )
    return Planned(delivery.id, delivery.version, channel.name, channel.timezone, due)


def auto_schedule(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    actor: str = "rule:auto-schedule",
    configured: Mapping[str, Sequence[str]] | None = None,
) -> list[Planned]:
    """Put approved, not yet scheduled articles of each channel's auto-schedule sources into
    that channel's next free slots. Only articles approved after the channel was created count,
    so adding a channel does not flood it with the archive."""
    planned: list[Planned] = []
    with transaction(factory) as session:
        channels = session.scalars(
            select(Channel).where(Channel.enabled).order_by(Channel.name)
        ).all()
        for channel in channels:
            sources = {*channel.auto_schedule, *(configured or {}).get(channel.name, ())}
            if not sources:
                continue
            candidates = session.scalars(
                select(Article)
                .join(Source, Source.id == Article.source_id)
                .where(
                    Article.status == ArticleStatus.APPROVED,
                    Source.name.in_(sorted(sources)),
                    Article.first_seen_at >= channel.created_at,
                    ~select(Delivery.id)
                    .where(Delivery.article_id == Article.id, Delivery.channel_id == channel.id)
                    .exists(),
                )
                .order_by(Article.published_at, Article.id)
            ).all()
            for article in candidates:
                due = _pick_time(session, channel, When(), now)
                planned.append(_put(session, article.id, channel, None, due, False, actor, now))
    return planned


def cancel_delivery(
    factory: sessionmaker[Session], delivery_id: int, *, actor: str, now: datetime, note: str = ""
) -> None:
    """Cancel a scheduled (or unconfirmed-and-not-found) delivery; a sent one cannot be."""
    with transaction(factory) as session:
        delivery = session.get(Delivery, delivery_id, with_for_update=True)
        if delivery is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        if delivery.status != DeliveryStatus.SCHEDULED:
            raise InvalidTransition(
                f"delivery {delivery_id} is {delivery.status}; only a scheduled delivery can be "
                "cancelled"
            )
        cancel_in_session(session, delivery, actor=actor, now=now, note=note or "cancelled")


def cancel_in_session(
    session: Session, delivery: Delivery, *, actor: str, now: datetime, note: str
) -> None:
    before = delivery.status
    delivery.status = DeliveryStatus.CANCELLED
    delivery.updated_at = now
    audit.append(
        session,
        at=now,
        actor=actor,
        action="cancelled",
        subject_type="delivery",
        subject_id=delivery.id,
        from_state=before,
        to_state=DeliveryStatus.CANCELLED,
        note=note,
    )


def retry_delivery(
    factory: sessionmaker[Session], delivery_id: int, *, actor: str, now: datetime
) -> Planned:
    """Send a failed or cancelled delivery again, now; never touches the article's others."""
    with transaction(factory) as session:
        delivery = session.get(Delivery, delivery_id, with_for_update=True)
        if delivery is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        if delivery.status not in (DeliveryStatus.FAILED, DeliveryStatus.CANCELLED):
            raise InvalidTransition(
                f"delivery {delivery_id} is {delivery.status}; only a failed or cancelled "
                "delivery can be retried"
            )
        article = session.get(Article, delivery.article_id)
        if article is None or article.status != ArticleStatus.APPROVED:
            raise InvalidTransition(
                f"article {delivery.article_id} is no longer approved; approve it first"
            )
        channel = session.get(Channel, delivery.channel_id)
        assert channel is not None
        return _put(session, delivery.article_id, channel, delivery, now, True, actor, now)


def cancel_for_article(
    session: Session, article_id: int, *, actor: str, now: datetime, reason: str
) -> int:
    """Cancel an article's scheduled deliveries (on withdrawal or rejection); returns how many."""
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.article_id == article_id, Delivery.status == DeliveryStatus.SCHEDULED)
        .with_for_update()
    ).all()
    for delivery in rows:
        cancel_in_session(session, delivery, actor=actor, now=now, note=reason)
    return len(rows)


def is_published(session: Session, article_id: int) -> bool:
    """Whether any channel carries the article already (then it can no longer be withdrawn)."""
    return (
        session.scalar(
            select(Delivery.id)
            .where(
                Delivery.article_id == article_id,
                Delivery.status.in_(
                    [DeliveryStatus.PUBLISHED, DeliveryStatus.SENDING, DeliveryStatus.UNCONFIRMED]
                ),
            )
            .limit(1)
        )
        is not None
    )
