"""Zalo OA beyond the shared contract: create → verify, rotating tokens, broadcast hours.

Everything runs over HTTP against the sandbox's fake Zalo (`crosspost.sandbox.zalo_api`).
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from crosspost.errors import CredentialsInvalid, OutcomeUnknown, RateLimited
from crosspost.platforms.base import MemoryTokenStore, OutgoingPost, Secret
from crosspost.platforms.zalo import ZaloPublisher
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_ZALO_OA

from .conftest import KITS

KIT = KITS["zalo"]
LINK = "https://chinhphu.vn/thong-cao-bao-chi-123"
POST = OutgoingPost(
    "Chính phủ họp phiên thường kỳ tháng 11, bàn các giải pháp thúc đẩy tăng trưởng.",
    LINK,
    title="Phiên họp Chính phủ thường kỳ tháng 11/2026",
)
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def token_calls(sandbox: Sandbox) -> int:
    return len(sandbox.requests("zalo", path="/v4/oa/access_token"))


def direct(sandbox: Sandbox, store: MemoryTokenStore, **kwargs: object) -> ZaloPublisher:
    """The adapter built by hand, for a clock of the test's choosing."""
    return ZaloPublisher(
        requests.Session(),
        api_base=sandbox.zalo_api_base,
        oauth_base=sandbox.zalo_api_base,
        oa_id=DEMO_ZALO_OA.oa_id,
        app_id=DEMO_ZALO_OA.app_id,
        app_secret=Secret(DEMO_ZALO_OA.app_secret),
        refresh_seed=Secret(DEMO_ZALO_OA.refresh_token),
        store=store,
        cover_url="https://chinhphu.vn/cover.jpg",
        **kwargs,  # type: ignore[arg-type]
    )


def vietnam_time(hour: int, minute: int = 0) -> datetime:
    today = datetime.now(VIETNAM)
    return today.replace(hour=hour, minute=minute, second=0, microsecond=0).astimezone(UTC)


def move_sandbox_to(sandbox: Sandbox, moment: datetime) -> None:
    sandbox.advance((moment - sandbox.state.now_dt()).total_seconds())


def test_article_is_verified_with_backoff_not_recreated(sandbox: Sandbox) -> None:
    sandbox.set_zalo_processing(4)

    published = KIT.publisher(sandbox).publish(POST)

    [article] = sandbox.posts("zalo")
    assert published.post_id == article.id
    assert article.title == POST.title
    assert article.text == POST.text
    assert len(sandbox.requests("zalo", path="/article/create")) == 1
    assert len(sandbox.requests("zalo", path="/article/verify")) == 5
    verifies = [r.at for r in sandbox.requests("zalo", path="/article/verify")]
    gaps = [b - a for a, b in itertools.pairwise(verifies)]
    assert gaps == sorted(gaps)  # waits grow: backoff, not a busy loop
    assert gaps[0] >= 0.4


def test_article_still_processing_after_the_budget_is_settled_by_reading_back(
    sandbox: Sandbox,
) -> None:
    sandbox.set_zalo_processing(1000)
    publisher = KIT.publisher(sandbox, options={"verify_timeout": "1.5"})

    with pytest.raises(OutcomeUnknown, match="not confirmed"):
        publisher.publish(POST)

    [article] = sandbox.posts("zalo")
    assert len(sandbox.requests("zalo", path="/article/create")) == 1
    found = publisher.find_recent_by_link(LINK, AN_HOUR_AGO)
    assert [p.post_id for p in found] == [article.id]


def test_expired_access_token_is_refreshed_and_the_refresh_token_rotates(
    sandbox: Sandbox,
) -> None:
    store = MemoryTokenStore()
    publisher = KIT.publisher(sandbox)
    publisher.publish(POST)
    first = KIT.connection(sandbox).token_store.load()  # type: ignore[union-attr]
    assert first is not None
    assert token_calls(sandbox) == 1

    sandbox.advance(25 * 3600 + 60)  # Zalo access tokens live 25 hours
    publisher.publish(OutgoingPost("Bản tin thứ hai", "https://chinhphu.vn/b", title="Hai"))

    second = KIT.connection(sandbox).token_store.load()  # type: ignore[union-attr]
    assert second is not None
    assert token_calls(sandbox) == 2
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert len(sandbox.posts("zalo")) == 2
    # The spent refresh token is refused: the rotation had to be stored to keep working.
    spent = direct(sandbox, store)
    with pytest.raises(CredentialsInvalid, match="refresh token was refused"):
        spent.check_credentials()


def test_token_refused_early_is_refreshed_once_and_the_call_repeated(sandbox: Sandbox) -> None:
    publisher = KIT.publisher(sandbox)
    publisher.check_credentials()
    with sandbox.state.lock():
        sandbox.state.zalo_oas[0].access_tokens.clear()  # Zalo dropped the token (-216)

    publisher.publish(POST)

    assert token_calls(sandbox) == 2
    assert len(sandbox.posts("zalo")) == 1
    assert len(sandbox.requests("zalo", path="/article/create")) == 2  # refused, then made


def test_workers_sharing_the_store_refresh_once(sandbox: Sandbox) -> None:
    store = MemoryTokenStore()
    one, two = direct(sandbox, store), direct(sandbox, store)

    one.check_credentials()
    two.check_credentials()
    two.publish(POST)

    assert token_calls(sandbox) == 1


def test_a_new_refresh_token_from_the_officer_replaces_the_stored_chain(
    sandbox: Sandbox,
) -> None:
    store = MemoryTokenStore()
    direct(sandbox, store).check_credentials()
    # The officer authorises the OA again: Zalo issues a new chain, the variable is updated.
    with sandbox.state.lock():
        sandbox.state.zalo_oas[0].refresh_token = "officer-reauthorised"
    renewed = ZaloPublisher(
        requests.Session(),
        api_base=sandbox.zalo_api_base,
        oauth_base=sandbox.zalo_api_base,
        oa_id=DEMO_ZALO_OA.oa_id,
        app_id=DEMO_ZALO_OA.app_id,
        app_secret=Secret(DEMO_ZALO_OA.app_secret),
        refresh_seed=Secret("officer-reauthorised"),
        store=store,
    )

    assert renewed.check_credentials().account_id == DEMO_ZALO_OA.oa_id
    assert token_calls(sandbox) == 2


def test_broadcast_at_night_waits_for_the_morning_without_creating(sandbox: Sandbox) -> None:
    night = vietnam_time(23, 30)
    publisher = direct(sandbox, MemoryTokenStore(), broadcast=True, clock=lambda: night)

    with pytest.raises(RateLimited, match="broadcasts are refused") as caught:
        publisher.publish(POST)

    assert caught.value.retry_after == pytest.approx(6.5 * 3600)
    assert sandbox.requests("zalo") == []


def test_broadcast_in_the_day_reaches_followers(sandbox: Sandbox) -> None:
    noon = vietnam_time(12)
    move_sandbox_to(sandbox, noon)
    publisher = direct(sandbox, MemoryTokenStore(), broadcast=True, clock=lambda: noon)

    publisher.publish(POST)

    [article] = sandbox.posts("zalo")
    assert article.broadcasts == 1


def test_broadcast_refused_by_zalo_keeps_the_article_and_says_so(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    move_sandbox_to(sandbox, vietnam_time(23))  # Zalo's clock says night, ours says day
    noon = vietnam_time(12)
    publisher = direct(sandbox, MemoryTokenStore(), broadcast=True, clock=lambda: noon)

    with caplog.at_level(logging.WARNING, logger="crosspost.platforms.zalo"):
        published = publisher.publish(POST)

    [article] = sandbox.posts("zalo")
    assert published.post_id == article.id
    assert article.broadcasts == 0
    assert "broadcast failed" in caplog.text
    assert "-234" in caplog.text


def test_article_without_a_cover_is_refused_before_any_call(sandbox: Sandbox) -> None:
    publisher = KIT.publisher(sandbox, options={"cover_url": ""})
    with pytest.raises(Exception, match="cover photo"):
        publisher.publish(POST)
    assert sandbox.requests("zalo") == []


def test_long_title_is_cut_at_a_word(sandbox: Sandbox) -> None:
    title = "Thông báo kết luận của Thủ tướng Chính phủ tại cuộc họp " * 5
    KIT.publisher(sandbox).publish(OutgoingPost("Mô tả.", LINK, title=title))

    [article] = sandbox.posts("zalo")
    assert article.title is not None
    assert len(article.title) <= 150
    assert article.title.endswith("…")
    assert title.startswith(article.title[:-1])


def test_verify_refused_after_the_create_is_left_to_reconciliation(sandbox: Sandbox) -> None:
    publisher = KIT.publisher(sandbox)
    sandbox.inject(
        "respond",
        platform="zalo",
        path="/article/verify",
        status=200,
        body={"error": -224, "message": "OA tier package required"},
    )

    with pytest.raises(OutcomeUnknown, match="created but could not be confirmed"):
        publisher.publish(POST)

    [article] = sandbox.posts("zalo")
    assert [p.post_id for p in publisher.find_recent_by_link(LINK, AN_HOUR_AGO)] == [article.id]


def test_the_cover_is_the_articles_picture_else_the_channels(sandbox: Sandbox) -> None:
    publisher = KIT.publisher(sandbox)
    picture = "https://cdn.chinhphu.vn/2026/11/phien-hop.jpg"

    publisher.publish(OutgoingPost(POST.text, LINK, title="Có ảnh", image_url=picture))
    publisher.publish(OutgoingPost(POST.text, LINK + "-2", title="Không có ảnh"))

    covers = [article.cover for article in sandbox.posts("zalo")]
    assert covers == [picture, KIT.options["cover_url"]]
