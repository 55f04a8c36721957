"""Dates as the portals write them, read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crosspost.domain.dates import parse_date


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # RFC 822 and its variants
        ("Sat, 28 Nov 2026 09:21:00 +0700", utc(2026, 11, 28, 2, 21)),
        ("Sat, 28 Nov 2026 09:21:00 +07", utc(2026, 11, 28, 2, 21)),
        ("Sat, 28 Nov 2026 09:21:00 +07:00", utc(2026, 11, 28, 2, 21)),
        ("Sun, 14 Jun 2026 18:23:42 GMT+7", utc(2026, 6, 14, 11, 23, 42)),
        ("Sat, 12 Aug 2023 13:08:19 GMT", utc(2023, 8, 12, 13, 8, 19)),
        ("12 Aug 2023 13:08:19 UTC", utc(2023, 8, 12, 13, 8, 19)),
        ("Tue, 10 Jun 2003 04:00:00 EST", utc(2003, 6, 10, 9, 0)),
        ("Sat, 28 Nov 26 09:21:00 +0700", utc(2026, 11, 28, 2, 21)),
        ("Sat, 28 Nov 2026 09:21 +0700", utc(2026, 11, 28, 2, 21)),
        # RFC 3339 / ISO 8601
        ("2026-11-28T09:21:00+07:00", utc(2026, 11, 28, 2, 21)),
        ("2026-11-28T02:21:00Z", utc(2026, 11, 28, 2, 21)),
        ("2026-11-28T02:21:00.123456Z", utc(2026, 11, 28, 2, 21, 0, 123456)),
        ("2026-11-28 09:21:00", utc(2026, 11, 28, 2, 21)),
        ("2026-11-28", utc(2026, 11, 27, 17, 0)),
        # Vietnamese portals: day first, local time unless a zone is given
        ("28/11/2026 09:21", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026", utc(2026, 11, 27, 17, 0)),
        ("28-11-2026", utc(2026, 11, 27, 17, 0)),
        ("28-11-2026 09:21", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 +07", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 +0700", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 GMT+7", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 (GMT+7)", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 (GMT+07:00)", utc(2026, 11, 28, 2, 21)),
        ("29.06.2026 16:54:47 +07:00", utc(2026, 6, 29, 9, 54, 47)),
        ("09:21 28/11/2026", utc(2026, 11, 28, 2, 21)),  # baochinhphu: time first
        ("Thứ Bảy, 28/11/2026 - 09:21", utc(2026, 11, 28, 2, 21)),
        ("Ngày 28/11/2026 lúc 09:21", utc(2026, 11, 28, 2, 21)),
        ("28/11/2026 09:21 GMT", utc(2026, 11, 28, 9, 21)),
        ("1/2/2026", utc(2026, 1, 31, 17, 0)),  # 1 February, not 2 January
        # .NET en-US output: month first when the time has AM/PM (U+202F before it)
        ("9/1/2026 10:52:00\u202fAM", utc(2026, 9, 1, 3, 52)),
        ("9/1/2026 10:52:00 PM", utc(2026, 9, 1, 15, 52)),
        ("11/28/2026", utc(2026, 11, 27, 17, 0)),  # only month-first makes a date
        # spacing noise
        ("  28/11/2026\u00a0 09:21 \n", utc(2026, 11, 28, 2, 21)),
    ],
)
def test_parse_date(raw: str, expected: datetime) -> None:
    parsed = parse_date(raw)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "hôm qua",
        "31/02/2026",
        "28/13/2026 25:00",
        "28/11/2026 09:21 +25",
        "1/1/1901",
    ],
)
def test_unusable_dates_are_none(raw: str | None) -> None:
    assert parse_date(raw) is None


def test_the_dash_of_a_date_is_not_read_as_a_zone() -> None:
    # "-2026" must not become a UTC-20:26 offset.
    assert parse_date("28-11-2026") == parse_date("28/11/2026")


def test_naive_times_before_1975_use_the_historical_offset() -> None:
    # Saigon kept +08:00 until 1975; the tz database knows, a hard-coded +7 would not.
    assert parse_date("30/04/1974 11:30") == utc(1974, 4, 30, 3, 30)


def test_local_zone_can_be_given() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert parse_date("28/11/2026 09:21", local_zone=tokyo) == utc(2026, 11, 28, 0, 21)
