"""The price normaliser for every supported source format, and forecast alignment."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.home_battery.schedule import (
    Battery,
    PriceFormatError,
    SlotGrid,
    align_forecast,
    build_problem,
    normalize_prices,
)

from .helpers import series

AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2026, 1, 15, tzinfo=AMS)  # local midnight, UTC+1
NOW = DAY  # nothing is in the past unless a test says so


def quarters(start: datetime, values: list[float]) -> list[tuple[datetime, datetime, float]]:
    return [
        (start + timedelta(minutes=15 * i), start + timedelta(minutes=15 * (i + 1)), v)
        for i, v in enumerate(values)
    ]


def hours(start: datetime, values: list[float]) -> list[tuple[datetime, datetime, float]]:
    return [
        (start + timedelta(hours=i), start + timedelta(hours=i + 1), v)
        for i, v in enumerate(values)
    ]


def utc(series_start: datetime) -> datetime:
    return series_start.astimezone(UTC)


# --- source formats -------------------------------------------------------------------------


def test_custom_nordpool_raw_today_and_tomorrow() -> None:
    today = quarters(DAY, [0.1 * i for i in range(96)])
    tomorrow = quarters(DAY + timedelta(days=1), [1.0] * 96)
    attributes = {
        "unit": "kWh",
        "unit_of_measurement": "EUR/kWh",
        "today": [v for _, _, v in today],
        "raw_today": [{"start": s, "end": e, "value": v} for s, e, v in today],
        "raw_tomorrow": [{"start": s, "end": e, "value": v} for s, e, v in tomorrow],
        "tomorrow_valid": True,
    }
    prices = normalize_prices(attributes, now=NOW)
    assert prices.grid == SlotGrid(utc(DAY), 15, 192)
    assert prices.values[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert prices.values[-1] == 1.0


def test_custom_nordpool_in_mwh_with_missing_tomorrow_values() -> None:
    today = hours(DAY, [100.0] * 24)
    attributes = {
        "unit": "MWh",
        "unit_of_measurement": "EUR/MWh",
        "raw_today": [
            {"start": s.isoformat(), "end": e.isoformat(), "value": v} for s, e, v in today
        ],
        "raw_tomorrow": [
            {"start": s.isoformat(), "end": e.isoformat(), "value": None}
            for s, e, _ in hours(DAY + timedelta(days=1), [0] * 24)
        ],
    }
    prices = normalize_prices(attributes, now=NOW)
    assert prices.grid.resolution == 60
    assert len(prices) == 24
    assert set(prices.values) == {0.1}


def test_entsoe_prices_with_duplicated_lists() -> None:
    entries = [{"time": s.isoformat(), "price": v} for s, _, v in hours(DAY, list(range(48)))]
    attributes = {
        "prices_today": entries[:24],
        "prices_tomorrow": entries[24:],
        "prices": entries,
        "unit_of_measurement": "EUR/kWh",
    }
    prices = normalize_prices(attributes, now=NOW)
    assert prices.grid == SlotGrid(utc(DAY), 60, 48)
    assert prices.values == tuple(float(v) for v in range(48))


def test_epex_spot_data_in_euro_and_cent() -> None:
    data = [
        {"start_time": s.isoformat(), "end_time": e.isoformat(), "price_per_kwh": v}
        for s, e, v in quarters(DAY, [0.2, 0.3])
    ]
    assert normalize_prices({"data": data}, now=NOW).values == (0.2, 0.3)
    cents = [
        {"start_time": s, "end_time": e, "price_ct_per_kwh": v}
        for s, e, v in quarters(DAY, [20.0, 30.0])
    ]
    assert normalize_prices({"data": cents}, now=NOW).values == pytest.approx((0.2, 0.3))


def test_energi_data_service_prefers_actual_prices_over_the_forecast() -> None:
    raw = [{"hour": s, "price": 1.0} for s, _, _ in quarters(DAY, [0] * 96)]
    forecast = [{"hour": s, "price": 2.0} for s, _, _ in hours(DAY + timedelta(hours=12), [0] * 36)]
    prices = normalize_prices({"raw_today": raw, "raw_tomorrow": [], "forecast": forecast}, now=NOW)
    assert prices.grid.resolution == 15
    assert len(prices) == 96 + 24 * 4  # the forecast's first 12 hours are covered by raw_today
    assert set(prices.values[:96]) == {1.0}
    assert set(prices.values[96:]) == {2.0}


def test_amber_forecasts_with_one_second_offsets() -> None:
    start = datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Australia/Sydney"))
    forecasts = [
        {
            "start_time": (start + timedelta(minutes=30 * i, seconds=1)).isoformat(),
            "end_time": (start + timedelta(minutes=30 * (i + 1))).isoformat(),
            "per_kwh": 0.1 * (i + 1),
            "spot_per_kwh": 0.05,
        }
        for i in range(4)
    ]
    prices = normalize_prices({"forecasts": forecasts}, now=start)
    assert prices.grid == SlotGrid(utc(start), 30, 4)
    assert prices.values == pytest.approx((0.1, 0.2, 0.3, 0.4))


def test_octopus_rates() -> None:
    start = datetime(2026, 1, 15, tzinfo=ZoneInfo("Europe/London"))
    rates = [
        {"start": s, "end": s + timedelta(minutes=30), "value_inc_vat": 0.25, "value_exc_vat": 0.2}
        for s in (start + timedelta(minutes=30 * i) for i in range(48))
    ]
    prices = normalize_prices({"rates": rates}, now=start)
    assert prices.grid == SlotGrid(utc(start), 30, 48)
    assert set(prices.values) == {0.25}


def test_plain_lists_dicts_without_end_and_tuples() -> None:
    listed = [{"start": s, "end": e, "price": v} for s, e, v in quarters(DAY, [1.0, 2.0, 3.0])]
    assert normalize_prices(listed, now=NOW).values == (1.0, 2.0, 3.0)
    no_end = [{"start": s.isoformat(), "price": str(v)} for s, _, v in quarters(DAY, [1.0, 2.0])]
    only = normalize_prices(no_end, now=NOW)
    assert only.grid == SlotGrid(utc(DAY), 15, 2)
    assert only.values == (1.0, 2.0)
    tuples = [(s, e, v) for s, e, v in hours(DAY, [4.0, 5.0])]
    assert normalize_prices(tuples, now=NOW).values == (4.0, 5.0)


def test_nordpool_action_response_per_mwh() -> None:
    response = {
        "SE3": [
            {"start": s.isoformat(), "end": e.isoformat(), "price": v}
            for s, e, v in quarters(DAY, [250.0, 500.0])
        ]
    }
    assert normalize_prices(response, now=NOW).values == pytest.approx((0.25, 0.5))
    response["SE4"] = response["SE3"][:1]
    with pytest.raises(PriceFormatError) as err:
        normalize_prices(response, now=NOW)
    assert err.value.reason == "ambiguous_area"
    assert normalize_prices(response, now=NOW, area="SE4").values == pytest.approx((0.25,))
    with pytest.raises(PriceFormatError) as err:
        normalize_prices(response, now=NOW, area="NO1")
    assert err.value.reason == "unknown_area"


def test_tibber_action_response() -> None:
    response = {
        "prices": {
            "Home": [
                {"start_time": s.isoformat(), "price": v} for s, _, v in hours(DAY, [0.3, 0.4, 0.5])
            ]
        }
    }
    prices = normalize_prices(response, now=NOW)
    assert prices.grid == SlotGrid(utc(DAY), 60, 3)
    assert prices.values == (0.3, 0.4, 0.5)


def test_naive_times_are_read_in_the_time_zone_of_now() -> None:
    naive = [{"start": "2026-01-15T00:00:00", "end": "2026-01-15T01:00:00", "price": 1.0}]
    assert normalize_prices(naive, now=NOW).grid.start == datetime(2026, 1, 14, 23, tzinfo=UTC)


# --- grid, resolution and time handling ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "slots"), [(datetime(2026, 3, 29), 92), (datetime(2026, 10, 25), 100)]
)
def test_daylight_saving_days(day: datetime, slots: int) -> None:
    midnight = day.replace(tzinfo=AMS)
    end = midnight + timedelta(days=1)
    moment, entries = midnight.astimezone(UTC), []
    while moment < end.astimezone(UTC):
        local = moment.astimezone(AMS)  # local times with the right offset on both sides
        entries.append(
            {
                "start": local.isoformat(),
                "end": (moment + timedelta(minutes=15)).astimezone(AMS).isoformat(),
                "price": 1.0,
            }
        )
        moment += timedelta(minutes=15)
    prices = normalize_prices(entries, now=midnight)
    assert len(prices) == slots
    assert prices.grid.end == end.astimezone(UTC)
    hourly = [
        {
            "start": (midnight.astimezone(UTC) + timedelta(hours=i)).astimezone(AMS),
            "price": float(i),
        }
        for i in range(slots // 4)
    ]
    hourly_prices = normalize_prices(hourly, now=midnight)
    assert len(hourly_prices) == slots // 4
    assert len(normalize_prices(hourly, now=midnight, resolution=15)) == slots


def test_mixed_hourly_and_quarter_hour_input() -> None:
    entries = [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [1.0, 2.0])]
    entries += [
        {"start": s, "end": e, "price": v}
        for s, e, v in quarters(DAY + timedelta(hours=2), [1.0, 2.0, 3.0, 6.0])
    ]
    fine = normalize_prices(entries, now=NOW)
    assert fine.grid.resolution == 15
    assert fine.values == (1.0,) * 4 + (2.0,) * 4 + (1.0, 2.0, 3.0, 6.0)
    coarse = normalize_prices(entries, now=NOW, resolution=60)
    assert coarse.values == (1.0, 2.0, 3.0)


def test_hourly_billing_averages_the_quarters_including_past_ones() -> None:
    entries = [
        {"start": s, "end": e, "price": v} for s, e, v in quarters(DAY, [1, 2, 3, 6, 4, 4, 4, 4])
    ]
    now = DAY + timedelta(minutes=20)
    billed = normalize_prices(entries, now=now, hourly_billing=True)
    assert billed.grid.start == utc(DAY + timedelta(minutes=15))
    assert billed.values == (3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0)
    assert normalize_prices(entries, now=now).values == (2.0, 3.0, 6.0, 4.0, 4.0, 4.0, 4.0)


def test_past_slots_are_dropped_and_the_current_one_kept() -> None:
    entries = [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [1.0, 2.0, 3.0])]
    prices = normalize_prices(entries, now=DAY + timedelta(hours=1, minutes=59))
    assert prices.grid.start == utc(DAY + timedelta(hours=1))
    assert prices.values == (2.0, 3.0)
    assert normalize_prices(entries, now=DAY + timedelta(hours=2)).values == (3.0,)


def test_the_series_stops_at_the_first_gap() -> None:
    entries = [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [1.0, 2.0, 3.0, 4.0])]
    del entries[2]
    assert normalize_prices(entries, now=NOW).values == (1.0, 2.0)


def test_far_future_and_old_entries_are_ignored() -> None:
    entries = [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [1.0, 2.0])]
    entries.append({"start": DAY - timedelta(days=300), "price": 9.0})
    entries.append({"start": datetime(2100, 1, 1, tzinfo=UTC), "price": 9.0})
    assert normalize_prices(entries, now=NOW).values == (1.0, 2.0)


def test_buy_price_formula() -> None:
    entries = [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [0.1, -0.1])]
    prices = normalize_prices(entries, now=NOW, multiplier=1.21, adder=0.15)
    assert prices.values == pytest.approx((0.1 * 1.21 + 0.15, -0.1 * 1.21 + 0.15))
    assert prices.with_formula(2.0).values == pytest.approx((0.542, 0.058))


def test_grid_follows_the_data_in_a_half_hour_time_zone() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: local hours start at :30 UTC
    start = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)  # 10:00 local, given in UTC
    entries = [
        {"start": (start + timedelta(hours=i)).isoformat(), "price": float(i)} for i in range(3)
    ]
    prices = normalize_prices(entries, now=start.astimezone(kolkata))
    assert prices.grid == SlotGrid(start, 60, 3)
    quarter_entries = [
        {"start": s.astimezone(UTC), "end": e.astimezone(UTC), "price": v}
        for s, e, v in quarters(start.astimezone(kolkata), [1.0, 2.0, 3.0, 6.0, 5.0])
    ]
    billed = normalize_prices(quarter_entries, now=start.astimezone(kolkata), hourly_billing=True)
    assert billed.grid.start == start
    assert billed.values == (3.0, 3.0, 3.0, 3.0, 5.0)
    coarse = normalize_prices(quarter_entries, now=start.astimezone(kolkata), resolution=60)
    assert coarse.values == (3.0,)  # the last hour is not fully covered


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ([], "empty"),
        ({}, "unknown_format"),
        ({"friendly_name": "Price"}, "unknown_format"),
        ("0.25", "unknown_format"),
        (42, "unknown_format"),
        ({"raw_today": []}, "empty"),
        ([{"price": 0.2}], "bad_entry"),
        ([{"start": "2026-01-15T00:00:00+01:00", "cost": 0.2}], "bad_entry"),
        ([{"start": "yesterday", "price": 0.2}], "bad_time"),
        ([{"start": DAY, "end": "soon", "price": 0.2}], "bad_time"),
        ([{"start": DAY, "price": "cheap"}], "bad_entry"),
        ([{"start": DAY, "price": None}], "empty"),
        ([{"start": DAY - timedelta(days=1), "price": 0.2}], "no_future_prices"),
        ({"SE3": [{"start": DAY, "price": 200.0}], "SE4": []}, "ambiguous_area"),
    ],
)
def test_unusable_input_raises_a_typed_error(source: object, reason: str) -> None:
    with pytest.raises(PriceFormatError) as err:
        normalize_prices(source, now=NOW)
    assert err.value.reason == reason


def test_bad_arguments() -> None:
    entries = [{"start": DAY, "price": 0.2}]
    with pytest.raises(PriceFormatError) as err:
        normalize_prices(entries, now=NOW, resolution=20)
    assert err.value.reason == "bad_resolution"
    with pytest.raises(ValueError, match="aware"):
        normalize_prices(entries, now=datetime(2026, 1, 15))


# --- forecasts and grids ----------------------------------------------------------------------


def test_align_forecast_holds_averages_and_reports_where_it_ends() -> None:
    grid = SlotGrid(utc(DAY), 15, 12)
    hourly = [{"start": s, "end": e, "power": v} for s, e, v in hours(DAY, [1000.0, 2000.0])]
    forecast = align_forecast(hourly, grid)
    assert forecast.values == (1000.0,) * 4 + (2000.0,) * 4  # no zero-fill after the end
    assert forecast.covered == 8
    assert forecast.info.ends == "ended"
    fine = [{"start": s, "power": v} for s, _, v in quarters(DAY, [0.0, 100.0, 200.0, 300.0])]
    assert align_forecast({"forecast": fine}, SlotGrid(utc(DAY), 60, 1)).values == (150.0,)
    solcast = [
        {"period_start": s.isoformat(), "pv_estimate": 1.5} for s, _, _ in hours(DAY, [0] * 3)
    ]
    aligned = align_forecast({"detailedForecast": solcast}, SlotGrid(utc(DAY), 60, 2))
    assert aligned.values == (1500.0, 1500.0)
    assert aligned.info.kind == "solcast"
    with pytest.raises(PriceFormatError):
        align_forecast({"state": 3}, grid)


def test_sell_prices_on_another_grid_are_averaged_and_cut_the_horizon() -> None:
    buy = normalize_prices(
        [{"start": s, "end": e, "price": 0.3} for s, e, _ in quarters(DAY, [0] * 16)], now=NOW
    )
    sell = normalize_prices(
        [{"start": s, "end": e, "price": v} for s, e, v in hours(DAY, [0.1, 0.2, 0.05])], now=NOW
    )
    battery = Battery(
        capacity=5, state_of_charge=50, max_charge_power=1000, max_discharge_power=1000
    )
    problem = build_problem(battery, buy, sell_prices=sell, now=NOW)
    assert problem.count == 12
    assert problem.sell.tolist() == [0.1] * 4 + [0.2] * 4 + [0.05] * 4
    later = build_problem(
        battery, series(np.full(4, 0.3), start=utc(DAY)), now=NOW + timedelta(minutes=50)
    )
    assert later.count == 1
    assert later.hours[0] == pytest.approx(10 / 60)
