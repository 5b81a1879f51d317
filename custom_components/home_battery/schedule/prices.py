"""Normalise the price formats of common Home Assistant sources to one slot grid.

Accepted price sources (all detected from their shape):

* an entity's attributes: custom Nord Pool ``raw_today``/``raw_tomorrow`` ``{start, end, value}``,
  ENTSO-E ``prices``/``prices_today``/``prices_tomorrow`` ``{time, price}``, EPEX Spot ``data``
  ``{start_time, end_time, price_per_kwh}``, Energi Data Service ``raw_today``/``raw_tomorrow``/
  ``forecast`` ``{hour, price}``, Amber ``forecasts`` ``{start_time, end_time, per_kwh}``,
  Octopus Energy ``rates`` ``{start, end, value_inc_vat}`` (formats: ``reference/scheduling.md``
  section 1, checked on real data in ``field-audit/planning.md``);
* a list of ``{start, end, price}`` (currency per kWh; ``end`` may be left out);
* the response of ``nordpool.get_prices_for_date`` (``{AREA: [{start, end, price}]}``, per MWh;
  Home Assistant core ``homeassistant/components/nordpool/services.py`` and its test snapshot
  ``tests/components/nordpool/snapshots/test_services.ambr``) or of ``tibber.get_prices``
  (``{"prices": {home: [{start_time, price}]}}``);
* a list of several of these (e.g. the Nord Pool responses for today and tomorrow, or two
  entities' attributes): they are merged; where they overlap, the finer entry wins.

``area`` picks the Nord Pool area or Tibber home of a response holding several.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from math import ceil, isnan

import numpy as np

from .entries import START_KEYS, KeyScales, Timed, check_size, entry_list, read_entries
from .errors import PlanInputError, PriceFormatError
from .grid import (
    RESOLUTIONS,
    FloatArray,
    Interval,
    SlotGrid,
    accumulate,
    finest_resolution,
    from_epoch,
    grid_origin,
    local_floor,
    select_intervals,
)
from .limits import LIMITS, MAX_PRICE, check
from .sources import ENDED, GAP, SIZE_LIMIT, SourceInfo

#: Price keys with the factor that converts them to currency per kWh, in order of preference.
PRICE_KEYS: KeyScales = (
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
#: The planning window: prices further ahead than this many days are dropped before anything is
#: built, and the plan says so (``sources.horizon``: ``max_horizon``, ``size_limit``).
MAX_DAYS = 14
#: Prices of the hour before now are kept, so hourly billing can average the current hour.
LOOK_BACK = 3600

__all__ = [
    "MAX_DAYS",
    "PriceFormatError",
    "PriceRead",
    "PriceSeries",
    "apply_formula",
    "normalize_prices",
    "read_prices",
]


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
        return averages(intervals, grid)


@dataclass(frozen=True, slots=True)
class PriceRead:
    """A price source on its grid, and what it was (``info.ends``: why the series stops)."""

    series: PriceSeries
    info: SourceInfo


def read_prices(
    source: object,
    *,
    now: datetime,
    tz: tzinfo | None = None,
    resolution: int | None = None,
    hourly_billing: bool = False,
    area: str | None = None,
    field: str = "prices",
) -> PriceRead:
    """Turn any supported price source into a UTC slot grid from ``now`` on.

    The grid uses ``resolution`` minutes (15, 30 or 60), or the finest resolution in the input
    when None: coarser entries are held over their sub-slots and finer ones averaged. With
    ``hourly_billing`` each slot gets the mean price of its local hour (local to ``tz``, so
    half-hour zones and daylight-saving days group right). Slots that ended by ``now`` are
    dropped; the series stops at the first gap and after :data:`MAX_DAYS`. Naive times are read
    in ``tz`` (default: ``now``'s time zone). Raises PriceFormatError (with ``field``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone aware")
    try:
        return _read(source, now, tz or now.tzinfo, resolution, hourly_billing, area, field)
    except PriceFormatError as err:
        err.field = field
        raise


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
    """Return :func:`read_prices`' series as ``price * multiplier + adder``."""
    read = read_prices(
        source, now=now, tz=tz, resolution=resolution, hourly_billing=hourly_billing, area=area
    )
    return apply_formula(read.series, multiplier, adder)


def apply_formula(series: PriceSeries, multiplier: float, adder: float) -> PriceSeries:
    """Return ``price * multiplier + adder`` after checking all three stay in range.

    Raises PlanInputError: ``buy_price_multiplier`` / ``buy_price_adder`` out of range, or
    ``prices`` when their product leaves the price range (e.g. 1e308 x 10 would be infinite).
    """
    check("buy_price_multiplier", multiplier)
    check("buy_price_adder", adder)
    if (multiplier, adder) == (1.0, 0.0):
        return series
    derived = series.with_formula(multiplier, adder)
    if not all(abs(value) <= MAX_PRICE for value in derived.values):
        raise PlanInputError(
            "prices",
            f"price x buy_price_multiplier + buy_price_adder leaves {LIMITS['prices'].describe()}",
        )
    return derived


def _read(
    source: object,
    now: datetime,
    zone: tzinfo,
    resolution: int | None,
    hourly_billing: bool,
    area: str | None,
    field: str,
) -> PriceRead:
    """Read, window and grid a price source (see :func:`read_prices`)."""
    if resolution is not None and resolution not in RESOLUTIONS:
        raise PriceFormatError("bad_resolution", f"{resolution} is not one of {RESOLUTIONS}")
    default_length = (resolution or 60) * 60
    timed, info = _collect(source, zone, area, default_length, field)
    if not len(timed):
        raise PriceFormatError("empty", "no prices found")
    now_s = int(now.timestamp())
    horizon = now_s + MAX_DAYS * 86400
    capped = bool((timed.end > horizon).any())
    timed = timed.window(now_s - LOOK_BACK, horizon)
    intervals = select_intervals(timed.intervals())
    if not intervals:
        raise PriceFormatError("no_future_prices", f"no price for a slot ending after {now}")
    step_minutes = resolution or finest_resolution(intervals)
    step = step_minutes * 60
    start = grid_origin(intervals, zone, step_minutes)
    count = ceil((min(max(item.end for item in intervals), horizon) - start) / step)
    grid = SlotGrid(from_epoch(start), step_minutes, count)
    values = averages(intervals, grid)
    if hourly_billing and step_minutes < 60:
        values = _hourly_means(values, grid, zone)
    kept = _future_run(values, start, step, now_s)
    if kept is None:
        raise PriceFormatError("no_future_prices", f"no price for a slot ending after {now}")
    first, stop = kept
    series = PriceSeries(
        SlotGrid(grid.slot_start(first), step_minutes, stop - first),
        tuple(float(v) for v in values[first:stop]),
    )
    ends = GAP if stop < count else SIZE_LIMIT if capped else ENDED
    return PriceRead(series, replace(info, start=series.grid.start, end=series.grid.end, ends=ends))


def averages(intervals: Sequence[Interval], grid: SlotGrid) -> FloatArray:
    """Time-weighted mean per slot; NaN where a slot is not fully covered."""
    step = grid.resolution * 60
    sums, covered = accumulate(intervals, grid.start_ts, step, grid.count)
    full = covered >= step - 0.5
    means: FloatArray = np.divide(sums, covered, out=np.full(grid.count, np.nan), where=full)
    return means


def _hourly_means(values: FloatArray, grid: SlotGrid, zone: tzinfo) -> FloatArray:
    """Replace each value by the mean of the known values in its local hour."""
    step = grid.resolution * 60
    base = grid.start_ts
    hours = np.array([local_floor(base + i * step, zone, 60) for i in range(grid.count)])
    _, groups = np.unique(hours, return_inverse=True)
    known = ~np.isnan(values)
    totals = np.bincount(groups[known], weights=values[known], minlength=groups.max() + 1)
    counts = np.bincount(groups[known], minlength=groups.max() + 1)
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


def _collect(
    source: object, zone: tzinfo, area: str | None, default_length: int, field: str
) -> tuple[Timed, SourceInfo]:
    """Entries and the source's description from any supported price source."""
    if isinstance(source, Mapping):
        return _from_mapping(source, zone, area, default_length, field)
    items = entry_list(source)
    if all(isinstance(item, Mapping) and _is_source(item) for item in items):
        parts = [_from_mapping(item, zone, area, default_length, field) for item in items]  # type: ignore[arg-type]
        keys = tuple(dict.fromkeys(key for _, info in parts for key in info.keys))
        first = parts[0][1]
        return Timed.join([timed for timed, _ in parts]), replace(first, keys=keys)
    timed = read_entries(
        items, PRICE_KEYS, zone=zone, default_length=default_length, limit=LIMITS[field]
    )
    return timed, SourceInfo("list")


def _is_source(item: Mapping[object, object]) -> bool:
    """Return whether a mapping is a whole source (attributes, a response), not an entry."""
    if any(key in item for key in START_KEYS):
        return False
    return any(isinstance(value, list | tuple | Mapping) for value in item.values())


def _from_mapping(
    source: Mapping[object, object], zone: tzinfo, area: str | None, length: int, field: str
) -> tuple[Timed, SourceInfo]:
    """Entries from an entity's attributes or an action response."""
    lists = [key for key, _ in PRICE_ATTRIBUTES if isinstance(source.get(key), list | tuple)]
    if lists:
        return _from_attributes(source, lists, zone, length, field), SourceInfo(
            "attributes", keys=tuple(lists)
        )
    prices = source.get("prices")
    if isinstance(prices, Mapping):  # tibber.get_prices
        name, entries = _pick_area(prices, area)
        timed = read_entries(
            entry_list(entries), PRICE_KEYS, zone=zone, default_length=length, limit=LIMITS[field]
        )
        return timed, SourceInfo("tibber", keys=("prices",), area=name)
    if source and all(isinstance(value, list | tuple) for value in source.values()):
        # nordpool.get_prices_for_date: {AREA: [{start, end, price}]}, price per MWh
        name, entries = _pick_area(source, area)
        timed = read_entries(
            entry_list(entries),
            PRICE_KEYS,
            zone=zone,
            default_length=length,
            limit=LIMITS[field],
            scale=0.001,
        )
        return timed, SourceInfo("nordpool", keys=(name,), area=name)
    raise PriceFormatError("unknown_format", "no known price attribute or response shape")


def _from_attributes(
    attributes: Mapping[object, object], keys: list[str], zone: tzinfo, length: int, field: str
) -> Timed:
    """Entries from the attributes of a price entity."""
    unit = f"{attributes.get('unit_of_measurement', '')} {attributes.get('unit', '')}".lower()
    scale = 0.001 if "mwh" in unit else 1.0
    if attributes.get("price_in_cents") is True:
        scale *= 0.01
    ranks = dict(PRICE_ATTRIBUTES)
    parts = []
    for key in keys:
        entries = attributes[key]
        assert isinstance(entries, list | tuple)  # checked by the caller
        if not entries:
            continue
        check_size(len(entries))
        parts.append(
            read_entries(
                entries,
                PRICE_KEYS,
                zone=zone,
                default_length=length,
                limit=LIMITS[field],
                scale=scale,
                rank=ranks[key],
            )
        )
    return Timed.join(parts)


def _pick_area(areas: Mapping[object, object], area: str | None) -> tuple[str, object]:
    """Return the name and entries of the chosen area (Nord Pool) or home (Tibber)."""
    if area is not None:
        if area not in areas:
            raise PriceFormatError("unknown_area", f"{area} is not in the response")
        return area, areas[area]
    if len(areas) == 1:
        name, entries = next(iter(areas.items()))
        return str(name), entries
    raise PriceFormatError("ambiguous_area", f"choose one of {sorted(map(str, areas))}")
