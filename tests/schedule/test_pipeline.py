"""From sources to a plan: PV formats, horizon cuts, Nord Pool areas, defaults, limits, zones."""

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.home_battery.schedule import (
    Battery,
    PlanInputError,
    PlanInputs,
    PlanOptions,
    PriceFormatError,
    SlotGrid,
    align_forecast,
    compute_plan,
    prepare,
    read_prices,
)

from .helpers import check_plan

FIXTURES = Path(__file__).parents[1] / "fixtures" / "planning"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
BATTERY = Battery(capacity=10, state_of_charge=50, max_charge_power=5000, max_discharge_power=5000)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


NP_DAY1 = fixture("nordpool_action_2024-11-05_SE3_SE4.json")
NP_DAY2 = fixture("nordpool_action_2024-11-06_SE3_SE4.json")
NOV5 = datetime(2024, 11, 5, tzinfo=STOCKHOLM)  # local midnight = 2024-11-04T23:00Z


def inputs(**fields: object) -> PlanInputs:
    return PlanInputs(**{"prices": [NP_DAY1, NP_DAY2], "area": "SE3", "battery": BATTERY, **fields})


# --- PV forecast formats (item 1) ------------------------------------------------------------


def test_forecast_solar_watts_are_joined_linearly_and_cover_the_night() -> None:
    result = fixture("forecast_solar_estimate.json")["result"]
    amsterdam = ZoneInfo("Europe/Amsterdam")
    grid = SlotGrid(datetime(2024, 4, 25, 22, tzinfo=UTC), 60, 48)  # 26 Apr 00:00 local, 2 days
    forecast = align_forecast({"watts": result["watts"]}, grid, tz=amsterdam)
    assert forecast.covered == 48  # sunrise/sunset zeros extend to the days' midnights
    by_hour = dict(zip(range(48), forecast.values, strict=True))
    assert by_hour[0] == 0.0  # 00:00-01:00 local, before sunrise
    # 07:00-08:00 local: the mean of 270 W and 481 W. The API's watt_hours_period holds 376 Wh
    # under 08:00, the END of that hour (the module docstring's reading of the fixture).
    assert by_hour[7] == pytest.approx((270 + 481) / 2)
    assert result["watt_hours_period"]["2024-04-26T08:00:00+02:00"] == pytest.approx(
        by_hour[7], abs=1
    )
    daily_wh = sum(forecast.values[:24])
    assert daily_wh == pytest.approx(sum(result["watt_hours_period"].values()), rel=0.01)


def test_forecast_solar_action_response() -> None:
    # home-assistant/core forecast_solar/services.py: {"forecast": [{time, value, energy_wh}]}
    watts = fixture("forecast_solar_estimate.json")["result"]["watts"]
    response = {"forecast": [{"time": t, "value": w, "energy_wh": 0} for t, w in watts.items()]}
    grid = SlotGrid(datetime(2024, 4, 26, 5, tzinfo=UTC), 15, 8)  # 07:00-09:00 local
    forecast = align_forecast(response, grid)
    assert forecast.info.kind == "forecast_solar"
    assert forecast.values[0] == pytest.approx(270 + (481 - 270) * 0.125)


def test_open_meteo_watts_and_wh_period() -> None:
    # hass-energy/haeo tests/scenarios/scenario1/states.json, sensor.energy_production_d2_east:
    # watts every 15 minutes of 2025-10-07 (+11:00); the night's zeros, then these values.
    day = datetime(2025, 10, 7, tzinfo=ZoneInfo("Australia/Sydney"))
    morning = [0, 0, 15, 78, 150, 241, 339, 417]  # 06:00 ... 07:45
    watts = {
        (day + timedelta(minutes=15 * i)).isoformat(): (morning[i - 24] if 24 <= i < 32 else 0)
        for i in range(96)
    }
    grid = SlotGrid(day.astimezone(UTC), 15, 96)
    forecast = align_forecast({"watts": watts, "wh_period": {}}, grid)
    assert forecast.info.kind == "open_meteo"
    assert forecast.covered == 96  # the last sample (23:45, 0 W) extends to midnight
    assert forecast.values[26] == pytest.approx((15 + 78) / 2)
    wh_period = {day.replace(hour=6).isoformat(): 19.75, day.replace(hour=7).isoformat(): 257.5}
    hourly = align_forecast({"wh_period": wh_period}, SlotGrid(grid.slot_start(24), 60, 2))
    assert hourly.values == (19.75, 257.5)  # Wh in an hour = mean W over it


def test_solcast_detailed_forecast_and_hourly_agree() -> None:
    # hass-energy/haeo tests/scenarios/scenario5/states.json, Solcast forecast_today (kW)
    day = datetime(2025, 11, 11, tzinfo=ZoneInfo("Australia/Sydney"))
    half_hours = {6: 0.6673, 6.5: 3.9476, 7: 6.4743, 7.5: 9.9246}
    detailed = [
        {"period_start": day + timedelta(hours=h), "pv_estimate": kw, "pv_estimate10": 0.0}
        for h, kw in half_hours.items()
    ]
    hourly = [
        {"period_start": (day + timedelta(hours=h)).isoformat(), "pv_estimate": kw}
        for h, kw in {6: 2.3075, 7: 8.1995}.items()
    ]
    grid = SlotGrid((day + timedelta(hours=6)).astimezone(UTC), 60, 2)
    both = align_forecast({"detailedForecast": detailed, "detailedHourly": hourly}, grid)
    assert both.info.keys == ("detailedForecast",)
    assert both.values == pytest.approx((2307.45, 8199.45))
    assert align_forecast({"detailedHourly": hourly}, grid).values == pytest.approx(
        (2307.5, 8199.5)
    )
    response = align_forecast({"data": detailed}, grid)  # solcast_solar.query_forecast_data
    assert response.info.kind == "solcast"


def test_a_forecast_that_starts_after_the_first_slot_is_refused() -> None:
    grid = SlotGrid(datetime(2026, 1, 1, tzinfo=UTC), 60, 3)
    late = [{"start": "2026-01-01T01:00:00+00:00", "end": "2026-01-01T03:00:00+00:00", "power": 1}]
    with pytest.raises(PriceFormatError) as err:
        align_forecast(late, grid, field="load_forecast")
    assert (err.value.reason, err.value.field) == ("starts_late", "load_forecast")


# --- the horizon and sources (items 2, 3, 5) -------------------------------------------------


def test_two_nord_pool_responses_are_merged_and_the_area_chosen() -> None:
    problem = prepare(inputs(area="SE4"), now=NOV5, tz=STOCKHOLM)
    assert problem.count == 48
    assert problem.buy[0] == pytest.approx(NP_DAY1["SE4"][0]["price"] / 1000)
    assert problem.buy[-1] == pytest.approx(NP_DAY2["SE4"][-1]["price"] / 1000)
    prices = problem.sources.prices
    assert (prices.kind, prices.area) == ("nordpool", "SE4")
    with pytest.raises(PriceFormatError) as err:
        prepare(inputs(area=None), now=NOV5, tz=STOCKHOLM)
    assert (err.value.reason, err.value.field) == ("ambiguous_area", "prices")


def test_the_horizon_ends_where_the_pv_forecast_ends_and_says_so() -> None:
    # field audit D5: Solcast's forecast_today used at 22:30 gave 0 W of PV for a whole day
    now = datetime(2024, 11, 5, 22, 30, tzinfo=STOCKHOLM)
    today = [
        {"period_start": NOV5 + timedelta(minutes=30 * i), "pv_estimate": 0.0} for i in range(48)
    ]
    plan = compute_plan(inputs(pv_forecast={"detailedForecast": today}), now=now, tz=STOCKHOLM)
    data = plan.to_dict()
    horizon = data["sources"]["horizon"]
    assert horizon["limited_by"] == "pv_forecast"
    assert horizon["reason"] == "ended"
    assert datetime.fromisoformat(horizon["end"]) == datetime(2024, 11, 6, tzinfo=STOCKHOLM)
    assert len(data["slots"]) == 2
    assert data["sources"]["pv_forecast"]["source"] == "solcast"


def test_a_gap_in_the_prices_and_the_sell_prices_cut_the_horizon() -> None:
    day1 = {"SE3": [e for i, e in enumerate(NP_DAY1["SE3"]) if i != 10]}
    problem = prepare(inputs(prices=day1), now=NOV5, tz=STOCKHOLM)
    assert (problem.sources.horizon.limited_by, problem.sources.horizon.reason) == (
        "prices",
        "gap",
    )
    assert problem.count == 10  # the 11th entry is missing
    sell = [{"start": e["start"], "end": e["end"], "price": 0.05} for e in NP_DAY1["SE3"]]
    cut = prepare(inputs(sell_prices=sell), now=NOV5, tz=STOCKHOLM)
    assert (cut.sources.horizon.limited_by, cut.count) == ("sell_prices", 24)
    assert cut.sources.sell_prices.kind == "list"


def test_sell_prices_default_to_the_spot_price_without_the_formula() -> None:
    problem = prepare(
        inputs(buy_price_multiplier=1.25, buy_price_adder=0.9), now=NOV5, tz=STOCKHOLM
    )
    spot = np.array([e["price"] / 1000 for e in NP_DAY1["SE3"] + NP_DAY2["SE3"]])
    assert problem.sell == pytest.approx(spot)
    assert problem.buy == pytest.approx(spot * 1.25 + 0.9)
    assert problem.sources.sell_prices.kind == "spot"
    listed = [{"start": e["start"], "end": e["end"], "price": 0.3} for e in NP_DAY1["SE3"]]
    plain = prepare(inputs(prices=listed, buy_price_adder=0.1), now=NOV5, tz=STOCKHOLM)
    assert set(plain.sell.tolist()) == {0.3}  # a plain list: the list itself


def test_the_default_terminal_value_is_never_negative() -> None:
    # field audit D8: min(buy) x eta was -0.514 EUR/kWh on a -0.62 EUR/kWh day
    negative = [
        {"start": e["start"], "end": e["end"], "price": -620.0 if i < 3 else 50.0}
        for i, e in enumerate(NP_DAY1["SE3"])
    ]
    problem = prepare(inputs(prices={"FI": negative}, area=None), now=NOV5, tz=STOCKHOLM)
    assert problem.terminal_value == 0.0
    positive = prepare(inputs(), now=NOV5, tz=STOCKHOLM)
    eta = BATTERY.discharge_efficiency
    assert positive.terminal_value == pytest.approx(positive.buy.min() * eta)


def test_curtailment_is_in_the_response_and_grid_power_consistent_with_it() -> None:
    # negative feed-in all day and an export limit: PV the plan cannot use is curtailed
    sell = [{"start": e["start"], "end": e["end"], "price": -0.05} for e in NP_DAY1["SE3"]]
    pv = [{"start": e["start"], "end": e["end"], "power": 8000.0} for e in NP_DAY1["SE3"]]
    options = PlanOptions(max_export_power=1000.0)
    fields = {"sell_prices": sell, "pv_forecast": pv, "options": options}
    problem = prepare(inputs(**fields), now=NOV5, tz=STOCKHOLM)
    plan = compute_plan(inputs(**fields), now=NOV5, tz=STOCKHOLM)
    check_plan(problem, plan)
    slots = plan.to_dict()["slots"]
    assert max(s["pv_curtailment"] for s in slots) > 0
    for slot in slots:
        assert slot["grid_power"] >= -1000.1
    never = compute_plan(
        inputs(**{**fields, "options": PlanOptions(allow_pv_curtailment=False)}),
        now=NOV5,
        tz=STOCKHOLM,
    )
    assert all(s["pv_curtailment"] == 0 for s in never.to_dict()["slots"])


# --- bounded inputs (item 6) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: {"battery": Battery(**{**_battery(), "cycle_cost": float("inf")})}, "cycle_cost"),
        (lambda: {"buy_price_multiplier": float("inf")}, "buy_price_multiplier"),
        (lambda: {"buy_price_multiplier": 1e308}, "buy_price_multiplier"),
        (lambda: {"buy_price_multiplier": 1000.0, "buy_price_adder": 1e6}, "prices"),
        (lambda: {"buy_price_adder": float("nan")}, "buy_price_adder"),
        (lambda: {"battery": Battery(**{**_battery(), "capacity": float("inf")})}, "capacity"),
        (
            lambda: {"battery": Battery(**{**_battery(), "max_charge_power": float("inf")})},
            "max_charge_power",
        ),
        (lambda: {"options": PlanOptions(terminal_value=float("nan"))}, "terminal_value"),
        (lambda: {"options": PlanOptions(terminal_value=float("inf"))}, "terminal_value"),
        (lambda: {"options": PlanOptions(max_import_power=-1.0)}, "max_import_power"),
        (
            lambda: {
                "battery": Battery(
                    **{**_battery(), "min_state_of_charge": 80.0, "max_state_of_charge": 20.0}
                )
            },
            "min_state_of_charge",
        ),  # fmt: skip
    ],
)
def test_numbers_outside_their_range_are_refused_naming_the_field(build, reason: str) -> None:
    # field audit F1 (hangs on inf/NaN/overflow) and F7 (inf capacity, powers, terminal value)
    with pytest.raises(PlanInputError) as err:
        compute_plan(inputs(**build()), now=NOV5, tz=STOCKHOLM)
    assert err.value.reason == reason
    assert err.value.field == reason


def _soc_bounds(low: float, high: float) -> Battery:
    return Battery(**{**_battery(), "min_state_of_charge": low, "max_state_of_charge": high})


def _battery() -> dict[str, float]:
    return {"capacity": 10, "state_of_charge": 50, "max_charge_power": 5000,
            "max_discharge_power": 5000}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("prices", "nan", "bad_entry"),
        ("prices", 1e12, "out_of_range"),
        ("pv_forecast", float("inf"), "bad_entry"),
        ("pv_forecast", 1e9, "out_of_range"),
        ("load_forecast", None, "starts_late"),
    ],
)
def test_bad_values_in_a_source_name_the_source(field: str, value: object, reason: str) -> None:
    entries = [{"start": e["start"], "end": e["end"], "price": 100.0, "power": 100.0}
               for e in NP_DAY1["SE3"]]  # fmt: skip
    entries[0] = {**entries[0], "price": value, "power": value}
    with pytest.raises(PriceFormatError) as err:
        prepare(inputs(**{field: {"SE3": entries} if field == "prices" else entries}),
                now=NOV5, tz=STOCKHOLM)  # fmt: skip
    assert (err.value.reason, err.value.field) == (reason, field)


# --- time zones (item 7) ---------------------------------------------------------------------


def test_naive_times_are_read_in_the_given_zone() -> None:
    # field audit F4: naive times were read as UTC, 1-2 h off in Europe/Amsterdam
    amsterdam = ZoneInfo("Europe/Amsterdam")
    entries = [{"start": f"2026-12-05T{h:02d}:00:00", "price": 0.1 * h} for h in range(6, 12)]
    now = datetime(2026, 12, 5, 5, tzinfo=UTC)
    read = read_prices(entries, now=now, tz=amsterdam)
    assert read.series.grid.start == datetime(2026, 12, 5, 6, tzinfo=amsterdam)


@pytest.mark.parametrize(
    ("zone", "local_day"),
    [
        ("Asia/Kolkata", datetime(2026, 1, 15)),
        ("Australia/Adelaide", datetime(2026, 1, 15)),
        ("Australia/Adelaide", datetime(2026, 10, 4)),
        ("Europe/Amsterdam", datetime(2026, 10, 25)),
        ("Europe/Amsterdam", datetime(2026, 3, 29)),
    ],  # fmt: skip
)
def test_hourly_billing_groups_by_local_hours(zone: str, local_day: datetime) -> None:
    tz = ZoneInfo(zone)
    midnight = local_day.replace(tzinfo=tz)
    end = (local_day + timedelta(days=1)).replace(tzinfo=tz)
    count = int((end - midnight).total_seconds() // 900)  # 92 / 96 / 100 on DST days
    starts = [midnight.astimezone(UTC) + timedelta(minutes=15 * i) for i in range(count)]
    entries = [{"start": s.isoformat(), "price": float(i)} for i, s in enumerate(starts)]
    read = read_prices(entries, now=midnight, tz=tz, hourly_billing=True)
    assert len(read.series) == count
    # each slot's price is the mean of the slots in its local hour (the repeated autumn hour
    # and the half-hour offsets give distinct hours: group by the hour's start in UTC)
    hour_of = [s.astimezone(tz).replace(minute=0).astimezone(UTC) for s in starts]
    for index, billed in enumerate(read.series.values):
        members = [i for i, hour in enumerate(hour_of) if hour == hour_of[index]]
        assert len(members) == 4
        assert billed == pytest.approx(sum(members) / len(members))


# --- large inputs (item 8) -------------------------------------------------------------------


def test_ten_years_of_quarter_hours_are_cut_to_fourteen_days_and_say_so() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    prices = [
        {"start": (start + i * step).isoformat(), "end": (start + (i + 1) * step).isoformat(),
         "price": 0.1 + 0.2 * ((i // 4) % 24 > 16)}
        for i in range(350_400)
    ]  # fmt: skip
    problem = prepare(PlanInputs(prices=prices, battery=BATTERY), now=start, tz=UTC)
    assert problem.count == 14 * 96
    horizon = problem.sources.horizon
    assert (horizon.limited_by, horizon.reason) == ("max_horizon", "size_limit")


def test_a_list_over_the_entry_cap_is_refused_before_it_is_read() -> None:
    with pytest.raises(PriceFormatError) as err:
        read_prices([None] * 1_000_001, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert err.value.reason == "too_large"  # not "invalid": no entry was read
