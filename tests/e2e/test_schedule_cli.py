"""Scheduling from the officer's side: slots in the channel's zone, --at, --now, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crosspost.localserve import serve_directory
from crosspost.resources import bundled_file
from tests.e2e.conftest import Cli

ICT = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def officer(cli: Cli) -> Cli:
    """A workspace with the demo feeds ingested (trusted: approved) and two channels."""
    assert cli("init").code == 0
    with serve_directory(bundled_file("demo")) as feeds:
        cli("sources", "add", "chinhphu", f"{feeds}/chinhphu.rss", "--trusted", "--allow-private")
        assert cli("ingest").code == 0
    assert (
        cli(
            "channels",
            "add",
            "gov-x",
            "--platform",
            "x",
            "--slots",
            "07:30,11:30,19:00",
            "--min-gap",
            "20m",
        ).code
        == 0
    )
    assert (
        cli(
            "channels",
            "add",
            "gov-fb",
            "--platform",
            "facebook",
            "--page-id",
            "123",
            "--slots",
            "08:00",
        ).code
        == 0
    )
    return cli


def _approved(cli: Cli) -> list[int]:
    out = json.loads(cli("articles", "list", "--status", "approved", "--json").out)
    return sorted(a["id"] for a in out["articles"])


def _due(cli: Cli, *args: str) -> list[datetime]:
    result = cli("schedule", *args, "--json")
    assert result.code == 0, result.err
    return [datetime.fromisoformat(p["due_at"]) for p in json.loads(result.out)]


def test_next_free_slot_is_a_slot_in_the_channels_zone_and_not_taken_twice(officer: Cli) -> None:
    first, second, *_ = _approved(officer)
    (a,) = _due(officer, str(first), "--channels", "gov-x")
    (b,) = _due(officer, str(second), "--channels", "gov-x")
    for due in (a, b):
        assert due.tzinfo is not None
        assert due.astimezone(ICT).strftime("%H:%M") in ("07:30", "11:30", "19:00")
    assert a != b
    assert a > datetime.now(UTC)
    listed = json.loads(officer("schedule", "list", "--json").out)
    assert [d["channel"] for d in listed] == ["gov-x", "gov-x"]


def test_at_is_read_in_the_channels_zone(officer: Cli) -> None:
    article = _approved(officer)[0]
    local = (datetime.now(ICT) + timedelta(days=2)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    (due,) = _due(
        officer, str(article), "--channels", "gov-fb", "--at", local.strftime("%Y-%m-%d %H:%M")
    )
    assert due == local.astimezone(UTC)
    shown = officer("schedule", "list")
    assert local.strftime("%Y-%m-%d 09:30 +07") in shown.out


def test_a_past_time_is_refused_in_one_line(officer: Cli) -> None:
    article = _approved(officer)[0]
    past = (datetime.now(ICT) - timedelta(hours=3)).strftime("%d/%m/%Y %H:%M")
    result = officer("schedule", str(article), "--channels", "gov-x", "--at", past)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert json.loads(officer("schedule", "list", "--json").out) == []


def test_now_goes_ahead_of_the_slots(officer: Cli) -> None:
    article = _approved(officer)[0]
    (due,) = _due(officer, str(article), "--channels", "gov-x", "--now")
    assert abs((due - datetime.now(UTC)).total_seconds()) < 30


def test_all_channels_and_a_second_schedule_is_refused(officer: Cli) -> None:
    article = _approved(officer)[0]
    assert len(_due(officer, str(article), "--channels", "all", "--now")) == 2
    again = officer("schedule", str(article), "--channels", "gov-x", "--now")
    assert again.code == 1
    assert "already scheduled on gov-x" in again.err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--channels", "nope"), "no channel named 'nope'"),
        (("--channels", "gov-x", "--at", "31/02/2027 09:00"), ""),
        (("--channels", "gov-x", "--at", "2030-01-01 09:00", "--now"), "either --at or --now"),
        ((), "give --channels"),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_written(
    officer: Cli, args: tuple[str, ...], words: str
) -> None:
    article = _approved(officer)[0]
    result = officer("schedule", str(article), *args)
    assert result.code == 1
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert json.loads(officer("schedule", "list", "--json").out) == []


def test_an_unapproved_article_cannot_be_scheduled(officer: Cli) -> None:
    article = _approved(officer)[0]
    assert officer("articles", "withdraw", str(article)).code == 0
    result = officer("schedule", str(article), "--channels", "gov-x", "--now")
    assert result.code == 1
    assert "only approved articles are scheduled" in result.err


def test_cancel_and_retry_touch_only_that_delivery(officer: Cli) -> None:
    article = _approved(officer)[0]
    _due(officer, str(article), "--channels", "all")
    deliveries = json.loads(officer("deliveries", "list", "--json").out)
    target = next(d for d in deliveries if d["channel"] == "gov-x")
    assert officer("deliveries", "cancel", str(target["id"])).code == 0
    states = {
        d["channel"]: d["status"] for d in json.loads(officer("deliveries", "list", "--json").out)
    }
    assert states == {"gov-x": "cancelled", "gov-fb": "scheduled"}
    assert officer("deliveries", "retry", str(target["id"])).code == 0
    states = {
        d["channel"]: d["status"] for d in json.loads(officer("deliveries", "list", "--json").out)
    }
    assert states == {"gov-x": "scheduled", "gov-fb": "scheduled"}
    again = officer("deliveries", "retry", str(target["id"]))
    assert again.code == 1
    assert "only a failed or cancelled delivery" in again.err


def test_status_without_a_running_queue_says_so(officer: Cli) -> None:
    result = officer("status")
    assert result.code == 0
    assert "Queue: not running" in result.out


def test_preview_shows_the_exact_text_and_its_weighted_length(officer: Cli) -> None:
    article = _approved(officer)[0]
    result = officer("preview", str(article), "--channel", "gov-x", "--json")
    assert result.code == 0, result.err
    post = json.loads(result.out)
    assert post["platform"] == "x"
    assert post["length"] <= post["limit"] == 280
    from crosspost.domain.xtext import weighted_length

    assert weighted_length(post["text"]) == post["length"]
