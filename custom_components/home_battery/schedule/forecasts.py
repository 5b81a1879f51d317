"""PV and load forecasts of the common Home Assistant integrations, averaged onto the plan's grid.

Accepted forms (detected from their shape; a list of several is merged):

* Open-Meteo Solar Forecast (rany2/ha-open-meteo-solar-forecast ``sensor.py``): the
  ``energy_production_*`` sensors' attributes ``watts`` (``{ISO time: W}``, the power at that
  instant, every 15 minutes from 00:00 to 23:45 of the sensor's day) and ``wh_period``
  (``{ISO hour: Wh}``, the energy of the hour starting there: the mean of the four quarter-hour
  powers, rany2/open-meteo-solar-forecast ``open_meteo_solar_forecast.py``). ``watts`` is used
  when present.
* Forecast.Solar: the response of Home Assistant's ``forecast_solar.get_forecast``
  (``{"forecast": [{time, value, energy_wh}]}``, ``value`` in W at ``time``; home-assistant/core
  ``homeassistant/components/forecast_solar/services.py``), and the API's own ``watts`` /
  ``watt_hours_period`` dictionaries (home-assistant-libs/forecast_solar
  ``tests/fixtures/forecast.json``). Its ``watts`` leave out the night: each day starts at
  sunrise and ends at sunset with 0 W. Its ``watt_hours_period`` is keyed by the END of each
  period (in that fixture, 08:00 holds 376 Wh = the mean of 270 W at 07:00 and 481 W at 08:00),
  while Home Assistant's action documents ``energy_wh`` as the energy of the interval starting
  at ``time``; the two disagree, so only the instantaneous ``watts`` / ``value`` are read.
* Solcast (BJReplay/ha-solcast-solar): the forecast sensors' attributes ``detailedForecast``
  (30 minutes) and ``detailedHourly`` (60 minutes), ``[{period_start, pv_estimate,
  pv_estimate10, pv_estimate90}]`` with ``pv_estimate`` the mean power in kW (the project's
  ``TEMPLATES.md``: "the detailed forecast breakdown values are power (kW)"), and the response
  of ``solcast_solar.query_forecast_data`` (``{"data": [...]}``, the same entries, its
  ``actions.py``). ``detailedForecast`` is used when both are present.
* a list of ``{start, end, power}`` (W, the mean over the period; ``end`` may be left out), or
  attributes holding one under ``forecast``, ``forecasts`` or ``data``.

Instantaneous powers (``watts``, ``value``) are joined linearly between neighbours and
integrated exactly over each slot; a day's first (last) sample of 0 W extends back (forward) to
that day's midnight, as the night's samples are simply left out. Samples more than a day apart
are not joined. Nothing is zero-filled: :class:`Forecast` says how many of the grid's slots the
forecast covers, and the plan's horizon ends where it stops.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from .entries import IntArray, KeyScales, Timed, entry_list, read_entries, read_samples
from .errors import PriceFormatError
from .grid import FloatArray, SlotGrid, accumulate, from_epoch, select_intervals
from .limits import LIMITS
from .sources import ENDED, GAP, SourceInfo

#: Power keys of forecast entries with their factor to W (Solcast's ``pv_estimate`` is kW).
POWER_KEYS: KeyScales = (
    ("power", 1.0),
    ("value", 1.0),
    ("watts", 1.0),
    ("pv_estimate", 1000.0),
)
#: Attribute / response keys holding a list of period entries, in order of preference.
LIST_KEYS = ("detailedForecast", "detailedHourly", "forecast", "forecasts", "data")
#: Samples further apart than this are not joined (seconds).
MAX_SAMPLE_GAP = 86400
#: A slot counts as covered when this share of it (after ``now`` for the first) has data.
FULL = 1 - 1e-6


@dataclass(frozen=True, slots=True)
class Forecast:
    """A forecast on a grid: mean W per slot for the first ``covered`` slots."""

    values: tuple[float, ...]
    covered: int
    """Slots, from the grid's first, with data; the forecast has none for slot ``covered``."""
    info: SourceInfo
    """``info.ends``: ``gap`` when the forecast has data again after a hole, else ``ended``."""


def align_forecast(
    source: object,
    grid: SlotGrid,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
    field: str = "pv_forecast",
) -> Forecast:
    """Average a forecast over each slot of ``grid`` (W); see the module docstring.

    The first slot needs data only after ``now``. Naive times are read in ``tz`` (default UTC).
    Raises PriceFormatError (with ``field``): ``starts_late`` when the forecast does not cover
    the grid's first slot, or a format error.
    """
    zone = tz or UTC
    try:
        timed, info = _collect(source, zone, grid.resolution * 60, field)
        if not len(timed):
            raise PriceFormatError("empty", "no forecast entries")
        return _on_grid(timed, grid, now, info)
    except PriceFormatError as err:
        err.field = field
        raise


def _on_grid(timed: Timed, grid: SlotGrid, now: datetime | None, info: SourceInfo) -> Forecast:
    """Mean per slot, and how far the forecast covers the grid without a hole."""
    step = grid.resolution * 60
    start = grid.start_ts
    timed = timed.window(start, start + grid.count * step)
    intervals = select_intervals(timed.intervals())
    sums, covered = accumulate(intervals, start, step, grid.count)
    needed = np.full(grid.count, float(step))
    if now is not None and grid.count:
        needed[0] -= min(max(now.timestamp() - start, 0.0), step - 1.0)
    full = covered >= needed * FULL
    if grid.count and not full[0]:
        raise PriceFormatError("starts_late", f"no data for the slot starting {grid.start}")
    missing = np.flatnonzero(~full)
    count = int(missing[0]) if missing.size else grid.count
    means = np.divide(sums, covered, out=np.zeros(grid.count), where=covered > 0)
    gap = bool(count < grid.count and (covered[count:] > 0).any())
    end = from_epoch(start + count * step)
    values = tuple(float(v) for v in means[:count])
    ends = GAP if gap else ENDED
    return Forecast(values, count, SourceInfo(info.kind, grid.start, end, info.keys, ends=ends))


def _collect(source: object, zone: tzinfo, length: int, field: str) -> tuple[Timed, SourceInfo]:
    """Entries (W) and the source's description from any supported forecast source."""
    if isinstance(source, Mapping):
        return _from_mapping(source, zone, length, field)
    items = entry_list(source)
    if all(isinstance(item, Mapping) for item in items) and _is_source(items[0]):  # type: ignore[arg-type]
        parts = [_from_mapping(item, zone, length, field) for item in items]  # type: ignore[arg-type]
        keys = tuple(dict.fromkeys(key for _, info in parts for key in info.keys))
        return Timed.join([timed for timed, _ in parts]), SourceInfo(parts[0][1].kind, keys=keys)
    return _from_list(items, zone, length, field, "list")


def _is_source(item: Mapping[object, object]) -> bool:
    """Return whether a mapping is a whole source (attributes, response), not an entry."""
    return any(isinstance(item.get(key), Mapping) for key in ("watts", "wh_period")) or any(
        isinstance(item.get(key), list | tuple) for key in LIST_KEYS
    )


def _from_mapping(
    source: Mapping[object, object], zone: tzinfo, length: int, field: str
) -> tuple[Timed, SourceInfo]:
    """Entries from attributes (Open-Meteo, Solcast, a list) or an action response."""
    watts = source.get("watts")
    if isinstance(watts, Mapping):
        return _from_samples(watts, zone, field), SourceInfo("open_meteo", keys=("watts",))
    energy = source.get("wh_period")
    if isinstance(energy, Mapping):
        return _from_hour_energy(energy, zone, field), SourceInfo("open_meteo", keys=("wh_period",))
    key = next((key for key in LIST_KEYS if isinstance(source.get(key), list | tuple)), None)
    if key is None:
        raise PriceFormatError("unknown_format", "no forecast in the mapping")
    items = entry_list(source[key])
    first = items[0]
    if isinstance(first, Mapping) and "energy_wh" in first:
        samples = {entry["time"]: entry["value"] for entry in items}  # type: ignore[index]
        timed = _from_samples(samples, zone, field)
        return timed, SourceInfo("forecast_solar", keys=(key,))
    kind = "solcast" if isinstance(first, Mapping) and "pv_estimate" in first else "attributes"
    return _from_list(items, zone, length, field, kind, key)


def _from_list(
    items: Sequence[object], zone: tzinfo, length: int, field: str, kind: str, key: str = ""
) -> tuple[Timed, SourceInfo]:
    """Entries from a list of period means."""
    timed = read_entries(items, POWER_KEYS, zone=zone, default_length=length, limit=LIMITS[field])
    return timed, SourceInfo(kind, keys=(key,) if key else ())


def _from_hour_energy(energy: Mapping[object, object], zone: tzinfo, field: str) -> Timed:
    """Open-Meteo's ``wh_period``: the energy (Wh) of the hour starting at each key."""
    times, values = read_samples(energy, zone=zone, limit=LIMITS[field])
    ends = times + 3600
    return Timed(times, ends, values, np.zeros(times.size, dtype=np.int64))


def _from_samples(samples: Mapping[object, object], zone: tzinfo, field: str) -> Timed:
    """Instantaneous powers, joined linearly, as one interval per pair of neighbours."""
    times, values = read_samples(samples, zone=zone, limit=LIMITS[field])
    times, values = _extend_zero_days(times, values, zone)
    near = np.diff(times) <= MAX_SAMPLE_GAP
    starts, ends = times[:-1][near], times[1:][near]
    # the mean of a linear stretch over any part of it is the mean of its ends there: split
    # each stretch at quarter-hours so every slot of 15, 30 or 60 minutes gets the exact mean
    pieces = [
        _split_linear(int(s), int(e), float(a), float(b))
        for s, e, a, b in zip(starts, ends, values[:-1][near], values[1:][near], strict=True)
    ]
    if not pieces:
        return Timed.empty()
    start = np.concatenate([p[0] for p in pieces])
    end = np.concatenate([p[1] for p in pieces])
    mean = np.concatenate([p[2] for p in pieces])
    return Timed(start, end, mean, np.zeros(start.size, dtype=np.int64))


def _split_linear(
    start: int, end: int, first: float, last: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Split a linear stretch at quarter-hour boundaries; each piece with its mean value."""
    quarter = 900
    cuts = np.arange((start // quarter + 1) * quarter, end, quarter, dtype=np.int64)
    edges = np.concatenate([[start], cuts, [end]]).astype(np.int64)
    level = first + (last - first) * (edges - start) / (end - start)
    return edges[:-1], edges[1:], (level[:-1] + level[1:]) / 2


def _extend_zero_days(
    times: IntArray, values: FloatArray, zone: tzinfo
) -> tuple[IntArray, FloatArray]:
    """Add a 0 W sample at the midnight before a day's first and after its last 0 W sample."""
    if not times.size:
        return times, values
    days = np.array([_midnight(int(t), zone) for t in times], dtype=np.int64)
    extra_t: list[int] = []
    for day in np.unique(days):
        index = np.flatnonzero(days == day)
        first, last = index[0], index[-1]
        if values[first] == 0 and times[first] > day:
            extra_t.append(int(day))
        next_day = _midnight(int(day) + 36 * 3600, zone)
        if values[last] == 0 and times[last] < next_day:
            extra_t.append(next_day)
    if not extra_t:
        return times, values
    all_t = np.concatenate([times, np.array(extra_t, dtype=np.int64)])
    all_v = np.concatenate([values, np.zeros(len(extra_t))])
    order = np.argsort(all_t, kind="stable")
    all_t, all_v = all_t[order], all_v[order]
    keep = np.concatenate([[True], np.diff(all_t) > 0])
    return all_t[keep], all_v[keep]


def _midnight(epoch: int, zone: tzinfo) -> int:
    """Return the local midnight (in ``zone``) that starts the day of ``epoch``."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone(zone)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
