"""When a published post's engagement is read next: the age-decayed polling ladder.

A post gathers most of its engagement in its first day, so it is read often while young and
rarely when old, then not at all. The ladder is a list of steps "while the post is younger than
`until`, read it every `every`"; the default reads hourly for a day, every 6 hours to day 7,
daily to day 30, weekly to day 90, then stops.

Poll times lie on a fixed grid per step, anchored where the step starts (the previous step's
`until`, 0 for the first), never on "the last poll + interval": a late round does not shift every
later poll, and polls missed while the worker was down are skipped, not caught up. The last
`until` is itself a poll time, so each post gets one final reading before it is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Step:
    """While a post is younger than `until`, read its engagement every `every`."""

    until: timedelta
    every: timedelta

    def __str__(self) -> str:
        return f"{format_duration(self.until)}:{format_duration(self.every)}"


Ladder = tuple[Step, ...]
"""Steps in increasing `until` order (see `parse_ladder`)."""

DEFAULT_LADDER_TEXT = ("1d:1h", "7d:6h", "30d:1d", "90d:7d")
"""Hourly to day 1, 6-hourly to day 7, daily to day 30, weekly to day 90, then stop."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """A duration like ``90s``, ``15m``, ``6h``, ``30d`` or ``1w``; ValueError otherwise."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 15m, 6h, 30d or 1w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact form `parse_duration` reads back (``7d`` rather than ``1w``)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_ladder(steps: Iterable[str]) -> Ladder:
    """Steps written ``"until:every"`` (``"1d:1h"``), checked; ValueError names the bad one.

    At least one step; `until` strictly increasing; `every` positive and no longer than the
    step itself (a longer interval would never poll inside the step).
    """
    ladder: list[Step] = []
    for text in steps:
        until_text, sep, every_text = text.partition(":")
        if not sep:
            raise ValueError(f"step {text!r} is not 'age:interval' like '1d:1h'")
        step = Step(parse_duration(until_text), parse_duration(every_text))
        start = ladder[-1].until if ladder else timedelta(0)
        if step.until <= start:
            raise ValueError(f"step {text!r}: ages must increase from step to step")
        if step.every <= timedelta(0):
            raise ValueError(f"step {text!r}: the interval must be positive")
        if step.every > step.until - start:
            raise ValueError(f"step {text!r}: the interval is longer than the step")
        ladder.append(step)
    if not ladder:
        raise ValueError("the ladder needs at least one step")
    return tuple(ladder)


DEFAULT_LADDER: Ladder = parse_ladder(DEFAULT_LADDER_TEXT)
"""The default ladder, parsed."""


def next_poll(published_at: datetime, now: datetime, ladder: Sequence[Step]) -> datetime | None:
    """When to read a post published at `published_at` next, after a reading at `now`.

    The first grid point strictly after `now` in the step that `now` falls in (capped at that
    step's end, where the next step's grid starts); None once the post is as old as the last
    step's `until`: it is not polled any more.
    """
    age = max(now - published_at, timedelta(0))  # a clock behind the platform's: as if just now
    start = timedelta(0)
    for step in ladder:
        if age < step.until:
            done = (age - start) // step.every  # whole intervals since the step began
            return published_at + min(start + (done + 1) * step.every, step.until)
        start = step.until
    return None
