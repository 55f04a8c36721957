"""Posting slots: when a channel's next post goes out.

A channel has an IANA zone, daily slots as wall times in that zone (`07:30,11:30,19:00`) and a
minimum gap between two posts on the account. Everything in and out is an aware datetime; results
are UTC, as the database stores them.

Wall times that a DST change skips or repeats: a slot that does not exist on a spring-forward day
is moved forward by the length of the gap (02:30 in Paris becomes 03:30 CEST); an ambiguous slot
is the first occurrence only, so a repeated hour does not give the channel an extra slot. An
`--at` time that does not exist is refused instead: the officer typed it, so we do not guess.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from crosspost.errors import InvalidInput

SLOT_LEAD = timedelta(seconds=60)
"""A slot closer than this to now is skipped: queueing and the worker's poll need a moment."""

PAST_TOLERANCE = timedelta(seconds=5)
"""An `--at` up to this far in the past still counts as now (typing and start-up take seconds)."""

HORIZON_DAYS = 60
"""How far ahead next_free_slot looks before it gives up."""

# [0-9], not \d: \d also matches other scripts' digits, which int() would then accept.
_CLOCK = r"(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})"
_SLOT = re.compile(_CLOCK)
_GAP = re.compile(r"(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?", re.IGNORECASE)
_CLOCK_S = rf"{_CLOCK}(?::(?P<S>[0-9]{{2}}))?"
_OFFSET = r"(?: ?(?P<offset>Z|[+-][0-9]{2}:?[0-9]{2}))?"
_AT_FORMATS = (
    # ISO: 2026-12-01 09:30, 2026-12-01T09:30:15+07:00
    re.compile(
        rf"(?P<y>[0-9]{{4}})-(?P<m>[0-9]{{1,2}})-(?P<d>[0-9]{{1,2}})[T ]{_CLOCK_S}{_OFFSET}",
        re.IGNORECASE,
    ),
    # Vietnamese day first: 01/12/2026 09:30
    re.compile(rf"(?P<d>[0-9]{{1,2}})/(?P<m>[0-9]{{1,2}})/(?P<y>[0-9]{{4}}) {_CLOCK_S}{_OFFSET}"),
    # A time alone: today in the channel's zone.
    re.compile(_CLOCK_S),
)
_AT_EXAMPLES = "2026-12-01 09:30, 01/12/2026 09:30, 2026-12-01T09:30+07:00 or 09:30 (today)"


def parse_slots(text: str) -> tuple[time, ...]:
    """`"07:30, 11:30,19:00"` as sorted unique times; a blank text means no slots (post ASAP)."""
    if not text.strip():
        return ()
    slots = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise InvalidInput(f"empty slot in {text!r}; separate times with single commas")
        found = _SLOT.fullmatch(item)
        hour, minute = (int(found["H"]), int(found["M"])) if found else (-1, -1)
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise InvalidInput(f"slot {item!r} is not a time of day; write HH:MM, e.g. 07:30")
        slots.add(time(hour, minute))
    return tuple(sorted(slots))


def parse_gap(text: str) -> timedelta:
    """`"20m"`, `"1h"`, `"1h30m"`, `"90s"` or `"0"` as a timedelta."""
    item = text.strip()
    found = _GAP.fullmatch(item)
    if item == "0":
        return timedelta(0)
    if not item or found is None:
        raise InvalidInput(f"gap {text!r} is not a duration; write e.g. 20m, 1h, 1h30m, 90s or 0")
    h, m, s = (int(found[unit] or 0) for unit in "hms")
    return timedelta(hours=h, minutes=m, seconds=s)


def parse_local_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """An `--at` value read in the channel's `zone`, as aware UTC.

    A time alone is today in `zone`; if that has passed it is refused rather than taken as
    tomorrow, because posting a day late is worse than asking again. An explicit offset wins over
    `zone`. Nonexistent local times (a DST gap) and times in the past are refused; an ambiguous
    one is its first occurrence (give an offset to pick the second).
    """
    _require_aware(now=now)
    cleaned = " ".join(text.split())
    found = next((m for p in _AT_FORMATS if (m := p.fullmatch(cleaned))), None)
    if found is None:
        raise InvalidInput(f"--at {text!r} is not a date and time; write e.g. {_AT_EXAMPLES}")
    fields = found.groupdict()
    local_today = now.astimezone(zone).date()
    try:
        naive = datetime(
            int(fields.get("y") or local_today.year),
            int(fields.get("m") or local_today.month),
            int(fields.get("d") or local_today.day),
            int(fields["H"]),
            int(fields["M"]),
            int(fields["S"] or 0),
        )
    except ValueError as exc:  # 31/02, 25:00 and the like
        raise InvalidInput(f"--at {text!r} is not a real date and time ({exc})") from None
    if fields.get("offset"):
        at = naive.replace(tzinfo=_offset(fields["offset"], text))
    else:
        at = naive.replace(tzinfo=zone)
        if at.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise InvalidInput(
                f"--at {text!r} does not exist in {zone.key}: the clocks skip it (DST change)"
            )
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"--at {text!r} is out of range") from None
    if fields.get("y") is None and at < now - PAST_TOLERANCE:
        raise InvalidInput(
            f"{cleaned} today has passed in {zone.key} (it is {_local(now, zone)} there); "
            f"give the date too, e.g. {local_today + timedelta(days=1):%d/%m/%Y} {cleaned}"
        )
    check_not_past(at, now, zone=zone)
    return at


def check_not_past(at: datetime, now: datetime, *, zone: ZoneInfo) -> None:
    """Refuse an `at` more than PAST_TOLERANCE before `now`, showing both in `zone`."""
    _require_aware(at=at, now=now)
    if at < now - PAST_TOLERANCE:
        raise InvalidInput(
            f"{_local(at, zone)} ({zone.key}) is in the past; it is now {_local(now, zone)} there"
        )


def next_free_slot(
    *,
    now: datetime,
    zone: ZoneInfo,
    slots: Sequence[time],
    taken: Sequence[datetime],
    min_gap: timedelta,
    horizon_days: int = HORIZON_DAYS,
    lead: timedelta = SLOT_LEAD,
) -> datetime:
    """The earliest free slot at least `lead` after `now`, as aware UTC.

    Free means: no live delivery of the channel is due at that instant and every one of them
    (`taken`, slot or not: urgent posts count too) is at least `min_gap` away. With no slots
    the answer is the earliest instant from `now` on that keeps the gap. Raises InvalidInput when
    nothing fits within `horizon_days`.
    """
    _require_aware(now=now, taken=taken)
    if min_gap < timedelta(0) or lead < timedelta(0) or horizon_days < 1:
        raise ValueError("min_gap and lead must not be negative, horizon_days must be positive")
    busy = sorted(t.astimezone(UTC) for t in taken)
    if not slots:
        return _earliest_clear(now.astimezone(UTC), busy, min_gap)
    earliest, horizon = now + max(lead, timedelta.resolution), now + timedelta(days=horizon_days)
    # From yesterday: a DST jump can push a slot of the previous local day past midnight.
    first_day = now.astimezone(zone).date() - timedelta(days=1)
    last_day = horizon.astimezone(zone).date()
    candidates = {
        _slot_instant(first_day + timedelta(days=n), slot, zone)
        for n in range((last_day - first_day).days + 1)
        for slot in slots
    }
    for candidate in sorted(c for c in candidates if earliest <= c <= horizon):
        if _is_clear(candidate, busy, min_gap):
            return candidate
    shown = ", ".join(f"{s:%H:%M}" for s in sorted(slots))
    raise InvalidInput(
        f"no free slot in the next {horizon_days} days (slots {shown} in {zone.key}, "
        f"gap {min_gap}); add slots, lower the gap or give --at"
    )


def urgent_time(*, now: datetime, taken: Sequence[datetime], min_gap: timedelta) -> datetime:
    """When a `--now` post goes out: now, or the earliest instant that keeps `min_gap`.

    Urgent skips the slots but not the gap: two posts seconds apart on one account look like a
    bot to the platforms' spam heuristics, and an account flagged mid-crisis is worse than a few
    minutes' wait. An officer who must go earlier can lower the channel's gap.
    """
    _require_aware(now=now, taken=taken)
    if min_gap < timedelta(0):
        raise ValueError("min_gap must not be negative")
    return _earliest_clear(now.astimezone(UTC), sorted(t.astimezone(UTC) for t in taken), min_gap)


def into_hours(at: datetime, hours: tuple[time, time], zone: ZoneInfo) -> datetime:
    """`at` if it falls within the daily `hours` (start inclusive, end exclusive) in `zone`,
    else the next start of those hours, as aware UTC. For platforms that refuse some hours
    (Zalo broadcasts at night)."""
    _require_aware(at=at)
    start, end = hours
    local = at.astimezone(zone)
    if start <= local.time() < end:
        return at.astimezone(UTC)
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return _slot_instant(day, start, zone)


def _slot_instant(day: date, slot: time, zone: ZoneInfo) -> datetime:
    # fold=0 is exactly the rule in the module docstring: zoneinfo reads an ambiguous wall time as
    # its first occurrence and a skipped one with the offset from before the jump, i.e. later.
    return datetime.combine(day, slot, tzinfo=zone).astimezone(UTC)


def _is_clear(candidate: datetime, busy: Sequence[datetime], min_gap: timedelta) -> bool:
    """No busy instant equals `candidate` or lies less than `min_gap` from it (`busy` sorted)."""
    i = bisect_left(busy, candidate)
    if i < len(busy) and (busy[i] == candidate or busy[i] - candidate < min_gap):
        return False
    return not (i > 0 and candidate - busy[i - 1] < min_gap)


def _earliest_clear(start: datetime, busy: Sequence[datetime], min_gap: timedelta) -> datetime:
    """The earliest instant from `start` on at least `min_gap` from every busy one (sorted)."""
    at = start
    # One ascending pass suffices: each push is forced (every instant before busy + gap clashes)
    # and only moves `at` further from the busy instants already passed.
    for other in busy:
        if abs(at - other) < min_gap:
            at = other + min_gap
    return at


def _offset(text: str, original: str) -> timezone:
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        raise InvalidInput(f"--at {original!r} has an impossible UTC offset {text}")
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _local(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M:%S}"


def _require_aware(**values: datetime | Sequence[datetime]) -> None:
    # A naive datetime here is a caller's bug, not the user's input: ValueError, not InvalidInput.
    for name, value in values.items():
        for item in value if isinstance(value, Sequence) else (value,):
            if item.tzinfo is None or item.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime, got {item!r}")
