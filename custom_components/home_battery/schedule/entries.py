"""Reading lists of timed entries (prices, forecasts, history) into arrays, fast.

Entries are mappings (``{start, end, price}`` and the like, keys found from the first entry) or
``(start, end, value)`` / ``(start, value)`` tuples. A list is read in one pass into numpy arrays
of epoch seconds and values, then cut to the planning window before anything else is built, so
ten years of quarter-hours (350,400 entries) cost a fraction of a second and a few MB (issue 17).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import PriceFormatError
from .grid import FloatArray, Interval, as_float, infer_ends, parse_time, to_epoch
from .limits import Limit

IntArray = npt.NDArray[np.int64]
KeyScales = tuple[tuple[str, float], ...]

START_KEYS = ("start", "start_time", "startsAt", "time", "hour", "from", "period_start")
END_KEYS = ("end", "end_time", "endsAt", "till", "to", "period_end")
#: Entries a single list may hold: far above ten years of quarter-hours, far below what would
#: exhaust memory. Checked before any entry is read.
MAX_ENTRIES = 1_000_000


@dataclass(frozen=True, slots=True)
class Timed:
    """Entries as arrays: start and end (epoch seconds), value, and rank (lower wins overlaps)."""

    start: IntArray
    end: IntArray
    value: FloatArray
    rank: IntArray

    @classmethod
    def empty(cls) -> "Timed":
        """Return no entries."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), np.zeros(0), none.copy())

    @classmethod
    def join(cls, parts: Sequence["Timed"]) -> "Timed":
        """Concatenate several sets of entries."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([part.start for part in parts]),
            np.concatenate([part.end for part in parts]),
            np.concatenate([part.value for part in parts]),
            np.concatenate([part.rank for part in parts]),
        )

    def __len__(self) -> int:
        """Return the number of entries."""
        return int(self.start.size)

    def window(self, low: int, high: int) -> "Timed":
        """Return the entries that overlap ``[low, high)``."""
        keep = (self.end > low) & (self.start < high)
        return Timed(self.start[keep], self.end[keep], self.value[keep], self.rank[keep])

    def intervals(self) -> list[Interval]:
        """Return the entries as intervals."""
        return [
            Interval(int(start), int(end), float(value), int(rank))
            for start, end, value, rank in zip(
                self.start, self.end, self.value, self.rank, strict=True
            )
        ]


def entry_list(source: object) -> Sequence[object]:
    """Return the entries of a list; raise for anything else, or for too many entries."""
    if isinstance(source, str | bytes) or not isinstance(source, Sequence):
        raise PriceFormatError("unknown_format", f"expected a list, got {type(source).__name__}")
    if not source:
        raise PriceFormatError("empty", "the list is empty")
    check_size(len(source))
    return source


def check_size(count: int) -> None:
    """Raise ``too_large`` for more than :data:`MAX_ENTRIES` entries."""
    if count > MAX_ENTRIES:
        raise PriceFormatError("too_large", f"{count} entries, at most {MAX_ENTRIES}")


def read_entries(
    entries: Sequence[object],
    value_keys: KeyScales,
    *,
    zone: tzinfo,
    default_length: int,
    limit: Limit,
    scale: float = 1.0,
    rank: int = 0,
    epoch_times: bool = False,
) -> Timed:
    """Read entries into arrays; values are multiplied by their key's factor and ``scale``.

    Entries without a value (None) are skipped, so they become gaps; entries without an end last
    until the next start (see :func:`infer_ends`). With ``epoch_times`` numbers are read as
    epoch seconds (the recorder's statistics); otherwise a number is not a time. Raises
    PriceFormatError for an entry that is not readable (``bad_entry``, ``bad_time``) or a value
    outside ``limit`` (``out_of_range``).
    """
    columns = _columns(entries, value_keys)
    starts_raw, ends_raw, values_raw, factor = columns
    values = np.array([_number(value) for value in values_raw], dtype=np.float64)
    present = ~np.isnan(values)
    starts = _epochs(starts_raw, zone, present, epoch_times=epoch_times)[present]
    values = values[present] * factor * scale
    if values.size and not np.all(np.abs(values) <= max(abs(limit.low), abs(limit.high))):
        worst = float(values[np.argmax(np.abs(values))])
        raise PriceFormatError("out_of_range", f"{worst:g} is outside {limit.describe()}")
    ends = np.full(starts.size, -1, dtype=np.int64)
    if ends_raw is not None:
        ends = _epochs(ends_raw, zone, present, optional=True, epoch_times=epoch_times)[present]
    missing = ends < 0
    if missing.any():
        inferred = np.array(infer_ends(starts.tolist(), default_length), dtype=np.int64)
        ends[missing] = inferred[missing]
    return Timed(starts, ends, values, np.full(starts.size, rank, dtype=np.int64))


def read_samples(
    samples: Mapping[object, object], *, zone: tzinfo, limit: Limit, scale: float = 1.0
) -> tuple[IntArray, FloatArray]:
    """Read ``{time: value}`` (a ``watts``-style dictionary) into sorted arrays."""
    check_size(len(samples))
    times = _epochs(list(samples), zone, np.ones(len(samples), dtype=bool))
    values = np.array([_number(value) for value in samples.values()], dtype=np.float64) * scale
    if np.isnan(values).any() or not np.all(np.abs(values) <= limit.high):
        raise PriceFormatError("out_of_range", f"a value is not a number in {limit.describe()}")
    order = np.argsort(times, kind="stable")
    return times[order], values[order]


def _columns(
    entries: Sequence[object], value_keys: KeyScales
) -> tuple[list[object], list[object] | None, list[object], float]:
    """Start, end (None if no entry has one) and value of every entry, and the value's factor.

    Mapping keys are taken from the first entry and read in one pass; lists whose entries
    differ in their keys are read entry by entry.
    """
    first = entries[0]
    if isinstance(first, Mapping):
        keys = _keys(first, value_keys)
        if keys is not None:
            start_key, end_key, value_key, factor = keys
            try:
                starts = [entry[start_key] for entry in entries]  # type: ignore[index]
                values = [entry[value_key] for entry in entries]  # type: ignore[index]
                ends = None if end_key is None else [entry[end_key] for entry in entries]  # type: ignore[index]
            except (KeyError, TypeError):
                pass
            else:
                return starts, ends, values, factor
    rows = [_row(entry, value_keys) for entry in entries]
    factors = {factor for *_, factor in rows}
    if len(factors) > 1:
        raise PriceFormatError("bad_entry", "entries use different units")
    ends_raw = [row[1] for row in rows]
    has_end = any(end is not None for end in ends_raw)
    starts = [row[0] for row in rows]
    return starts, ends_raw if has_end else None, [row[2] for row in rows], rows[0][3]


def _keys(
    entry: Mapping[Any, Any], value_keys: KeyScales
) -> tuple[str, str | None, str, float] | None:
    """Start key, end key (or None), value key and factor of a mapping entry."""
    start = next((key for key in START_KEYS if key in entry), None)
    end = next((key for key in END_KEYS if key in entry), None)
    value = next(((key, factor) for key, factor in value_keys if key in entry), None)
    if start is None or value is None:
        return None
    return start, end, value[0], value[1]


def _row(entry: object, value_keys: KeyScales) -> tuple[object, object, object, float]:
    """Start, end (or None), value and factor of one entry; raise ``bad_entry``."""
    if isinstance(entry, Mapping):
        keys = _keys(entry, value_keys)
        if keys is not None:
            start_key, end_key, value_key, factor = keys
            end = entry[end_key] if end_key is not None else None
            return entry[start_key], end, entry[value_key], factor
    elif isinstance(entry, list | tuple) and len(entry) in (2, 3):
        return entry[0], entry[1] if len(entry) == 3 else None, entry[-1], 1.0
    raise PriceFormatError("bad_entry", f"cannot read {entry!r:.80}")


def _number(value: object) -> float:
    """Return a finite float, NaN for None (a gap); raise ``bad_entry`` for anything else."""
    if value is None:
        return np.nan
    number = as_float(value)
    if number is None:
        raise PriceFormatError("bad_entry", f"not a finite number: {value!r:.40}")
    return number


def _epochs(
    raw: Sequence[object],
    zone: tzinfo,
    present: npt.NDArray[np.bool_],
    *,
    optional: bool = False,
    epoch_times: bool = False,
) -> IntArray:
    """Epoch seconds (rounded to the minute) of the times whose entry is present; ``bad_time``.

    Others give 0; with ``optional`` a missing time (None) gives -1 instead of an error.
    """
    fast = _iso_epochs(raw)
    if fast is not None:
        return fast
    out = np.zeros(len(raw), dtype=np.int64)
    flags: list[bool] = [bool(flag) for flag in present]
    for index, (value, keep) in enumerate(zip(raw, flags, strict=True)):
        if not keep:
            continue
        if value is None and optional:
            out[index] = -1
            continue
        if epoch_times and isinstance(value, int | float) and not isinstance(value, bool):
            out[index] = round(value / 60) * 60
            continue
        moment = parse_time(value, zone)
        if moment is None:
            raise PriceFormatError("bad_time", f"cannot read the time {value!r:.60}")
        out[index] = to_epoch(moment)
    return out


def _iso_epochs(raw: Sequence[object]) -> IntArray | None:
    """Fast path: ``YYYY-MM-DDTHH:MM:SS+HH:MM`` strings, parsed by numpy; None otherwise.

    This is how Home Assistant and the price integrations write times; numpy parses the local
    part (``datetime64`` takes no offset) and the few distinct offsets are subtracted.
    """
    if not raw or not all(isinstance(value, str) and len(value) == _ISO_LENGTH for value in raw):
        return None
    strings: list[str] = list(raw)  # type: ignore[arg-type]
    offsets: dict[str, int] = {}
    for suffix in {value[19:] for value in strings}:
        if suffix[0] not in "+-" or suffix[3] != ":" or not (suffix[1:3] + suffix[4:]).isdigit():
            return None
        sign = 1 if suffix[0] == "+" else -1
        offsets[suffix] = sign * (int(suffix[1:3]) * 3600 + int(suffix[4:]) * 60)
    if any(value[10] != "T" for value in strings):
        return None
    try:
        local = np.array([value[:19] for value in strings], dtype="datetime64[s]")
    except ValueError:
        return None
    shift = np.array([offsets[value[19:]] for value in strings], dtype=np.int64)
    seconds = local.astype(np.int64) - shift
    rounded: IntArray = (seconds + 30) // 60 * 60
    return rounded


_ISO_LENGTH = len("2026-01-01T00:00:00+01:00")
