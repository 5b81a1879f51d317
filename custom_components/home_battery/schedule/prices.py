"""Normalise the price and forecast formats of common Home Assistant sources to one slot grid.

Accepted price sources (all detected from their shape):

* an entity's attributes: custom Nord Pool ``raw_today``/``raw_tomorrow`` ``{start, end, value}``,
  ENTSO-E ``prices``/``prices_today``/``prices_tomorrow`` ``{time, price}``, EPEX Spot ``data``
  ``{start_time, end_time, price_per_kwh}``, Energi Data Service ``raw_today``/``raw_tomorrow``/
  ``forecast`` ``{hour, price}``, Amber ``forecasts`` ``{start_time, end_time, per_kwh}``,
  Octopus Energy ``rates`` ``{start, end, value_inc_vat}``;
* a list of ``{start, end, price}`` (currency per kWh; ``end`` may be left out);
* the response of ``nordpool.get_prices_for_date`` (``{AREA: [{start, end, price}]}``, per MWh)
  or of ``tibber.get_prices`` (``{"prices": {home: [{start_time, price}]}}``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from math import ceil, isnan

import numpy as np

from .grid import (
    RESOLUTIONS,
    FloatArray,
    Interval,
    SlotGrid,
    accumulate,
    as_float,
    finest_resolution,
    from_epoch,
    grid_origin,
    infer_ends,
    local_floor,
    parse_time,
    select_intervals,
    to_epoch,
)

START_KEYS = ("start", "start_time", "startsAt", "time", "hour", "from", "period_start")
END_KEYS = ("end", "end_time", "endsAt", "till", "to", "period_end")
#: Price keys with the factor that converts them to currency per kWh, in order of preference.
PRICE_KEYS = (
    ("price", 1.0),
    ("value", 1.0),
    ("price_per_kwh", 1.0),
    ("per_kwh", 1.0),
    ("value_inc_vat", 1.0),
    ("total", 1.0),
    ("price_ct_per_kwh", 0.01),
    ("price_eur_per_mwh", 0.001),
    ("price_per_mwh", 0.001),
)
#: Power keys (W, or kW for Solcast's ``pv_estimate``) of forecast entries.
POWER_KEYS = (("power", 1.0), ("value", 1.0), ("watts", 1.0), ("pv_estimate", 1000.0))
#: Attribute keys that hold price lists, with their rank (forecasts rank below actual prices).
PRICE_ATTRIBUTES = (
    ("raw_today", 0),
    ("raw_tomorrow", 0),
    ("prices", 0),
    ("prices_today", 0),
    ("prices_tomorrow", 0),
    ("data", 0),
    ("forecasts", 0),
    ("rates", 0),
    ("forecast", 1),
)
FORECAST_ATTRIBUTES = ("forecast", "forecasts", "detailedForecast", "data")
#: Prices further ahead than this many days are ignored.
MAX_DAYS = 14

KeyScales = tuple[tuple[str, float], ...]


class PriceFormatError(ValueError):
    """Input that is not a price or forecast list this module understands.

    ``reason`` is short and machine readable: ``empty``, ``unknown_format``, ``bad_entry``,
    ``bad_time``, ``unknown_area``, ``ambiguous_area``, ``bad_resolution`` or
    ``no_future_prices``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        """Store the reason and build the message."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One price (currency per kWh) per slot of ``grid``."""

    grid: SlotGrid
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        """Check that there is one value per slot."""
        if len(self.values) != self.grid.count:
            raise ValueError("one value per slot is needed")

    def __len__(self) -> int:
        """Return the number of slots."""
        return self.grid.count

    def array(self) -> FloatArray:
        """Return the values as a numpy array."""
        return np.array(self.values, dtype=np.float64)

    def with_formula(self, multiplier: float = 1.0, adder: float = 0.0) -> "PriceSeries":
        """Derive a price from this one: ``value * multiplier + adder`` (fees, taxes, VAT)."""
        return replace(self, values=tuple(v * multiplier + adder for v in self.values))

    def head(self, count: int) -> "PriceSeries":
        """Return the first ``count`` slots."""
        return PriceSeries(self.grid.head(count), self.values[:count])

    def resample(self, grid: SlotGrid) -> FloatArray:
        """Time-weighted values on another grid; NaN where this series does not cover a slot."""
        step = self.grid.resolution * 60
        base = self.grid.start_ts
        intervals = [
            Interval(base + i * step, base + (i + 1) * step, value)
            for i, value in enumerate(self.values)
        ]
        return _averages(intervals, grid)


def normalize_prices(
    source: object,
    *,
    now: datetime,
    resolution: int | None = None,
    hourly_billing: bool = False,
    multiplier: float = 1.0,
    adder: float = 0.0,
    area: str | None = None,
    tz: tzinfo | None = None,
) -> PriceSeries:
    """Turn any supported price source into a UTC slot grid from ``now`` on.

    The grid uses ``resolution`` minutes (15, 30 or 60), or the finest resolution in the input
    when None: coarser entries are held over their sub-slots and finer ones averaged. With
    ``hourly_billing`` each slot gets the mean price of its (local) hour. Slots that ended by
    ``now`` are dropped, the series stops at the first gap and after ``MAX_DAYS``. The result is
    ``price * multiplier + adder``. ``area`` picks the Nord Pool area or Tibber home when a
    response holds several; naive times are read in ``tz`` (default: ``now``'s time zone).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone aware")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise PriceFormatError("bad_resolution", f"{resolution} is not one of {RESOLUTIONS}")
    zone = tz or now.tzinfo
    default_length = (resolution or 60) * 60
    intervals = select_intervals(_collect_prices(source, zone, area, default_length))
    if not intervals:
        raise PriceFormatError("empty", "no prices found")
    # Keep the current hour (for hourly billing) and at most MAX_DAYS ahead.
    now_s = int(now.timestamp())
    horizon = now_s + MAX_DAYS * 86400
    intervals = [item for item in intervals if item.end > now_s - 3600 and item.start < horizon]
    if not intervals:
        raise PriceFormatError("no_future_prices", f"no price for a slot ending after {now}")
    step_minutes = resolution or finest_resolution(intervals)
    step = step_minutes * 60
    start = grid_origin(intervals, zone, step_minutes)
    count = ceil((min(max(item.end for item in intervals), horizon) - start) / step)
    grid = SlotGrid(from_epoch(start), step_minutes, count)
    values = _averages(intervals, grid)
    if hourly_billing and step_minutes < 60:
        hour_start = local_floor(start, zone, 60)
        values = _hourly_means(values, (start - hour_start) // step, 3600 // step)
    kept = _future_run(values, start, step, now_s)
    if kept is None:
        raise PriceFormatError("no_future_prices", f"no price for a slot ending after {now}")
    first_index, stop = kept
    series = PriceSeries(
        SlotGrid(grid.slot_start(first_index), step_minutes, stop - first_index),
        tuple(float(v) for v in values[first_index:stop]),
    )
    return series.with_formula(multiplier, adder) if (multiplier, adder) != (1.0, 0.0) else series


def align_forecast(
    source: object, grid: SlotGrid, *, tz: tzinfo | None = None
) -> tuple[float, ...]:
    """Average a forecast of ``{start, end, power}`` (W) over each slot of ``grid``.

    ``source`` is a list of entries (``end`` may be left out) or an entity's attributes with the
    list under ``forecast``, ``forecasts``, ``detailedForecast`` or ``data``. A slot the forecast
    does not reach gets 0 W; a slot it partly covers gets the average over the covered part.
    Naive times are read in ``tz`` (default UTC).
    """
    zone = tz or UTC
    items: object = source
    if isinstance(source, Mapping):
        found = [source[key] for key in FORECAST_ATTRIBUTES if key in source]
        if not found:
            raise PriceFormatError("unknown_format", "no forecast list in the mapping")
        items = found[0]
    entries = _entry_list(items)
    intervals = select_intervals(
        _parse_entries(entries, POWER_KEYS, 1.0, 0, zone, grid.resolution * 60)
    )
    if not intervals:
        raise PriceFormatError("empty", "no forecast entries")
    step = grid.resolution * 60
    sums, covered = accumulate(intervals, grid.start_ts, step, grid.count)
    average = np.divide(sums, covered, out=np.zeros(grid.count), where=covered > 0)
    return tuple(float(v) for v in average)


def _averages(intervals: Sequence[Interval], grid: SlotGrid) -> FloatArray:
    """Time-weighted mean per slot; NaN where a slot is not fully covered."""
    step = grid.resolution * 60
    sums, covered = accumulate(intervals, grid.start_ts, step, grid.count)
    full = covered >= step - 0.5
    means: FloatArray = np.divide(sums, covered, out=np.full(grid.count, np.nan), where=full)
    return means


def _hourly_means(values: FloatArray, first_offset: int, per_hour: int) -> FloatArray:
    """Replace each value by the mean of the known values in its hour."""
    groups = (np.arange(len(values)) + first_offset) // per_hour
    known = ~np.isnan(values)
    totals = np.bincount(groups[known], weights=values[known], minlength=groups[-1] + 1)
    counts = np.bincount(groups[known], minlength=groups[-1] + 1)
    means = np.divide(totals, counts, out=np.full(len(totals), np.nan), where=counts > 0)
    return np.where(known, means[groups], np.nan)


def _future_run(values: FloatArray, start: int, step: int, now: int) -> tuple[int, int] | None:
    """Index range of the first contiguous run of known slots that end after ``now``."""
    first = max(0, (now - start) // step)
    while first < len(values) and isnan(values[first]):
        first += 1
    if first >= len(values):
        return None
    stop = first
    while stop < len(values) and not isnan(values[stop]):
        stop += 1
    return first, stop


def _collect_prices(
    source: object, zone: tzinfo, area: str | None, default_length: int
) -> list[Interval]:
    """Intervals from any supported price source."""
    if isinstance(source, Mapping):
        if any(isinstance(source.get(key), list | tuple) for key, _ in PRICE_ATTRIBUTES):
            return _from_attributes(source, zone, default_length)
        prices = source.get("prices")
        if isinstance(prices, Mapping):  # tibber.get_prices
            return _from_areas(prices, area, 1.0, zone, default_length)
        if source and all(isinstance(value, list | tuple) for value in source.values()):
            # nordpool.get_prices_for_date: {AREA: [{start, end, price}]}, price per MWh
            return _from_areas(source, area, 0.001, zone, default_length)
        raise PriceFormatError("unknown_format", "no known price attribute or response shape")
    entries = _entry_list(source)
    return _parse_entries(entries, PRICE_KEYS, 1.0, 0, zone, default_length)


def _from_attributes(
    attributes: Mapping[object, object], zone: tzinfo, default_length: int
) -> list[Interval]:
    """Intervals from the attributes of a price entity."""
    unit = f"{attributes.get('unit_of_measurement', '')} {attributes.get('unit', '')}".lower()
    scale = 0.001 if "mwh" in unit else 1.0
    if attributes.get("price_in_cents") is True:
        scale *= 0.01
    by_rank: dict[int, list[object]] = {}
    for key, rank in PRICE_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, list | tuple):
            by_rank.setdefault(rank, []).extend(value)
    intervals: list[Interval] = []
    for rank, entries in by_rank.items():
        intervals += _parse_entries(entries, PRICE_KEYS, scale, rank, zone, default_length)
    return intervals


def _from_areas(
    areas: Mapping[object, object],
    area: str | None,
    scale: float,
    zone: tzinfo,
    default_length: int,
) -> list[Interval]:
    """Intervals of one area (Nord Pool) or home (Tibber) of an action response."""
    if area is not None:
        if area not in areas:
            raise PriceFormatError("unknown_area", f"{area} is not in the response")
        entries = areas[area]
    elif len(areas) == 1:
        entries = next(iter(areas.values()))
    else:
        raise PriceFormatError("ambiguous_area", f"choose one of {sorted(map(str, areas))}")
    return _parse_entries(_entry_list(entries), PRICE_KEYS, scale, 0, zone, default_length)


def _entry_list(source: object) -> list[object]:
    """Return the entries of a list; raise for anything else."""
    if isinstance(source, str | bytes) or not isinstance(source, Sequence):
        raise PriceFormatError("unknown_format", f"expected a list, got {type(source).__name__}")
    if not source:
        raise PriceFormatError("empty", "the list is empty")
    return list(source)


def _parse_entries(
    entries: Sequence[object],
    value_keys: KeyScales,
    scale: float,
    rank: int,
    zone: tzinfo,
    default_length: int,
) -> list[Interval]:
    """Intervals from dict entries (or ``(start, end, value)`` / ``(start, value)`` tuples).

    Entries without a value (None) are skipped, so they become gaps.
    """
    parsed: list[tuple[int, int | None, float]] = []
    for entry in entries:
        fields = _fields(entry, value_keys)
        if fields is None:
            raise PriceFormatError("bad_entry", f"cannot read {entry!r:.80}")
        start_raw, end_raw, value, factor = fields
        start = parse_time(start_raw, zone)
        end = parse_time(end_raw, zone) if end_raw is not None else None
        if start is None or (end_raw is not None and end is None):
            raise PriceFormatError("bad_time", f"cannot read the time of {entry!r:.80}")
        number = as_float(value)
        if number is None:
            if value is not None:
                raise PriceFormatError("bad_entry", f"not a number in {entry!r:.80}")
            continue
        parsed.append((to_epoch(start), to_epoch(end) if end else None, number * factor * scale))
    ends = infer_ends([item[0] for item in parsed], default_length)
    return [
        Interval(start, end if end is not None else inferred, value, rank)
        for (start, end, value), inferred in zip(parsed, ends, strict=True)
    ]


def _fields(entry: object, value_keys: KeyScales) -> tuple[object, object, object, float] | None:
    """Start, end (or None), value and its unit factor of one entry."""
    if isinstance(entry, Mapping):
        start = next((entry[key] for key in START_KEYS if key in entry), None)
        end = next((entry[key] for key in END_KEYS if key in entry), None)
        for key, factor in value_keys:
            if key in entry:
                return (start, end, entry[key], factor) if start is not None else None
        return None
    if isinstance(entry, list | tuple) and len(entry) in (2, 3):
        return entry[0], entry[1] if len(entry) == 3 else None, entry[-1], 1.0
    return None
