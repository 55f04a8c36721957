"""The delivery ledger at work: claim, publish outcome, reconcile, sweep.

Exactly once rests on three rules. A worker claims a delivery with one conditional update
(scheduled -> sending); whoever loses the race does nothing. No transaction is open while the
platform is called: claim, commit, call, record. An outcome that may have posted is never retried
blindly; it is reconciled against the account first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Channel, Delivery, DeliveryAttempt, Source
from crosspost.db.session import transaction
from crosspost.domain.approval import ArticleStatus
from crosspost.domain.compose import with_utm
from crosspost.domain.delivery import DeliveryStatus, Next, after_failure
from crosspost.errors import CompositionError, PublishError
from crosspost.platforms.base import PublishedPost, Publisher, text_fingerprint
from crosspost.services import audit
from crosspost.services.compose import Templates, compose_text

WORKER = "worker"
"""The actor recorded for what workers do."""

FIRST_METRICS_POLL = timedelta(hours=1)
"""When a new post's engagement is first read (the first step of the polling ladder)."""

UNCONFIRMED_SETTLE = timedelta(seconds=5)
"""How long after a lost answer the platform gets before 'not found' is believed. The platforms
show a new post on the account's timeline at once; a delivery may lose two answers in a row and
still be within the 30 s lateness budget."""

HOLDER_SEP = "."
"""Between the holder id and the random part of a claim token."""


def claim_holder(token: str | None) -> str | None:
    """The heartbeat holder a claim token names, if any."""
    if not token or HOLDER_SEP not in token:
        return None
    return token.split(HOLDER_SEP, 1)[0]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker owns until it records the outcome."""

    delivery_id: int
    token: str
    attempt_id: int
    channel: str
    text: str
    link: str | None
    title: str = ""
    image_url: str | None = None


ClaimResult = Claim | str
"""A Claim, or why nothing is to be done (a short word for logs and tests)."""


def claim(
    factory: sessionmaker[Session],
    delivery_id: int,
    *,
    now: datetime,
    templates: Templates,
    holder: str | None = None,
) -> ClaimResult:
    """Take a due delivery for sending. Returns a reason string when there is nothing to do.

    `holder` names the claiming process's heartbeat (see `crosspost.queue.liveness`); it leads
    the claim token, so the sweep can settle the claim soon after that process died.
    """
    token = (
        secrets.token_hex(8) if holder is None else f"{holder}{HOLDER_SEP}{secrets.token_hex(8)}"
    )
    paused = select(Channel.id).where(Channel.paused_at.is_not(None))
    with transaction(factory) as session:
        won = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == DeliveryStatus.SCHEDULED,
                Delivery.due_at <= now,
                Delivery.channel_id.not_in(paused),
            )
            .values(
                status=DeliveryStatus.SENDING, claim_token=token, claimed_at=now, updated_at=now
            )
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            return _why_not(session, delivery_id, now)
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        article = session.get(Article, delivery.article_id)
        channel = session.get(Channel, delivery.channel_id)
        assert article is not None
        assert channel is not None
        if article.status != ArticleStatus.APPROVED:
            _finish(
                session,
                delivery,
                DeliveryStatus.CANCELLED,
                now,
                action="cancelled",
                note=f"article is {article.status}",
                from_state=DeliveryStatus.SCHEDULED,
            )
            return "cancelled"
        source = session.get(Source, article.source_id)
        try:
            text, link = compose_text(
                templates,
                platform=channel.platform,
                title=article.title,
                summary=article.summary,
                link=article.canonical_url,
                source_name=source.name if source else "",
                hashtags=channel.hashtags,
                utm=channel.utm,
            )
        except CompositionError as exc:
            delivery.last_error = str(exc)
            delivery.error_kind = "CompositionError"
            _finish(
                session,
                delivery,
                DeliveryStatus.FAILED,
                now,
                action="failed",
                note=str(exc),
                from_state=DeliveryStatus.SCHEDULED,
            )
            return "failed"
        delivery.attempts += 1
        delivery.text = text
        delivery.link = link
        attempt = DeliveryAttempt(delivery_id=delivery_id, started_at=now, outcome="sending")
        session.add(attempt)
        session.flush()
        return Claim(
            delivery_id,
            token,
            attempt.id,
            channel.name,
            text,
            link,
            title=article.title,
            image_url=article.image_url,
        )


def _why_not(session: Session, delivery_id: int, now: datetime) -> str:
    row = session.execute(
        select(Delivery.status, Delivery.due_at, Channel.paused_at)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if row is None:
        return "missing"
    status, due_at, paused_at = row
    if status != DeliveryStatus.SCHEDULED:
        return f"already-{status}"
    if paused_at is not None:
        return "paused"
    return "not-due" if due_at > now else "lost-race"


def record_success(
    factory: sessionmaker[Session], claim: Claim, post: PublishedPost, *, now: datetime
) -> bool:
    """Record a published post; False if the claim was no longer ours (nothing written)."""
    with transaction(factory) as session:
        delivery = _owned(session, claim)
        if delivery is None:
            return False
        delivery.post_id = post.post_id
        delivery.post_url = post.url
        delivery.published_at = post.published_at
        delivery.metrics_due_at = post.published_at + FIRST_METRICS_POLL
        delivery.last_error = None
        delivery.error_kind = None
        _close_attempt(session, claim.attempt_id, now, "published", None, None)
        _finish(
            session,
            delivery,
            DeliveryStatus.PUBLISHED,
            now,
            action="published",
            note=f"post {post.post_id} {post.url}".strip(),
            from_state=DeliveryStatus.SENDING,
        )
        return True


def record_failure(
    factory: sessionmaker[Session], claim: Claim, exc: PublishError, *, now: datetime
) -> Next | None:
    """Apply what a failed publish means (see domain.delivery.after_failure)."""
    with transaction(factory) as session:
        delivery = _owned(session, claim)
        if delivery is None:
            return None
        nxt = after_failure(exc, attempts=delivery.attempts, now=now)
        if not nxt.counted:
            delivery.attempts -= 1
        delivery.last_error = nxt.error
        delivery.error_kind = nxt.error_kind
        _close_attempt(session, claim.attempt_id, now, nxt.outcome, nxt.error, nxt.retry_at)
        if nxt.pause_channel:
            pause_channel(
                session, delivery.channel_id, reason=nxt.error or "credentials refused", now=now
            )
        if nxt.status == DeliveryStatus.SCHEDULED:
            delivery.due_at = nxt.retry_at or now
            delivery.version += 1
            delivery.status = DeliveryStatus.SCHEDULED
            delivery.claim_token = None
            delivery.updated_at = now
        else:
            _finish(
                session,
                delivery,
                nxt.status,
                now,
                action=nxt.status.value,
                note=nxt.error or "",
                from_state=DeliveryStatus.SENDING,
            )
        return nxt


def pause_channel(session: Session, channel_id: int, *, reason: str, now: datetime) -> None:
    channel = session.get(Channel, channel_id)
    if channel is None or channel.paused_at is not None:
        return
    channel.paused_at = now
    channel.paused_reason = reason
    audit.append(
        session,
        at=now,
        actor=WORKER,
        action="paused",
        subject_type="channel",
        subject_id=channel_id,
        from_state="active",
        to_state="paused",
        note=reason,
    )


@dataclass(frozen=True, slots=True)
class Reconciled:
    delivery_id: int
    outcome: str
    version: int | None = None
    due_at: datetime | None = None


def reconcile(
    factory: sessionmaker[Session],
    delivery_id: int,
    publisher_for: Callable[[str], Publisher],
    *,
    now: datetime,
    actor: str = WORKER,
    settle: timedelta = UNCONFIRMED_SETTLE,
) -> Reconciled:
    """Settle an unconfirmed delivery: published if the post is on the account, else scheduled
    again. Platform errors leave it unconfirmed for the next round."""
    with factory() as session:
        row = session.execute(
            select(Delivery, Channel.name, Channel.utm, Article.canonical_url)
            .join(Channel, Channel.id == Delivery.channel_id)
            .join(Article, Article.id == Delivery.article_id)
            .where(Delivery.id == delivery_id)
        ).first()
        if row is None:
            return Reconciled(delivery_id, "missing")
        delivery, channel_name, utm, canonical_url = row
        if delivery.status != DeliveryStatus.UNCONFIRMED:
            return Reconciled(delivery_id, f"already-{delivery.status}")
        claimed_at = delivery.claimed_at or delivery.updated_at
        # Where the text carries the link (X, Telegram, Mastodon) no separate link is stored;
        # look for the one the text carries. An empty link would match every post on the
        # account ("" is in every text) and settle the delivery on another article's post.
        link = delivery.link or with_utm(canonical_url, utm or {})
        text = delivery.text or ""
    if now - claimed_at < settle:
        return Reconciled(delivery_id, "too-early")
    try:
        found = publisher_for(channel_name).find_recent_by_link(
            link, claimed_at - timedelta(minutes=5), text_fingerprint(text) if text else None
        )
    except PublishError as exc:
        return Reconciled(delivery_id, f"lookup-failed: {exc}")
    with transaction(factory) as session:
        current = session.get(Delivery, delivery_id, with_for_update=True)
        if current is None or current.status != DeliveryStatus.UNCONFIRMED:
            return Reconciled(delivery_id, "changed-meanwhile")
        if found:
            post = min(found, key=lambda p: p.published_at)
            current.post_id = post.post_id
            current.post_url = post.url
            current.published_at = post.published_at
            current.metrics_due_at = post.published_at + FIRST_METRICS_POLL
            _finish(
                session,
                current,
                DeliveryStatus.PUBLISHED,
                now,
                action="published",
                note=f"found on the account after an unknown outcome: post {post.post_id}",
                from_state=DeliveryStatus.UNCONFIRMED,
                actor=actor,
            )
            return Reconciled(delivery_id, "published")
        current.status = DeliveryStatus.SCHEDULED
        current.due_at = now
        current.version += 1
        current.updated_at = now
        audit.append(
            session,
            at=now,
            actor=actor,
            action="rescheduled",
            subject_type="delivery",
            subject_id=delivery_id,
            from_state=DeliveryStatus.UNCONFIRMED,
            to_state=DeliveryStatus.SCHEDULED,
            note="not found on the account",
        )
        return Reconciled(delivery_id, "rescheduled", current.version, now)


def _owned(session: Session, claim: Claim) -> Delivery | None:
    delivery = session.get(Delivery, claim.delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DeliveryStatus.SENDING:
        return None
    if delivery.claim_token != claim.token:
        return None
    return delivery


def _close_attempt(
    session: Session,
    attempt_id: int,
    now: datetime,
    outcome: str,
    error: str | None,
    retry_at: datetime | None,
) -> None:
    attempt = session.get(DeliveryAttempt, attempt_id)
    if attempt is not None:
        attempt.finished_at = now
        attempt.outcome = outcome
        attempt.error = error
        attempt.retry_at = retry_at


def _finish(
    session: Session,
    delivery: Delivery,
    status: DeliveryStatus,
    now: datetime,
    *,
    action: str,
    note: str,
    from_state: DeliveryStatus,
    actor: str = WORKER,
) -> None:
    delivery.status = status
    delivery.updated_at = now
    delivery.claim_token = None
    audit.append(
        session,
        at=now,
        actor=actor,
        action=action,
        subject_type="delivery",
        subject_id=delivery.id,
        from_state=from_state,
        to_state=status,
        note=note,
    )
