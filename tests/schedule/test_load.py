"""The load forecast from consumption history (load_forecast: auto)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.home_battery.schedule import PriceFormatError, SlotGrid, forecast_load

TZ = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 2, tzinfo=TZ)  # a Monday, local midnight


def usage(moment: datetime) -> float:
    """W: 300 at night, 1500 in the evening, weekends 200 W more all day."""
    local = moment.astimezone(TZ)
    base = 1500.0 if 17 <= local.hour < 22 else 300.0
    return base + (200.0 if local.weekday() >= 5 else 0.0)


def hourly_rows(weeks: int, kind: str = "mean", skip: set[int] | None = None) -> list[dict]:
    start = NOW - timedelta(weeks=weeks)
    rows, total = [], 0.0
    for hour in range(weeks * 7 * 24):
        begin = start + timedelta(hours=hour)
        power = usage(begin)
        total += power / 1000
        if skip and hour in skip:
            continue
        value = {"mean": power, "change": power / 1000, "sum": total}[kind]
        end = (begin + timedelta(hours=1)).timestamp()
        rows.append({"start": begin.timestamp(), "end": end, kind: value})
    return rows


GRID = SlotGrid(NOW.astimezone(UTC), 15, 7 * 96)  # a week of quarter-hours


@pytest.mark.parametrize("kind", ["mean", "change", "sum"])
def test_the_weekday_and_time_profile_is_recovered(kind: str) -> None:
    forecast = forecast_load(hourly_rows(4, kind), GRID, tz=TZ, now=NOW)
    assert forecast.covered == GRID.count
    expected = [usage(start) for start in GRID.starts()]
    tolerance = 1e-6 if kind != "sum" else 1e-3
    assert np.allclose(forecast.values, expected, atol=tolerance)
    assert forecast.info.kind == "history_profile"


def test_gaps_and_a_single_week_still_give_a_forecast() -> None:
    rng = np.random.default_rng(1)
    skip = {int(h) for h in rng.choice(7 * 24, 40, replace=False)}
    forecast = forecast_load(hourly_rows(1, skip=skip), GRID, tz=TZ, now=NOW)
    assert forecast.covered == GRID.count
    assert all(200 <= value <= 1700 for value in forecast.values)


def test_a_meter_reset_is_left_out_and_rows_are_required() -> None:
    rows = hourly_rows(2, "sum")
    for row in rows[100:]:
        row["sum"] -= 10_000  # a reset: one negative difference
    forecast = forecast_load(rows, GRID, tz=TZ, now=NOW)
    assert min(forecast.values) >= 0
    with pytest.raises(PriceFormatError) as err:
        forecast_load([], GRID, tz=TZ)
    assert (err.value.reason, err.value.field) == ("empty", "load_history")
    with pytest.raises(PriceFormatError) as err:
        forecast_load([{"start": 0, "max": 3}], GRID, tz=TZ)
    assert err.value.field == "load_history"


def test_daylight_saving_keeps_the_local_time_of_day() -> None:
    # the week after 2026-03-29 (clocks forward): 17:00 local is 15:00Z, a week earlier 16:00Z
    now = datetime(2026, 3, 30, tzinfo=TZ)
    start = now - timedelta(weeks=4)
    rows = [
        {"start": (start + timedelta(hours=h)).timestamp(),
         "mean": usage(start + timedelta(hours=h))}
        for h in range(int((now - start).total_seconds() // 3600))
    ]  # fmt: skip
    grid = SlotGrid(now.astimezone(UTC), 60, 24)
    forecast = forecast_load(rows, grid, tz=TZ, now=now)
    assert forecast.values == pytest.approx([usage(s) for s in grid.starts()])
