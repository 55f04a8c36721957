"""The database tables, as typed SQLAlchemy 2.0 models.

Every schema change here needs an Alembic migration in `migrations/versions/`
(`tests/integration/test_migrations.py` fails when the two disagree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crosspost.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Source(Base):
    """A portal feed that crosspost polls."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_minutes: Mapped[int | None] = mapped_column(Integer)
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    # Conditional GET validators from the last successful fetch.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # The outcome of the last run, shown by `sources list`.
    last_run_at: Mapped[datetime | None]
    last_run_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    articles_created: Mapped[int] = mapped_column(Integer, default=0)
    revisions_recorded: Mapped[int] = mapped_column(Integer, default=0)


class Article(Base):
    """One portal article, however many feeds carry it (one row per canonical URL)."""

    __tablename__ = "articles"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    link: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    published_at: Mapped[datetime] = mapped_column(index=True)
    # True when the feed gave no usable date and published_at is the first-seen time.
    published_at_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The article's picture as its feed gave it (media:content, an enclosure, the first <img>):
    # a Zalo article's cover. Not fetched by crosspost; the platform fetches it.
    image_url: Mapped[str | None] = mapped_column(Text)


class SourceItem(Base):
    """One feed item of one source, pointing at the article it carries."""

    __tablename__ = "source_items"
    __table_args__ = (UniqueConstraint("source_id", "guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    guid: Mapped[str] = mapped_column(String(2048))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class ArticleRevision(Base):
    """Each version of an article's title and summary, as feeds carried it (1 = first seen)."""

    __tablename__ = "article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    recorded_at: Mapped[datetime]


class AuditEntry(Base):
    """One append-only, hash-chained record of a decision or change of state."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's newest sequence number and hash (one row): deleting the last entry shows."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Channel(Base):
    """One account on one platform that crosspost publishes to.

    Credentials are never stored: `credentials_env` maps each credential name to the environment
    variable that holds it.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64))
    api_base: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    credentials_env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    utm: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    template: Mapped[str | None] = mapped_column(String(200))
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_check_at: Mapped[datetime | None]
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_check_error: Mapped[str | None] = mapped_column(Text)
    account_name: Mapped[str | None] = mapped_column(String(200))
    # Scheduling: daily wall-time slots ("07:30") in `timezone`, and the least time between posts.
    slots: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_gap_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Sources whose approved articles go into this channel's next free slot by themselves.
    auto_schedule: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when the platform refused the credentials; deliveries wait until a check passes.
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)


class ChannelToken(Base):
    """OAuth tokens a platform issued to a channel (Zalo: a 25-hour access token and the
    single-use refresh token that replaces itself on every refresh).

    The tokens are encrypted (Fernet, `crosspost.services.tokens`); only their expiry times and
    a digest of the refresh token the officer configured are readable.
    """

    __tablename__ = "channel_tokens"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime]
    seeded_from: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime]
    refreshes: Mapped[int] = mapped_column(Integer, default=0)


class Delivery(Base):
    """One article on one channel: the ledger row that makes publishing happen exactly once.

    States: scheduled -> sending -> published | failed | unconfirmed; cancelled. `version` grows
    each time the delivery is (re)scheduled and is part of its RQ job id, so enqueueing the same
    version twice is a no-op while a rescheduled delivery gets a fresh job.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("article_id", "channel_id"),
        Index(None, "status", "due_at"),
        Index(None, "channel_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    scheduled_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    post_id: Mapped[str | None] = mapped_column(String(200))
    post_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    # Engagement polling of a published post: when it is next due (None: not polled any more),
    # and when the platform said the post no longer exists.
    metrics_due_at: Mapped[datetime | None] = mapped_column(index=True)
    post_deleted_at: Mapped[datetime | None]


class MetricSnapshot(Base):
    """One engagement figure of one published post at one time; appended, never overwritten."""

    __tablename__ = "metric_snapshots"
    # Covering: the latest reading of each post is read from the index alone (reports).
    __table_args__ = (Index(None, "delivery_id", "name", "taken_at", "id", "value"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    taken_at: Mapped[datetime] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(BigInteger)


class DeliveryAttempt(Base):
    """One try at publishing a delivery, whatever came of it."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index(None, "delivery_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]
