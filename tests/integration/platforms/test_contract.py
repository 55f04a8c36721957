"""The one contract every platform adapter keeps, run against each through the sandbox.

The assertions are shared; each platform's `Kit` (conftest.py) brings its wire bodies.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from crosspost.errors import (
    CredentialsInvalid,
    Duplicate,
    OutcomeUnknown,
    PermissionDenied,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
    TooLong,
)
from crosspost.platforms import facebook, mastodon, telegram, x, zalo
from crosspost.platforms.base import OutgoingPost, Publisher, text_fingerprint
from crosspost.platforms.registry import PLATFORMS
from crosspost.sandbox import Sandbox

from .conftest import KITS, Kit

LINK = "https://moh.gov.vn/tin-tuc/thong-bao-tiem-chung-2025"
POST = OutgoingPost(f"Thông báo của Bộ Y tế về việc tiêm chủng mở rộng {LINK}", LINK)
DEFAULT_BACKOFF = {
    "x": x.DEFAULT_RATE_LIMIT_BACKOFF,
    "facebook": facebook.DEFAULT_RATE_LIMIT_BACKOFF,
    "telegram": telegram.DEFAULT_RATE_LIMIT_BACKOFF,
    "mastodon": mastodon.DEFAULT_RATE_LIMIT_BACKOFF,
    "zalo": zalo.DEFAULT_RATE_LIMIT_BACKOFF,
}
AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


E = TypeVar("E", bound=PublishError)


def publish_fails(publisher: Publisher, error: type[E]) -> E:
    with pytest.raises(error) as caught:
        publisher.publish(POST)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    return caught.value


def test_every_registered_platform_runs_this_contract() -> None:
    assert set(PLATFORMS) == set(KITS)


def test_publish_is_recorded_exactly(kit: Kit, sandbox: Sandbox) -> None:
    published = kit.publisher(sandbox).publish(POST)

    [post] = sandbox.posts(kit.name)
    assert post.text == POST.text
    assert post.link == LINK
    assert published.post_id == post.id
    assert abs((published.published_at - post.created_at).total_seconds()) < 2
    assert published.url.startswith("https://")


def test_duplicate_is_rejected_once_posted(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    first = publisher.publish(POST)
    if not kit.rejects_duplicates:  # no duplicate check: the same text is a second post
        assert publisher.publish(POST).post_id != first.post_id
        assert len(sandbox.posts(kit.name)) == 2
        return

    error = publish_fails(publisher, Duplicate)

    assert error.platform == kit.name
    assert len(sandbox.posts(kit.name)) == 1


def test_text_over_the_limit_is_too_long(kit: Kit, sandbox: Sandbox) -> None:
    with pytest.raises(TooLong):
        kit.publisher(sandbox).publish(OutgoingPost(kit.too_long_text))
    assert sandbox.posts(kit.name) == []


def test_too_long_answered_as_forbidden_is_still_too_long(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject(**kit.create, **kit.wire("too_long_forbidden"))
    publish_fails(kit.publisher(sandbox), TooLong)


def test_invalid_request_is_rejected(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject(**kit.create, **kit.wire("invalid_request"))
    error = publish_fails(kit.publisher(sandbox), Rejected)
    assert error.code


def test_missing_permission(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject(**kit.create, **kit.wire("permission_denied"))
    publish_fails(kit.publisher(sandbox), PermissionDenied)


def test_throttled_with_reset_waits_until_reset(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject(**kit.create, **kit.rate_limit_with_reset)

    error = publish_fails(kit.publisher(sandbox), RateLimited)

    assert error.retry_after is not None
    assert 100 <= error.retry_after <= 121
    assert sandbox.posts(kit.name) == []


def test_throttled_without_reset_backs_off_without_looping(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject(**kit.create, **kit.wire("rate_limited_no_reset"))

    error = publish_fails(kit.publisher(sandbox), RateLimited)

    assert error.retry_after == DEFAULT_BACKOFF[kit.name]
    creates = sandbox.requests(kit.name, method="POST", path=kit.create["path"])
    assert len(creates) == 1  # the SDK did not retry on its own


def test_per_account_limit_of_the_sandbox(kit: Kit, sandbox: Sandbox) -> None:
    key, calls = kit.limit
    sandbox.set_limit(key, calls, 900)
    publisher = kit.publisher(sandbox)
    publisher.publish(POST)

    with pytest.raises(RateLimited) as caught:
        publisher.publish(OutgoingPost("Một bài khác", "https://moh.gov.vn/khac"))

    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0
    assert len(sandbox.posts(kit.name)) == 1


@pytest.mark.parametrize("wire", ["server_error", "server_error_no_error_key"])
def test_server_error_on_create_is_outcome_unknown(kit: Kit, sandbox: Sandbox, wire: str) -> None:
    sandbox.inject(**kit.create, **kit.wire(wire))
    publish_fails(kit.publisher(sandbox), OutcomeUnknown)


@pytest.mark.parametrize("wire", ["server_error", "server_error_no_error_key"])
def test_server_error_on_read_is_retry_later(kit: Kit, sandbox: Sandbox, wire: str) -> None:
    sandbox.inject(**kit.read, **kit.wire(wire))
    with pytest.raises(RetryLater) as caught:
        kit.publisher(sandbox).check_credentials()
    assert not isinstance(caught.value, RateLimited)


def test_html_502_on_create_is_outcome_unknown(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject("html_502", **kit.create)
    error = publish_fails(kit.publisher(sandbox), OutcomeUnknown)
    assert "502" in str(error)


def test_html_502_on_read_is_retry_later(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject("html_502", **kit.read)
    with pytest.raises(RetryLater):
        kit.publisher(sandbox).check_credentials()


def test_expired_token(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    sandbox.revoke(kit.name, kit.account)

    publish_fails(publisher, CredentialsInvalid)
    with pytest.raises(CredentialsInvalid):
        publisher.check_credentials()
    assert sandbox.posts(kit.name) == []


def test_check_credentials_good(kit: Kit, sandbox: Sandbox) -> None:
    account = kit.publisher(sandbox).check_credentials()

    assert account.account_id == kit.account
    assert account.name
    assert sandbox.posts(kit.name) == []


def test_check_credentials_wrong_token(kit: Kit, sandbox: Sandbox) -> None:
    wrong = {name: value + "-wrong" for name, value in kit.credentials.items()}
    with pytest.raises(CredentialsInvalid):
        kit.publisher(sandbox, credentials=wrong).check_credentials()


def test_connection_refused_is_retry_later(kit: Kit, closed_port: int) -> None:
    publisher = kit.publisher(None, api_base=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RetryLater) as caught:
        publisher.publish(POST)
    assert not isinstance(caught.value, RateLimited)


def test_connect_timeout_is_retry_later(kit: Kit, full_backlog_port: int) -> None:
    publisher = kit.publisher(None, api_base=f"http://127.0.0.1:{full_backlog_port}", timeout=0.2)
    with pytest.raises(RetryLater) as caught:
        publisher.publish(POST)
    assert "timeout" in str(caught.value)


def test_read_timeout_after_send_is_outcome_unknown(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject("delay", delay=1.5, **kit.create)

    publish_fails(kit.publisher(sandbox), OutcomeUnknown)

    [post] = sandbox.posts(kit.name)
    assert post.text == POST.text


def test_read_timeout_on_read_is_retry_later(kit: Kit, sandbox: Sandbox) -> None:
    sandbox.inject("delay", delay=1.5, **kit.read)
    with pytest.raises(RetryLater):
        kit.publisher(sandbox).check_credentials()


def test_dropped_answer_is_outcome_unknown_and_reconcilable(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    sandbox.inject("drop", **kit.create)

    publish_fails(publisher, OutcomeUnknown)

    [post] = sandbox.posts(kit.name)
    found = publisher.find_recent_by_link(LINK, AN_HOUR_AGO)
    assert [p.post_id for p in found] == ([post.id] if kit.reads_back else [])


def test_find_recent_by_text_fingerprint(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    text = "Lịch tiếp công dân tháng 6 của Ủy ban nhân dân tỉnh"
    publisher.publish(OutgoingPost(text))
    publisher.publish(POST)

    found = publisher.find_recent_by_link(
        "https://example.gov.vn/none", AN_HOUR_AGO, text_fingerprint(text)
    )

    assert [p.text for p in found] == ([text] if kit.reads_back else [])
    assert publisher.find_recent_by_link("https://example.gov.vn/none", AN_HOUR_AGO) == []


def test_fetch_metrics_in_minimal_calls_and_growing(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    posted = [
        publisher.publish(OutgoingPost(f"Bản tin số {n}", f"https://moh.gov.vn/tin/{n}")).post_id
        for n in range(3)
    ]
    prefix = posted[0].rsplit("_", 1)[0] + "_" if "_" in posted[0] else ""
    gone = [f"{prefix}{900000 + n}" for n in range(2 * kit.metrics_batch + 5 - len(posted))]
    ids = posted + gone
    sandbox.advance(600)
    before = len([r for r in sandbox.requests(kit.name) if kit.is_metrics_call(r)])
    if not kit.has_metrics:  # nothing to read: every post "not available", without a call
        seen = len(sandbox.requests(kit.name))
        assert publisher.fetch_metrics(ids).unavailable == frozenset(ids)
        assert len(sandbox.requests(kit.name)) == seen
        return

    first = publisher.fetch_metrics(ids)

    calls = [r for r in sandbox.requests(kit.name) if kit.is_metrics_call(r)]
    # Zalo has no lookup by id: its minimum is one page of the OA's article list per 10.
    read = len(posted) if kit.metrics_by_listing else len(ids)
    assert len(calls) - before == math.ceil(read / kit.metrics_batch)
    assert set(first.metrics) == set(posted)
    assert first.deleted == frozenset(gone)
    for numbers in first.metrics.values():
        assert set(numbers) >= kit.metric_names

    sandbox.advance(3600)
    later = publisher.fetch_metrics(posted)
    growing = "likes" if "likes" in kit.metric_names else "views"
    for post_id in posted:
        assert later.metrics[post_id][growing] > first.metrics[post_id][growing]


def test_deleted_post_is_reported_deleted(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    kept = publisher.publish(POST).post_id
    removed = publisher.publish(OutgoingPost("Tin đã gỡ", "https://moh.gov.vn/go")).post_id

    publisher.delete(removed)
    publisher.delete(removed)  # already gone: not an error

    result = publisher.fetch_metrics([kept, removed])
    if kit.has_metrics:
        assert set(result.metrics) == {kept}
        assert result.deleted == frozenset({removed})
    else:
        assert result.unavailable == frozenset({kept, removed})
    assert [p.deleted for p in sandbox.posts(kit.name)] == [False, True]


def test_telegram_flood_control_waits_retry_after(sandbox: Sandbox) -> None:
    kit = KITS["telegram"]
    sandbox.inject(**kit.create, **kit.wire("rate_limited"))

    error = publish_fails(kit.publisher(sandbox), RateLimited)

    assert error.retry_after == 5
    assert sandbox.posts("telegram") == []


def test_telegram_never_shows_its_token_in_the_request_log(sandbox: Sandbox) -> None:
    kit = KITS["telegram"]
    kit.publisher(sandbox).publish(POST)

    paths = [r.path for r in sandbox.requests("telegram")]
    assert paths == ["/bot<token>/sendMessage"]


def test_mastodon_retry_after_a_lost_answer_returns_the_same_status(sandbox: Sandbox) -> None:
    kit = KITS["mastodon"]
    publisher = kit.publisher(sandbox)
    post = OutgoingPost(POST.text, LINK, idempotency_key="crosspost-delivery-42")
    sandbox.inject("drop", **kit.create)

    with pytest.raises(OutcomeUnknown):
        publisher.publish(post)
    again = publisher.publish(post)

    [status] = sandbox.posts("mastodon")
    assert again.post_id == status.id
    assert len(sandbox.requests("mastodon", method="POST", path=kit.create["path"])) == 2


def test_mastodon_key_is_remembered_for_an_hour_only(sandbox: Sandbox) -> None:
    publisher = KITS["mastodon"].publisher(sandbox)
    post = OutgoingPost(POST.text, LINK, idempotency_key="crosspost-delivery-43")
    first = publisher.publish(post)
    assert publisher.publish(post).post_id == first.post_id

    sandbox.advance(3601)

    assert publisher.publish(post).post_id != first.post_id
    assert len(sandbox.posts("mastodon")) == 2


def test_mastodon_counts_graphemes_and_urls_as_23(sandbox: Sandbox) -> None:
    publisher = KITS["mastodon"].publisher(sandbox)
    long_link = "https://moh.gov.vn/" + "a" * 300
    text = "Thông báo 👍🏽 " + "ệ" * 450 + " " + long_link  # 11 + 450 + 1 + 23 = 485

    published = publisher.publish(OutgoingPost(text, long_link))

    assert published.post_id
    with pytest.raises(TooLong):
        publisher.publish(OutgoingPost(text + " " + "ệ" * 20))


def test_an_empty_link_matches_no_post(kit: Kit, sandbox: Sandbox) -> None:
    publisher = kit.publisher(sandbox)
    publisher.publish(POST)

    assert publisher.find_recent_by_link("", AN_HOUR_AGO) == []
    assert publisher.find_recent_by_link("  ", AN_HOUR_AGO) == []
