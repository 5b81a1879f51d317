"""Planning cases for the bench: the tests' cases, worst cases, and the real fixtures."""

from collections.abc import Callable
import csv
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from custom_components.home_battery.schedule import (
    Battery,
    PlanInputs,
    PlanOptions,
    Problem,
    build_problem,
    prepare,
)
from tests.schedule.helpers import random_problem, series
from tests.schedule.test_solver import hard_problem, sell_above_buy_all_day

FIXTURES = Path(__file__).parents[1] / "fixtures" / "planning"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOV5 = datetime(2024, 11, 5, tzinfo=STOCKHOLM)
BATTERY = Battery(
    capacity=10,
    state_of_charge=50,
    min_state_of_charge=10,
    max_charge_power=5000,
    max_discharge_power=5000,
    cycle_cost=0.2,
)


def nord_pool_days() -> list[dict[str, list[dict[str, object]]]]:
    """The two real SE3/SE4 Nord Pool responses (SEK/MWh), 2024-11-05 and 06."""
    return [
        json.loads((FIXTURES / f"nordpool_action_2024-11-0{day}_SE3_SE4.json").read_text())
        for day in (5, 6)
    ]


def house_day() -> np.ndarray:
    """A real household's load over one day, 48 half-hours, W (EMHASS's shipped data)."""
    with (FIXTURES / "emhass_data_load_forecast.csv").open() as handle:
        values = [float(row[1]) for row in csv.reader(handle)]
    return np.array((values + values[-1:])[:48])


def real_inputs(**fields: object) -> PlanInputs:
    """SE3, two days, buy = spot x 1.25 + 0.9 SEK/kWh (the field audit's formula)."""
    load = house_day()
    entries = [
        {"start": NOV5 + timedelta(minutes=30 * i), "power": float(load[i % 48])} for i in range(96)
    ]
    defaults: dict[str, object] = {
        "prices": nord_pool_days(),
        "area": "SE3",
        "battery": BATTERY,
        "buy_price_multiplier": 1.25,
        "buy_price_adder": 0.9,
        "load_forecast": entries,
    }
    return PlanInputs(**{**defaults, **fields})  # type: ignore[arg-type]


def _emhass_tariff() -> Problem:
    """EMHASS's shipped 3-day 30-min buy/sell forecasts with its real household's load."""
    rows = {}
    for name in ("load_cost", "prod_price"):
        with (FIXTURES / f"emhass_data_{name}_forecast.csv").open() as handle:
            rows[name] = [float(row[1]) for row in csv.reader(handle)]
    count = min(len(rows["load_cost"]), len(rows["prod_price"]))
    start = datetime(2025, 2, 24, tzinfo=UTC)
    load = np.resize(house_day(), count)
    return build_problem(
        BATTERY,
        series(rows["load_cost"][:count], 30, start),
        sell_prices=series(rows["prod_price"][:count], 30, start),
        load_forecast=load.tolist(),
    )


def _negative_week() -> Problem:
    """Seven days at 15 minutes, buy prices below zero every night, a full battery."""
    count = 7 * 96
    hour = np.arange(count) / 4 % 24
    spot = (
        0.06 - 0.22 * np.exp(-(((hour - 3) / 2.5) ** 2)) + 0.08 * np.exp(-(((hour - 18) / 2) ** 2))
    )
    battery = Battery(
        capacity=10, state_of_charge=90, max_charge_power=5000, max_discharge_power=5000
    )
    return build_problem(
        battery, series(spot * 1.21 + 0.13), sell_prices=series(spot), load_forecast=[400.0] * count
    )


def _plain(days: int) -> Problem:
    """Real SE3 prices (hourly) held on 15 minutes, repeated to ``days`` days, house load."""
    spot = np.array([e["price"] / 1000 for day in nord_pool_days() for e in day["SE3"]])
    quarter = np.repeat(np.resize(spot, days * 24), 4)
    load = np.repeat(np.resize(house_day(), days * 48), 2)
    start = NOV5.astimezone(UTC)
    return build_problem(
        BATTERY,
        series(quarter * 1.25 + 0.9, 15, start),
        sell_prices=series(quarter, 15, start),
        load_forecast=load.tolist(),
    )


def _real(**fields: object) -> Problem:
    """The real SE3 case with some fields changed, prepared at local midnight."""
    return prepare(real_inputs(**fields), now=NOV5, tz=STOCKHOLM)


def sell_above_buy_week() -> Problem:
    """Seven days of the tests' "sell above buy all day": not one of the tests' cases.

    The bench reports it beside them, as the longest horizon of the hardest kind.
    """
    return sell_above_buy_all_day(noise=0.02, days=7)


def cases() -> dict[str, Callable[[], Problem]]:
    """Every bench case by name."""
    return {
        "random problems (tests, 40 seeds)": lambda: random_problem(7),
        "tests: 96-slot random (seed 1001)": lambda: random_problem(1001, count=96),
        "tests: hard, 1 day (neg. prices, sell > buy)": lambda: hard_problem(1),
        "tests: hard, 2 days": lambda: hard_problem(2),
        "sell above buy all day, 96 slots": lambda: sell_above_buy_all_day(noise=0.02),
        "sell above buy all day, 96, smooth prices": lambda: sell_above_buy_all_day(noise=0.0),
        "negative prices, 7 days @ 15 min": _negative_week,
        "real SE3, 2 days @ 60 min (Nord Pool)": lambda: prepare(
            real_inputs(), now=NOV5, tz=STOCKHOLM
        ),
        "real SE3, 2 days @ 15 min": lambda: prepare(
            real_inputs(resolution=15), now=NOV5, tz=STOCKHOLM
        ),
        "real SE4, 2 days @ 60 min": lambda: prepare(
            real_inputs(area="SE4"), now=NOV5, tz=STOCKHOLM
        ),
        "real SE3 repeated, 7 days @ 15 min": lambda: _plain(7),
        "EMHASS tariff, 3 days @ 30 min": _emhass_tariff,
        "no grid charge, no battery export, 2 days": lambda: _real(
            options=PlanOptions(allow_grid_charge=False, allow_battery_export=False)
        ),
    }
