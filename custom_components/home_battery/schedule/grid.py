"""Slot grids in UTC and the time-weighted mapping of time intervals onto them.

Times are handled as integer epoch seconds once parsed, so daylight-saving days (23 or 25 hours,
92 or 100 quarter-hours) need no special case: the grid simply steps in UTC.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from math import isfinite
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]

#: Slot lengths in minutes that a plan may use.
RESOLUTIONS = (15, 30, 60)


@dataclass(frozen=True, slots=True)
class SlotGrid:
    """A run of equal, contiguous slots starting at ``start`` (UTC)."""

    start: datetime
    resolution: int
    count: int

    def __post_init__(self) -> None:
        """Check that the grid is well formed."""
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            raise ValueError("grid start must be an aware UTC datetime")
        if self.resolution <= 0 or self.count < 0:
            raise ValueError("grid resolution must be positive and count not negative")

    @property
    def step(self) -> timedelta:
        """Length of one slot."""
        return timedelta(minutes=self.resolution)

    @property
    def end(self) -> datetime:
        """End of the last slot."""
        return self.start + self.count * self.step

    @property
    def start_ts(self) -> int:
        """Start as epoch seconds."""
        return int(self.start.timestamp())

    def slot_start(self, index: int) -> datetime:
        """Start of slot ``index``."""
        return self.start + index * self.step

    def starts(self) -> list[datetime]:
        """Start of every slot."""
        step = self.step
        return [self.start + i * step for i in range(self.count)]

    def head(self, count: int) -> "SlotGrid":
        """Return the first ``count`` slots of this grid."""
        return SlotGrid(self.start, self.resolution, min(count, self.count))


@dataclass(frozen=True, slots=True)
class Interval:
    """A value that holds from ``start`` to ``end`` (epoch seconds)."""

    start: int
    end: int
    value: float
    rank: int = 0
    """Lower ranks win where intervals overlap (actual prices before forecasts)."""


def parse_time(value: object, default_tz: tzinfo) -> datetime | None:
    """Parse a datetime or ISO 8601 string; naive times are read in ``default_tz``.

    Returns None when the value is not a time.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=default_tz)
    return moment


def to_epoch(moment: datetime) -> int:
    """Return epoch seconds, rounded to the minute (Amber starts its intervals at :00:01)."""
    return round(moment.timestamp() / 60) * 60


def from_epoch(seconds: int) -> datetime:
    """UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def as_float(value: object) -> float | None:
    """Return a finite float from a number or numeric string, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if isfinite(number) else None


def infer_ends(starts: Sequence[int], default: int) -> list[int]:
    """End of each start-only entry: the next distinct start, or the previous length.

    A gap longer than an hour means data is missing, so the previous length is used instead.
    """
    distinct = sorted(set(starts))
    if not distinct:
        return []
    length: dict[int, int] = {}
    previous = default
    for here, after in zip(distinct, [*distinct[1:], None], strict=True):
        gap = after - here if after is not None else 0
        if 0 < gap <= 3600:
            previous = gap
        length[here] = previous
    return [start + length[start] for start in starts]


def select_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Drop overlapping intervals, keeping lower ranks, then finer ones; sorted by start."""
    candidates = sorted(
        (item for item in intervals if item.end > item.start),
        key=lambda item: (item.rank, item.end - item.start, item.start),
    )
    starts: list[int] = []
    ends: list[int] = []
    chosen: list[Interval] = []
    for item in candidates:
        index = bisect_right(starts, item.start)
        if index > 0 and ends[index - 1] > item.start:
            continue
        if index < len(starts) and starts[index] < item.end:
            continue
        starts.insert(index, item.start)
        ends.insert(index, item.end)
        chosen.insert(index, item)
    return chosen


def finest_resolution(intervals: Iterable[Interval]) -> int:
    """Return the finest plan resolution (minutes) the intervals' lengths call for."""
    shortest = min(item.end - item.start for item in intervals) / 60
    for resolution in RESOLUTIONS:
        if shortest <= resolution:
            return resolution
    return RESOLUTIONS[-1]


def local_floor(seconds: int, zone: tzinfo, resolution: int) -> int:
    """Floor epoch seconds to a multiple of ``resolution`` minutes on the clock of ``zone``."""
    offset = from_epoch(seconds).astimezone(zone).utcoffset()
    shift = int(offset.total_seconds()) if offset is not None else 0
    step = resolution * 60
    return (seconds + shift) // step * step - shift


def grid_origin(intervals: Sequence[Interval], zone: tzinfo, resolution: int) -> int:
    """Start of a grid of ``resolution`` minutes that covers the intervals (sorted by start).

    The grid follows the boundaries of the first interval at least one slot long, so data in
    any time zone lines up; without one it follows the clock of ``zone``.
    """
    step = resolution * 60
    first = intervals[0].start
    anchor = next((item for item in intervals if item.end - item.start >= step), None)
    if anchor is None:
        return local_floor(first, zone, resolution)
    return first - (first - anchor.start) % step


def accumulate(
    intervals: Iterable[Interval], start: int, step: int, count: int
) -> tuple[FloatArray, FloatArray]:
    """Time-weighted sums of the values per slot, and the seconds of each slot covered."""
    sums = np.zeros(count)
    covered = np.zeros(count)
    for item in intervals:
        first = max((item.start - start) // step, 0)
        last = min((item.end - 1 - start) // step, count - 1)
        for index in range(first, last + 1):
            slot_start = start + index * step
            overlap = min(item.end, slot_start + step) - max(item.start, slot_start)
            if overlap > 0:
                sums[index] += item.value * overlap
                covered[index] += overlap
    return sums, covered
