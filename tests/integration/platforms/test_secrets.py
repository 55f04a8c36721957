"""Credentials never leak: not into exception text, not into any log record, at DEBUG, for
every logger (urllib3, requests, tweepy, oauthlib included), across successes and failures."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from crosspost.errors import PublishError
from crosspost.platforms.base import OutgoingPost, Publisher
from crosspost.sandbox import GraphPage, Sandbox, XAccount
from crosspost.sandbox.state import MastodonAccount, TelegramBot

from .conftest import Kit

CANARY = "CANARY" + uuid.uuid4().hex
LINK = "https://moh.gov.vn/tin/canary"


def canary_publisher(kit: Kit, sandbox: Sandbox, **kwargs: Any) -> Publisher:
    """A publisher whose every credential value contains CANARY, known to the sandbox."""
    if kit.name == "x":
        sandbox.add_x_account(
            XAccount(
                user_id="1790000000000000077",
                username="canary",
                name="Canary",
                consumer_key=CANARY + "ck",
                consumer_secret=CANARY + "cs",
                access_token=CANARY + "at",
                access_token_secret=CANARY + "ats",
            )
        )
        credentials = {
            "consumer_key": CANARY + "ck",
            "consumer_secret": CANARY + "cs",
            "access_token": CANARY + "at",
            "access_token_secret": CANARY + "ats",
        }
        return kit.publisher(sandbox, credentials=credentials, **kwargs)
    if kit.name == "telegram":
        token = "7000000077:" + CANARY
        bot = TelegramBot("7000000077", "canary_bot", "Canary", token, "-1007", "canary", "Canary")
        sandbox.add_telegram_bot(bot)
        return kit.publisher(
            sandbox, credentials={"bot_token": token}, options={"chat": "@canary"}, **kwargs
        )
    if kit.name == "mastodon":
        sandbox.add_mastodon_account(MastodonAccount("110000000000000077", "canary", "C", CANARY))
        return kit.publisher(sandbox, credentials={"access_token": CANARY}, **kwargs)
    sandbox.add_page(GraphPage(page_id="100000000000077", name="Canary", access_token=CANARY))
    return kit.publisher(
        sandbox,
        credentials={"page_access_token": CANARY},
        options={"page_id": "100000000000077"},
        **kwargs,
    )


def exception_texts(exc: BaseException) -> str:
    """Everything an exception can show, its whole chain included (even suppressed context)."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        seen += [str(current), repr(current), *traceback.format_exception(current)]
        seen += [repr(arg) for arg in current.args]
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def test_no_secret_in_errors_or_logs(
    kit: Kit, sandbox: Sandbox, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    publisher = canary_publisher(kit, sandbox)
    errors: list[PublishError] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except PublishError as exc:
            errors.append(exc)

    post = OutgoingPost("Tin thử nghiệm bí mật", LINK)
    publisher.check_credentials()
    published = publisher.publish(post)
    attempt(lambda: publisher.publish(post))  # duplicate
    sandbox.inject("html_502", **kit.create)
    attempt(lambda: publisher.publish(OutgoingPost("502", LINK)))
    sandbox.inject(**kit.create, **kit.wire("server_error"))
    attempt(lambda: publisher.publish(OutgoingPost("5xx", LINK)))
    sandbox.inject(**kit.create, **kit.rate_limit_with_reset)
    attempt(lambda: publisher.publish(OutgoingPost("429", LINK)))
    sandbox.inject("drop", **kit.create)
    attempt(lambda: publisher.publish(OutgoingPost("drop", LINK)))
    sandbox.inject("delay", delay=1.0, **kit.read)
    attempt(publisher.check_credentials)
    publisher.find_recent_by_link(LINK, published.published_at.replace(year=2000))
    publisher.fetch_metrics([published.post_id, "404404"])
    publisher.delete(published.post_id)
    attempt(
        lambda: canary_publisher(kit, sandbox, api_base=f"http://127.0.0.1:{closed_port}").publish(
            post
        )
    )
    canary_account = {
        "x": "1790000000000000077",
        "facebook": "100000000000077",
        "telegram": "7000000077",
        "mastodon": "110000000000000077",
    }
    sandbox.revoke(kit.name, canary_account[kit.name])
    attempt(lambda: publisher.publish(OutgoingPost("revoked", LINK)))
    attempt(publisher.check_credentials)

    connection = kit.connection(sandbox, credentials=dict.fromkeys(kit.credentials, CANARY))
    assert CANARY not in repr(connection) + str(connection)
    # One error fewer where the same post twice is not refused as a duplicate.
    assert len(errors) == (9 if kit.rejects_duplicates else 8), [type(e).__name__ for e in errors]
    for exc in errors:
        assert CANARY not in exception_texts(exc), type(exc).__name__
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert "urllib3" in loggers  # the capture really saw the HTTP layer
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert CANARY not in text, f"{record.name}: {text[:200]}"
