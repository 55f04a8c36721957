"""Report periods: what an officer types, as local calendar days and a UTC half-open interval.

Forms: a day `2026-11-28`, an ISO week `2026-W48`, a month `2026-11`, a quarter `2026-Q4`, a year
`2026`, or two inclusive dates (`--from 2026-09-01 --to 2026-11-30`). Days are days in the report's
zone (Asia/Ho_Chi_Minh unless the settings say otherwise), so a post at 23:30 local time on the
30th of November belongs to November even though it is 16:30 UTC. The database is asked for
`start <= t < end` in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crosspost.errors import InvalidInput

_FORMS = "a day (2026-11-28), week (2026-W48), month (2026-11), quarter (2026-Q4) or year (2026)"
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{1,2})", re.IGNORECASE)
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-Q(\d)", re.IGNORECASE)
_YEAR = re.compile(r"(\d{4})")
# Years outside this range are typos; it also keeps date arithmetic away from datetime's limits.
_FIRST_YEAR, _LAST_YEAR = 1970, 9998


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar days `first_day`..`last_day` (inclusive) in `zone`."""

    label: str
    first_day: date
    last_day: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant of the period, in UTC (inclusive)."""
        return _midnight_utc(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period, in UTC (exclusive)."""
        return _midnight_utc(self.last_day + timedelta(days=1), self.zone)

    def days(self) -> list[date]:
        """Every local day of the period, in order."""
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    def offsets(self) -> list[tuple[datetime, int]]:
        """The zone's UTC offset (seconds) over the period: (UTC instant it starts, offset).

        The first entry starts at `start`; one more follows each daylight-saving change, found to
        the second, so SQL can turn a UTC instant into a local date exactly (Vietnam: one entry).
        """
        result = [(self.start, _offset(self.start, self.zone))]
        for day in self.days():
            lo, hi = _midnight_utc(day, self.zone), _midnight_utc(day + timedelta(1), self.zone)
            if _offset(lo, self.zone) == _offset(hi, self.zone):
                continue
            # Transitions are rare (at most two a year): bisect the day to the second.
            while (hi - lo) > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if _offset(mid, self.zone) == _offset(lo, self.zone):
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(microsecond=0)
            result.append((hi, _offset(hi, self.zone)))
        return result


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """The period named by `text` (day, ISO week, month, quarter, year), or InvalidInput."""
    value = text.strip()
    try:
        if m := _DAY.fullmatch(value):
            day = date(_year(m[1]), int(m[2]), int(m[3]))
            return Period(day.isoformat(), day, day, zone)
        if m := _WEEK.fullmatch(value):
            year, week = _year(m[1]), int(m[2])
            monday = date.fromisocalendar(year, week, 1)
            return Period(f"{year}-W{week:02d}", monday, monday + timedelta(days=6), zone)
        if m := _QUARTER.fullmatch(value):
            year, quarter = _year(m[1]), int(m[2])
            if not 1 <= quarter <= 4:
                raise InvalidInput(f"period {text!r}: a quarter is Q1 to Q4")
            first = date(year, 3 * quarter - 2, 1)
            return Period(f"{year}-Q{quarter}", first, _month_end(year, 3 * quarter), zone)
        if m := _MONTH.fullmatch(value):
            year, month = _year(m[1]), int(m[2])
            first = date(year, month, 1)
            return Period(f"{year}-{month:02d}", first, _month_end(year, month), zone)
        if m := _YEAR.fullmatch(value):
            year = _year(m[1])
            return Period(str(year), date(year, 1, 1), date(year, 12, 31), zone)
    except ValueError as exc:  # date() and fromisocalendar() on a day or week that does not exist
        raise InvalidInput(f"period {text!r} does not exist: {exc}") from None
    raise InvalidInput(f"period {text!r} not understood: give {_FORMS}")


def period_between(first: str, last: str, zone: ZoneInfo) -> Period:
    """The days from `first` to `last`, both included (ISO dates), or InvalidInput."""
    start, end = _date(first, "--from"), _date(last, "--to")
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    return Period(f"{start}..{end}", start, end, zone)


def _date(text: str, option: str) -> date:
    m = _DAY.fullmatch(text.strip())
    if m is None:
        raise InvalidInput(f"{option} {text!r} is not a date like 2026-11-28")
    try:
        return date(_year(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise InvalidInput(f"{option} {text!r} does not exist: {exc}") from None


def _year(text: str) -> int:
    year = int(text)
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise InvalidInput(f"year {year} is out of range ({_FIRST_YEAR}-{_LAST_YEAR})")
    return year


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    delta = instant.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0
