"""Report periods: every form, local-day boundaries as UTC instants, and clear refusals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from crosspost.domain.periods import parse_period, period_between
from crosspost.errors import InvalidInput

ICT = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "label", "first", "last"),
    [
        ("2026-11-28", "2026-11-28", date(2026, 11, 28), date(2026, 11, 28)),
        ("2026-W48", "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-w1", "2026-W01", date(2025, 12, 29), date(2026, 1, 4)),  # week 1 starts in 2025
        ("2026-W53", "2026-W53", date(2026, 12, 28), date(2027, 1, 3)),  # 2026 has 53 weeks
        ("2027-W01", "2027-W01", date(2027, 1, 4), date(2027, 1, 10)),
        ("2026-11", "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2028-2", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),  # leap year
        ("2026-Q4", "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-q1", "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31)),
        (" 2026-11 ", "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
    ],
)
def test_every_form(text: str, label: str, first: date, last: date) -> None:
    period = parse_period(text, ICT)
    assert (period.label, period.first_day, period.last_day) == (label, first, last)


def test_a_month_is_local_days_as_a_utc_half_open_interval() -> None:
    november = parse_period("2026-11", ICT)
    assert november.start == utc(2026, 10, 31, 17)
    assert november.end == utc(2026, 11, 30, 17)
    last_hour = datetime(2026, 11, 30, 23, 30, tzinfo=ICT)  # 16:30 UTC on the 30th
    assert november.start <= last_hour < november.end
    first_of_december = datetime(2026, 12, 1, 0, 0, tzinfo=ICT)
    assert not first_of_december < november.end
    assert len(november.days()) == 30
    assert november.offsets() == [(november.start, 7 * 3600)]


def test_the_same_month_in_utc_is_other_instants() -> None:
    november = parse_period("2026-11", ZoneInfo("UTC"))
    assert (november.start, november.end) == (utc(2026, 11, 1), utc(2026, 12, 1))


def test_from_to_includes_both_days() -> None:
    period = period_between("2026-09-01", "2026-11-30", ICT)
    assert period.label == "2026-09-01..2026-11-30"
    assert (period.start, period.end) == (utc(2026, 8, 31, 17), utc(2026, 11, 30, 17))
    same_day = period_between("2026-11-28", "2026-11-28", ICT)
    assert same_day.end - same_day.start == utc(2026, 1, 2) - utc(2026, 1, 1)


def test_daylight_saving_changes_are_found_to_the_second() -> None:
    paris = ZoneInfo("Europe/Paris")
    march = parse_period("2026-03", paris)
    # Clocks go forward at 01:00 UTC on Sunday 29 March 2026: +01:00 -> +02:00.
    assert march.offsets() == [(utc(2026, 2, 28, 23), 3600), (utc(2026, 3, 29, 1), 7200)]
    assert march.end == utc(2026, 3, 31, 22)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "period '2026-13' does not exist: month must be in 1..12"),
        ("2026-02-30", "period '2026-02-30' does not exist"),
        ("2025-W53", "period '2025-W53' does not exist"),  # 2025 has 52 weeks
        ("2026-W00", "period '2026-W00' does not exist"),
        ("2026-Q5", "period '2026-Q5': a quarter is Q1 to Q4"),
        ("0999", "year 999 is out of range"),
        ("tháng 11/2026", "not understood: give a day (2026-11-28), week (2026-W48)"),
        ("", "period '' not understood"),
        ("2026-11-28T10:00", "period '2026-11-28T10:00' not understood"),
    ],
)
def test_bad_periods_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_period(text, ICT)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-11-30", "2026-11-01", "--to 2026-11-01 is before --from 2026-11-30"),
        ("2026-11", "2026-11-30", "--from '2026-11' is not a date like 2026-11-28"),
        ("2026-11-01", "2026-11-31", "--to '2026-11-31' does not exist"),
    ],
)
def test_bad_ranges_are_refused_clearly(first: str, last: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        period_between(first, last, ICT)
