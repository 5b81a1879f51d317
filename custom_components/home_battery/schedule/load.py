"""A load forecast from the house's consumption history (the action's ``load_forecast: auto``).

Input: Home Assistant's long-term (hourly) or short-term (5-minute) statistics of the house's
consumption, one row per period as ``recorder.statistics.statistics_during_period`` returns
them (``StatisticsRow``, HA 2025.4 ``homeassistant/components/recorder/statistics.py``): ``start``
(epoch seconds, or a datetime / ISO string), optionally ``end``, and one of ``mean`` (W, a power
sensor; ask the recorder for ``units={"power": "W"}``), ``change`` (kWh used in the period),
``sum`` (kWh, cumulative) or ``state`` (kWh, a meter reading; both taken at the period's end, so a
period's use is its value minus the previous row's; a drop is a meter reset and the period is
left out).

Method, for each slot of the plan (local time of ``tz``, daylight-saving days included):

* the same weekday and time of day in each of the last ``weeks`` weeks (lags of 7, 14, ...
  days), and the same time of day on each of the last 7 days that are the same kind of day
  (Monday-Friday or weekend), each the mean power over the slot's span in the history (a lag
  counts if at least half of it is covered);
* the forecast is the mean of the weekly median and the daily median, or the one that exists:
  weekly captures weekday/weekend habits, daily the recent level; medians keep a one-off (a car
  charged once) from shifting the forecast;
* a slot with neither takes the median of all history at that time of day, and failing that
  the median of all history: fewer weeks of data, or gaps, degrade the forecast, never stop it.

The result covers the whole grid (it is a profile, not data that ends).
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np

from .entries import IntArray, Timed, check_size, read_entries
from .errors import PriceFormatError
from .forecasts import Forecast
from .grid import FloatArray, SlotGrid, select_intervals
from .limits import LIMITS, Limit
from .sources import ENDED, SourceInfo

#: Weeks of history used by default.
WEEKS = 4
#: Days of the daily lags.
DAYS = 7
#: Share of a slot's span the history must cover for a lag to count.
MIN_COVER = 0.5

#: Range of a cumulative reading (``sum``, ``state``), Wh.
METER_READING = Limit(-1e13, 1e13, "Wh")
_ENERGY_KEYS = (("change", 1000.0),)
_POWER_KEYS = (("mean", 1.0),)


def forecast_load(
    history: Sequence[Mapping[str, object]],
    grid: SlotGrid,
    *,
    tz: tzinfo,
    now: datetime | None = None,
    weeks: int = WEEKS,
) -> Forecast:
    """Mean load (W) per slot of ``grid`` from consumption history (see the module docstring).

    Raises PriceFormatError (field ``load_history``): ``empty`` without usable rows, or a format
    error for an unreadable row.
    """
    try:
        timed = _history(history, tz)
    except PriceFormatError as err:
        err.field = "load_history"
        raise
    if not len(timed):
        raise PriceFormatError("empty", "no consumption history", field="load_history")
    cumulative = _cumulative(timed)
    step = grid.resolution * 60
    starts = grid.start_ts + step * np.arange(grid.count)
    weekly = _lagged(cumulative, starts, step, [7 * k for k in range(1, weeks + 1)], tz)
    daily = _lagged(cumulative, starts, step, list(range(1, DAYS + 1)), tz, same_kind=True)
    estimate = _blend(_median(weekly), _median(daily))
    missing = np.isnan(estimate)
    if missing.any():
        by_time = _median(_lagged(cumulative, starts, step, list(range(1, 7 * weeks + 1)), tz))
        estimate = np.where(missing, by_time, estimate)
    overall = float(np.median(timed.value))
    estimate = np.where(np.isnan(estimate), overall, estimate)
    info = SourceInfo("history_profile", grid.start, grid.end, ends=ENDED)
    return Forecast(tuple(float(v) for v in estimate), grid.count, info)


def _history(history: Sequence[Mapping[str, object]], tz: tzinfo) -> Timed:
    """Mean power (W) per history period."""
    if not history:
        return Timed.empty()
    check_size(len(history))
    first = history[0]
    limit = LIMITS["load_history"]
    for keys in (_POWER_KEYS, _ENERGY_KEYS):
        if keys[0][0] in first:
            timed = read_entries(
                history, keys, zone=tz, default_length=3600, limit=limit, epoch_times=True
            )
            if keys is _ENERGY_KEYS:  # kWh per period -> W
                return _per_hour(timed)
            return timed
    for key in ("sum", "state"):
        if key in first:
            readings = read_entries(
                history,
                ((key, 1000.0),),
                zone=tz,
                default_length=3600,
                limit=METER_READING,
                epoch_times=True,
            )
            return _differences(readings)
    raise PriceFormatError("unknown_format", "history rows need mean, change, sum or state")


def _per_hour(timed: Timed) -> Timed:
    """Energy per period (Wh) to mean power (W)."""
    hours = (timed.end - timed.start) / 3600
    return Timed(timed.start, timed.end, timed.value / hours, timed.rank)


def _differences(readings: Timed) -> Timed:
    """Cumulative readings (Wh at each period's end) to mean power per period; drops resets."""
    order = np.argsort(readings.start, kind="stable")
    start, end, value = readings.start[order], readings.end[order], readings.value[order]
    used = np.diff(value)
    keep = used >= 0
    timed = Timed(start[1:][keep], end[1:][keep], used[keep], readings.rank[1:][keep])
    return _per_hour(timed)


def _cumulative(timed: Timed) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Knots, energy integral and covered time of the history, for exact span averages."""
    intervals = select_intervals(timed.intervals())
    knots: list[float] = []
    energy: list[float] = []
    covered: list[float] = []
    total_e = total_c = 0.0
    for item in intervals:
        knots.append(item.start)
        energy.append(total_e)
        covered.append(total_c)
        length = item.end - item.start
        total_e += item.value * length
        total_c += length
        knots.append(item.end)
        energy.append(total_e)
        covered.append(total_c)
    return np.array(knots, dtype=np.float64), np.array(energy), np.array(covered)


def _lagged(
    cumulative: tuple[FloatArray, FloatArray, FloatArray],
    starts: IntArray,
    step: int,
    lag_days: list[int],
    tz: tzinfo,
    *,
    same_kind: bool = False,
) -> FloatArray:
    """Mean history power over each slot's span, ``lag`` local days earlier (lags x slots).

    With ``same_kind`` a lag counts only if it falls on the same kind of day (Monday-Friday or
    Saturday-Sunday) as the slot.
    """
    knots, energy, covered = cumulative
    out = np.full((len(lag_days), starts.size), np.nan)
    weekend = np.array([_is_weekend(int(s), tz) for s in starts])
    for row, days in enumerate(lag_days):
        begin = np.array([_days_before(int(s), days, tz) for s in starts], dtype=np.float64)
        finish = begin + step
        # knots may repeat where intervals touch: interp then takes the last, which is right
        seconds = np.interp(finish, knots, covered) - np.interp(begin, knots, covered)
        joules = np.interp(finish, knots, energy) - np.interp(begin, knots, energy)
        ok = seconds >= MIN_COVER * step
        if same_kind:
            ok &= np.array([_is_weekend(int(b), tz) for b in begin]) == weekend
        out[row, ok] = joules[ok] / seconds[ok]
    return out


def _is_weekend(epoch: int, tz: tzinfo) -> bool:
    """Return whether ``epoch`` falls on a Saturday or Sunday in ``tz``."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(tz).weekday() >= 5


def _days_before(epoch: int, days: int, tz: tzinfo) -> int:
    """Return the same local wall-clock time ``days`` days earlier (DST aware)."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone(tz)
    earlier = (local.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=tz)
    return int(earlier.timestamp())


def _median(samples: FloatArray) -> FloatArray:
    """Median over lags, NaN where no lag has data."""
    result = np.full(samples.shape[1], np.nan)
    known = ~np.isnan(samples)
    for column in np.flatnonzero(known.any(axis=0)):
        result[column] = float(np.median(samples[known[:, column], column]))
    return result


def _blend(weekly: FloatArray, daily: FloatArray) -> FloatArray:
    """Mean of the two estimates where both exist, else the one that does."""
    both = np.stack([weekly, daily])
    count = (~np.isnan(both)).sum(axis=0)
    total = np.nansum(both, axis=0)
    blended: FloatArray = np.divide(total, count, out=np.full(weekly.size, np.nan), where=count > 0)
    return blended
