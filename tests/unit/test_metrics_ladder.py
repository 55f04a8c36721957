"""The engagement polling ladder: when a post is read next, at and around each step's edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crosspost.domain.metrics import (
    DEFAULT_LADDER,
    Step,
    format_duration,
    next_poll,
    parse_duration,
    parse_ladder,
)
from crosspost.errors import ConfigError
from crosspost.settings import load_settings

PUBLISHED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def after(age: timedelta) -> timedelta | None:
    """The age at which the post is read next, after a reading at `age`."""
    due = next_poll(PUBLISHED, PUBLISHED + age, DEFAULT_LADDER)
    return None if due is None else due - PUBLISHED


@pytest.mark.parametrize(
    ("age", "next_age"),
    [
        (timedelta(0), 1 * H),
        (1 * H, 2 * H),  # exactly on the grid: the next point, never the same one
        (1 * H + timedelta(seconds=59), 2 * H),  # a round a minute late does not shift the grid
        (23 * H, 24 * H),
        (23 * H + timedelta(minutes=59), 24 * H),
        (24 * H, 30 * H),  # day 1 reached: 6-hourly, counted from day 1
        (6 * D + 23 * H, 7 * D),
        (7 * D, 8 * D),  # daily from day 7
        (29 * D + 12 * H, 30 * D),
        (30 * D, 37 * D),  # weekly from day 30, counted from day 30 (not from publication)
        (86 * D, 90 * D),  # the last weekly point is capped at day 90: one final reading
        (89 * D + 23 * H, 90 * D),
        (90 * D, None),  # done
        (400 * D, None),
    ],
)
def test_next_poll_on_the_default_ladder(age: timedelta, next_age: timedelta | None) -> None:
    assert after(age) == next_age


def test_a_late_round_skips_missed_readings_instead_of_catching_up() -> None:
    assert after(5 * H + timedelta(minutes=30)) == 6 * H
    assert after(3 * D + 1 * H) == 3 * D + 6 * H


def test_a_clock_behind_the_platform_reads_as_just_published() -> None:
    assert after(-timedelta(minutes=5)) == 1 * H


def test_the_whole_default_life_of_a_post() -> None:
    ages: list[timedelta] = []
    age: timedelta | None = timedelta(0)
    while age is not None:
        age = after(age)
        if age is not None:
            ages.append(age)
    assert ages[:3] == [1 * H, 2 * H, 3 * H]
    assert ages[-3:] == [79 * D, 86 * D, 90 * D]
    assert len(ages) == 24 + 24 + 23 + 9  # hourly, 6-hourly, daily, weekly + the final one
    assert ages == sorted(set(ages))


def test_parse_ladder_reads_the_settings_form() -> None:
    assert parse_ladder(["1d:1h", "7d:6h", "30d:1d", "90d:1w"]) == (
        Step(1 * D, 1 * H),
        Step(7 * D, 6 * H),
        Step(30 * D, 1 * D),
        Step(90 * D, 7 * D),
    )
    assert [str(s) for s in DEFAULT_LADDER] == ["1d:1h", "7d:6h", "30d:1d", "90d:7d"]


@pytest.mark.parametrize(
    ("steps", "complaint"),
    [
        ([], "at least one step"),
        (["1d"], "not 'age:interval'"),
        (["1d:1x"], "not a duration"),
        (["1d:1h", "1d:6h"], "must increase"),
        (["1d:1h", "12h:1h"], "must increase"),
        (["1d:0h"], "must be positive"),
        (["1d:1h", "2d:2d"], "longer than the step"),
    ],
)
def test_parse_ladder_names_the_bad_step(steps: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_ladder(steps)


def test_a_custom_ladder() -> None:
    ladder = parse_ladder(["2h:30m", "1d:4h"])
    assert next_poll(PUBLISHED, PUBLISHED + 1 * H, ladder) == PUBLISHED + 90 * timedelta(minutes=1)
    assert next_poll(PUBLISHED, PUBLISHED + 2 * H, ladder) == PUBLISHED + 6 * H
    assert next_poll(PUBLISHED, PUBLISHED + 22 * H, ladder) == PUBLISHED + 24 * H
    assert next_poll(PUBLISHED, PUBLISHED + 24 * H, ladder) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("30d", 2592000), ("1W", 604800)],
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    value = parse_duration(text)
    assert value == timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_the_settings_ladder_is_checked_when_the_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "crosspost.toml"
    config.write_text('[metrics]\nladder = ["2h:30m", "1d:4h"]\n')
    assert load_settings(config, {}).metrics.steps == parse_ladder(["2h:30m", "1d:4h"])
    config.write_text('[metrics]\nladder = ["1d:1h", "12h:1h"]\nfacebook_fields = ["x y"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {})
    assert "metrics.ladder: step '12h:1h': ages must increase" in str(caught.value)
    assert "metrics.facebook_fields" in str(caught.value)
