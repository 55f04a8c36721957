"""Publication dates as the portals write them, read into aware UTC datetimes.

Accepted: RFC 822 (`Fri, 26 Jun 2026 03:08:00 +0700`), RFC 3339 / ISO 8601, and the portals' own
habits: `28/11/2026 09:21`, `28/11/2026`, `28-11-2026`, `28-11-2026 09:21`, `28.11.2026 09:21:05`,
`09:21 28/11/2026`, the .NET `9/1/2026 10:52:00 AM`, with zones `+07`, `+0700`, `+07:00`, `GMT+7`,
`(GMT+7)`, `GMT`, `UTC`, `Z` or none. A time without a zone is Vietnamese local time
(Asia/Ho_Chi_Minh, which the tz database knows was +08:00 before 1975).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
"""The zone a date without an offset is read in."""

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# U+202F before AM/PM (seen on .NET portals) and other exotic spaces make strptime-style parsers
# give up silently.
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f]+")
_ZONE = re.compile(
    r"""(?:
        \s*\(?\s*(?:GMT|UTC|UT)\s*(?P<gmt>[+-]\s*\d{1,2}(?::?\d{2})?)?\s*\)?  # GMT+7, (GMT+07:00)
      | \s+(?P<named>ICT|EST|EDT|CST|CDT|MST|MDT|PST|PDT)                     # RFC 822 names
      | (?:\s|(?<=:\d\d))(?P<num>[+-]\d{2}(?::?\d{2})?)                       # +07, 09:21+07:00
      | (?<=\d)\s*(?P<zulu>Z)
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?(?:\s*(?P<ampm>[AP]\.?M\.?))?"
_FORMATS = [
    # RFC 822, with or without the day name; two-digit years from old generators.
    re.compile(
        r"(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3})[a-z]*\.?\s+(?P<y>\d{2,4})"
        rf"(?:\s+{_TIME})?",
        re.IGNORECASE,
    ),
    # ISO 8601 date with optional time (fromisoformat missed it: odd separators or zones).
    re.compile(rf"(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}})(?:[T\s]+{_TIME})?"),
    # Day first (Vietnamese), or month first when the time carries AM/PM (.NET en-US output).
    re.compile(
        rf"(?P<a>\d{{1,2}})[/.-](?P<b>\d{{1,2}})[/.-](?P<y>\d{{4}})(?:(?:\s*[-,|]\s*|\s+)(?:lúc\s+)?{_TIME})?",
        re.IGNORECASE,
    ),
    # Time first, as baochinhphu prints it: `09:21 28/11/2026`.
    re.compile(
        rf"{_TIME},?\s+(?:ngày\s+)?(?P<a>\d{{1,2}})[/.-](?P<b>\d{{1,2}})[/.-](?P<y>\d{{4}})"
    ),
]
# Indochina Time, and the North American names RFC 822 allows.
_NAMED_ZONES = {
    "ICT": 7, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip
_LEADING_WORDS = re.compile(r"^\D+")
_EARLIEST_YEAR = 1970
_LATEST_YEAR = 2200


def parse_date(raw: str | None, *, local_zone: tzinfo = LOCAL_ZONE) -> datetime | None:
    """`raw` read as an aware UTC datetime, or None when it is missing or not a date we know."""
    if not raw:
        return None
    text = _SPACES.sub(" ", raw).strip()
    if not text:
        return None
    parsed = _from_iso(text) or _from_patterns(text, local_zone)
    if parsed is None or not _EARLIEST_YEAR <= parsed.year <= _LATEST_YEAR:
        return None
    return parsed.astimezone(UTC)


def _from_iso(text: str) -> datetime | None:
    if not re.match(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})", text):
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_ZONE)


def _from_patterns(text: str, local_zone: tzinfo) -> datetime | None:
    zone: tzinfo = local_zone
    match = _ZONE.search(text)
    if match:
        offset = _offset(match)
        if offset is None:
            return None
        zone = timezone(offset)
        text = text[: match.start()].strip()
    # Weekday names and words before the date ("Thứ Sáu, ", "Fri, ", "Ngày ") carry nothing.
    text = _LEADING_WORDS.sub("", text)
    for pattern in _FORMATS:
        found = pattern.fullmatch(text)
        if found:
            try:
                return _build(found).replace(tzinfo=zone)
            except ValueError:  # 31/02, 25:00 and the like
                return None
    return None


def _offset(match: re.Match[str]) -> timedelta | None:
    if match.group("zulu"):
        return timedelta(0)
    if match.group("named"):
        return timedelta(hours=_NAMED_ZONES[match.group("named").upper()])
    value = match.group("num") or match.group("gmt")
    if not value:  # bare GMT / UTC
        return timedelta(0)
    value = value.replace(" ", "").replace(":", "")
    sign = -1 if value[0] == "-" else 1
    digits = value[1:]
    # "+7" and "+07" are hours; "+0700" is hours and minutes.
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours > 14 or minutes >= 60:
        return None
    return sign * timedelta(hours=hours, minutes=minutes)


def _build(found: re.Match[str]) -> datetime:
    fields = found.groupdict()
    year = int(fields["y"])
    if year < 100:  # RFC 822's two-digit years
        year += 2000 if year < 70 else 1900
    if fields.get("mon"):
        month = _MONTHS.get(fields["mon"].lower()[:3])
        if month is None:
            raise ValueError("unknown month name")
        day = int(fields["d"])
    elif fields.get("m"):
        month, day = int(fields["m"]), int(fields["d"])
    else:
        first, second = int(fields["a"]), int(fields["b"])
        # Vietnamese order is day first; an AM/PM time marks .NET en-US output, month first.
        day, month = (second, first) if fields.get("ampm") else (first, second)
        if month > 12 >= day:  # the guess was wrong; only the other order is a date
            day, month = month, day
    hour = int(fields["H"] or 0)
    minute = int(fields["M"] or 0)
    second = int(fields["S"] or 0)
    ampm = (fields.get("ampm") or "").replace(".", "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for AM/PM")
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    return datetime(year, month, day, hour, minute, second)  # the caller adds the zone
