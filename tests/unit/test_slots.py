"""Posting slots: parsing, the next free slot, urgent posts, DST, and the refusals users see."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crosspost.domain.slots import (
    SLOT_LEAD,
    check_not_past,
    into_hours,
    next_free_slot,
    parse_gap,
    parse_local_time,
    parse_slots,
    urgent_time,
)
from crosspost.errors import InvalidInput

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")
DAILY = (time(7, 30), time(11, 30), time(19, 0))
# 23:50 UTC on 1 December is 06:50 on 2 December in Hà Nội: the 07:30 slot is 00:30 UTC.
LATE_UTC = datetime(2026, 12, 1, 23, 50, tzinfo=UTC)
SLOT_0730 = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
SLOT_1130 = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(now: datetime = LATE_UTC, **kw: object) -> datetime:
    args: dict[str, object] = {"zone": HCM, "slots": DAILY, "taken": (), "min_gap": 20 * MIN}
    return next_free_slot(now=now, **(args | kw))  # type: ignore[arg-type]


# --- parse_slots -----------------------------------------------------------------------------


def test_slots_are_sorted_unique_and_accept_a_one_digit_hour() -> None:
    assert parse_slots("19:00, 07:30,11:30 ,7:30") == DAILY


def test_a_blank_slot_list_means_no_slots() -> None:
    assert parse_slots("  ") == ()


@pytest.mark.parametrize(
    "text",
    ["25:00", "24:00", "07:60", "7h30", "0730", "07:30:00", "07:30,,11:30", "07:30,", "٠٧:٣٠"],
)
def test_bad_slots_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="slot"):
        parse_slots(text)


@given(st.sets(st.times().map(lambda t: t.replace(second=0, microsecond=0)), min_size=1))
def test_any_written_slot_list_reads_back(times: set[time]) -> None:
    text = " , ".join(f"{t.hour}:{t.minute:02d}" for t in times)
    assert parse_slots(text) == tuple(sorted(times))


# --- parse_gap -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("20m", 20), ("1h", 60), ("1h30m", 90), ("90s", 1.5), ("0", 0), (" 2H ", 120), ("0m", 0)],
)
def test_gaps(text: str, minutes: float) -> None:
    assert parse_gap(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "20", "m", "-5m", "1.5h", "20min", "1h 30m", "30m1h"])
def test_bad_gaps_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_gap(text)


# --- parse_local_time and check_not_past -----------------------------------------------------

NOW = utc(2026, 11, 30, 1, 0)  # 08:00 in Hà Nội
DEC1_0930_ICT = utc(2026, 12, 1, 2, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 09:30", DEC1_0930_ICT),
        ("2026-12-01T09:30", DEC1_0930_ICT),
        ("  2026-12-01   09:30 ", DEC1_0930_ICT),
        ("01/12/2026 09:30", DEC1_0930_ICT),
        ("1/12/2026 9:30", DEC1_0930_ICT),
        ("12/01/2027 09:30", utc(2027, 1, 12, 2, 30)),  # day first: 12 January, not 1 December
        ("2026-12-01 09:30:15", DEC1_0930_ICT + timedelta(seconds=15)),
        ("2026-12-01T09:30+07:00", DEC1_0930_ICT),
        ("2026-12-01T09:30+0900", utc(2026, 12, 1, 0, 30)),
        ("2026-12-01T02:30Z", DEC1_0930_ICT),
        ("09:30", utc(2026, 11, 30, 2, 30)),  # today in Hà Nội
        ("08:00:03", NOW + timedelta(seconds=3)),
    ],
)
def test_at_formats(text: str, expected: datetime) -> None:
    at = parse_local_time(text, HCM, NOW)
    assert at == expected
    assert at.tzinfo is UTC


def test_an_explicit_offset_wins_over_the_channel_zone() -> None:
    assert parse_local_time("2026-12-01T09:30+07:00", PARIS, NOW) == DEC1_0930_ICT
    assert parse_local_time("2026-12-01 09:30", PARIS, NOW) == utc(2026, 12, 1, 8, 30)


def test_a_bare_time_already_past_today_is_refused_not_moved_to_tomorrow() -> None:
    with pytest.raises(InvalidInput, match=r"07:30 today has passed .* e\.g\. 01/12/2026 07:30"):
        parse_local_time("07:30", HCM, NOW)


def test_a_bare_time_is_today_in_the_channel_zone_not_in_utc() -> None:
    # 23:50 UTC on 1 Dec is already 2 Dec in Hà Nội, so 09:30 is 2 Dec 02:30 UTC.
    assert parse_local_time("09:30", HCM, LATE_UTC) == utc(2026, 12, 2, 2, 30)


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow",
        "2026-12-01",
        "2026-13-01 09:30",
        "31/02/2027 09:30",
        "2026-12-01 25:00",
        "2026-12-01T09:30+15:00",
        "09:30 01/12/2026",
        "01-12-2026 09:30",
        "",
    ],
)
def test_garbage_at_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="--at"):
        parse_local_time(text, HCM, NOW)


def test_a_past_at_is_refused_with_the_local_time_shown() -> None:
    with pytest.raises(
        InvalidInput, match=r"2026-11-29 09:30:00 \(Asia/Ho_Chi_Minh\) is in the past"
    ):
        parse_local_time("29/11/2026 09:30", HCM, NOW)


def test_check_not_past_tolerates_a_few_seconds() -> None:
    check_not_past(NOW - timedelta(seconds=4), NOW, zone=HCM)
    check_not_past(NOW + timedelta(days=1), NOW, zone=HCM)
    with pytest.raises(InvalidInput, match=r"2026-11-30 07:59:54 .* now 2026-11-30 08:00:00"):
        check_not_past(NOW - timedelta(seconds=6), NOW, zone=HCM)


def test_a_nonexistent_paris_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not exist in Europe/Paris"):
        parse_local_time("2026-03-29 02:30", PARIS, utc(2026, 3, 1, 0, 0))


def test_an_ambiguous_paris_time_is_its_first_occurrence() -> None:
    # 25 Oct 2026 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    assert parse_local_time("2026-10-25 02:30", PARIS, utc(2026, 10, 1, 0, 0)) == utc(
        2026, 10, 25, 0, 30
    )


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_local_time("09:30", HCM, datetime(2026, 11, 30, 8, 0))


# --- next_free_slot --------------------------------------------------------------------------


def test_the_next_slot_across_midnight_utc() -> None:
    assert plan() == SLOT_0730
    assert plan().astimezone(HCM).time() == time(7, 30)


def test_a_slot_closer_than_the_lead_is_skipped() -> None:
    just_before = SLOT_0730 - timedelta(seconds=30)
    assert plan(just_before) == SLOT_1130
    assert plan(just_before, lead=timedelta(0)) == SLOT_0730
    assert plan(SLOT_0730, lead=timedelta(0)) == SLOT_1130  # strictly after now


def test_a_taken_slot_is_skipped_even_without_a_gap() -> None:
    assert plan(taken=[SLOT_0730]) == SLOT_1130
    assert plan(taken=[SLOT_0730], min_gap=timedelta(0)) == SLOT_1130
    assert plan(taken=[SLOT_0730 + timedelta(seconds=5)], min_gap=timedelta(0)) == SLOT_0730


def test_a_taken_time_off_the_slots_pushes_the_next_slot() -> None:
    urgent = SLOT_0730 - 15 * MIN  # an urgent post at 07:15
    assert plan(taken=[urgent]) == SLOT_1130
    assert plan(taken=[urgent], min_gap=15 * MIN) == SLOT_0730  # exactly the gap is enough
    assert plan(taken=[SLOT_0730 + 19 * MIN]) == SLOT_1130  # a later post counts as well
    assert plan(taken=[SLOT_0730 + 20 * MIN]) == SLOT_0730


def test_taken_times_in_any_zone_and_order() -> None:
    taken = [SLOT_1130.astimezone(PARIS), SLOT_0730.astimezone(HCM)]
    assert plan(taken=taken) == utc(2026, 12, 2, 12, 0)  # 19:00 in Hà Nội


def test_a_full_day_rolls_over_to_tomorrow() -> None:
    day = [SLOT_0730, SLOT_1130, utc(2026, 12, 2, 12, 0)]
    assert plan(taken=day) == SLOT_0730 + timedelta(days=1)


def test_horizon_exhaustion_is_an_error_naming_the_slots() -> None:
    one = (time(7, 30),)
    taken = [SLOT_0730 + timedelta(days=n) for n in range(2)]
    assert plan(slots=one, taken=taken, horizon_days=3) == SLOT_0730 + timedelta(days=2)
    with pytest.raises(InvalidInput, match=r"no free slot in the next 2 days \(slots 07:30"):
        plan(slots=one, taken=taken, horizon_days=2)


def test_a_gap_longer_than_the_day_leaves_no_slot_in_a_short_horizon() -> None:
    with pytest.raises(InvalidInput, match="no free slot"):
        plan(taken=[SLOT_0730 - MIN], min_gap=timedelta(days=3), horizon_days=2)


def test_a_skipped_paris_slot_moves_past_the_gap() -> None:
    # 29 Mar 2026: clocks jump 02:00 → 03:00 in Paris, so 02:30 becomes 03:30 CEST (01:30 UTC),
    # after the 03:00 slot (01:00 UTC).
    now = utc(2026, 3, 28, 12, 0)
    slots = (time(2, 30), time(3, 0))
    first = plan(now, zone=PARIS, slots=slots, min_gap=timedelta(0))
    assert first == utc(2026, 3, 29, 1, 0)
    second = plan(now, zone=PARIS, slots=slots, taken=[first], min_gap=timedelta(0))
    assert second == utc(2026, 3, 29, 1, 30)
    assert second.astimezone(PARIS).time() == time(3, 30)


def test_an_ambiguous_paris_slot_happens_once() -> None:
    # 25 Oct 2026: 02:30 happens at 00:30 UTC and 01:30 UTC; only the first is a slot.
    now, slots = utc(2026, 10, 24, 12, 0), (time(2, 30),)
    first = plan(now, zone=PARIS, slots=slots)
    assert first == utc(2026, 10, 25, 0, 30)
    assert plan(now, zone=PARIS, slots=slots, taken=[first]) == utc(2026, 10, 26, 1, 30)


def test_no_slots_means_as_soon_as_the_gap_allows() -> None:
    now = LATE_UTC
    assert plan(slots=()) == now
    assert plan(slots=(), taken=[now - 5 * MIN]) == now + 15 * MIN
    # Pushed past 10' by the first post, then past 45' by the third: 45 + 20 = 65.
    chain = [now + 45 * MIN, now - 5 * MIN, now + 10 * MIN]
    assert plan(slots=(), taken=chain) == now + 65 * MIN
    assert plan(slots=(), taken=[now, now + 50 * MIN]) == now + 20 * MIN  # fits in between


def test_naive_taken_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="taken must be an aware"):
        plan(taken=[datetime(2026, 12, 2, 0, 30)])


# --- urgent_time -----------------------------------------------------------------------------


def test_urgent_goes_now_when_the_account_is_quiet() -> None:
    assert urgent_time(now=NOW, taken=[NOW - 21 * MIN, NOW + 20 * MIN], min_gap=20 * MIN) == NOW


def test_urgent_still_keeps_the_gap() -> None:
    assert urgent_time(now=NOW, taken=[NOW - 5 * MIN], min_gap=20 * MIN) == NOW + 15 * MIN
    assert urgent_time(now=NOW, taken=[NOW + 10 * MIN], min_gap=20 * MIN) == NOW + 30 * MIN
    assert urgent_time(now=NOW, taken=[NOW], min_gap=timedelta(0)) == NOW


# --- properties ------------------------------------------------------------------------------

ZONES = st.sampled_from([HCM, PARIS, ZoneInfo("America/New_York")])
# Slots avoid 02:xx, which Paris and New York skip once a year (tested above): here every
# answer's local wall time must be one of the slots exactly.
SLOTS = st.lists(
    st.builds(time, st.integers(0, 23).filter(lambda h: h != 2), st.sampled_from([0, 15, 30, 45])),
    min_size=1,
    max_size=4,
)
_ANY_NOW = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
# Whole minutes too, so that taken times fall exactly on slots.
NOWS = _ANY_NOW | _ANY_NOW.map(lambda t: t.replace(second=0, microsecond=0))
OFFSETS = st.lists(st.integers(-24 * 60, 5 * 24 * 60).map(lambda m: m * MIN), max_size=8)
GAPS = st.integers(0, 180).map(lambda m: m * MIN)


def _clear(at: datetime, taken: list[datetime], gap: timedelta) -> bool:
    return all(at != t and abs(at - t) >= gap for t in taken)


@settings(max_examples=150, deadline=None)
@given(ZONES, SLOTS, NOWS, OFFSETS, GAPS)
def test_next_free_slot_property(
    zone: ZoneInfo, slots: list[time], now: datetime, offsets: list[timedelta], gap: timedelta
) -> None:
    taken = [now + o for o in offsets]
    at = next_free_slot(now=now, zone=zone, slots=slots, taken=taken, min_gap=gap)
    assert at - now >= SLOT_LEAD
    local = at.astimezone(zone)
    assert local.time() in slots
    assert local.fold == 0  # not the repeat of an hour the clocks went back over
    assert _clear(at, taken, gap)
    # Nothing earlier would do: walk every whole minute from the lead to the answer.
    start = (now + SLOT_LEAD).replace(second=0, microsecond=0) + MIN
    for n in range(int((at - start) / MIN)):
        earlier = start + n * MIN
        wall = earlier.astimezone(zone)
        if wall.fold == 0 and wall.time() in slots:
            assert not _clear(earlier, taken, gap), earlier


@given(NOWS, OFFSETS, GAPS)
def test_urgent_time_property(now: datetime, offsets: list[timedelta], gap: timedelta) -> None:
    taken = [now + o for o in offsets]
    at = urgent_time(now=now, taken=taken, min_gap=gap)
    assert at >= now
    assert all(abs(at - t) >= gap for t in taken)
    # Earliest: either now, or just after a post it had to keep its distance from.
    assert at == now or any(at == t + gap for t in taken)


DAYTIME = (time(6), time(22))


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 12, 2, 12, 0), datetime(2026, 12, 2, 12, 0)),  # inside: unchanged
        (datetime(2026, 12, 2, 6, 0), datetime(2026, 12, 2, 6, 0)),  # the start is inside
        (datetime(2026, 12, 2, 22, 0), datetime(2026, 12, 3, 6, 0)),  # the end is not
        (datetime(2026, 12, 2, 23, 30), datetime(2026, 12, 3, 6, 0)),  # late: next morning
        (datetime(2026, 12, 2, 2, 15), datetime(2026, 12, 2, 6, 0)),  # small hours: same day
    ],
)
def test_into_hours_moves_night_times_to_the_next_morning(
    local: datetime, expected: datetime
) -> None:
    moved = into_hours(local.replace(tzinfo=HCM), DAYTIME, HCM)
    assert moved == expected.replace(tzinfo=HCM)
    assert moved.tzinfo == UTC


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
@settings(max_examples=200, deadline=None)
def test_into_hours_is_never_earlier_and_always_inside(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    moved = into_hours(at, DAYTIME, HCM)
    assert moved >= at
    assert moved - at < timedelta(hours=8, minutes=1)
    assert DAYTIME[0] <= moved.astimezone(HCM).time() < DAYTIME[1]
