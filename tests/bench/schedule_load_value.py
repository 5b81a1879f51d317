"""What a load forecast from history is worth: a week planned with it and without one.

Data: no real multi-week consumption series is in the fixtures. The house's consumption is
EMHASS's real household day (30 min), scaled per day by U(0.8, 1.2) and per half-hour by
U(0.7, 1.3) (seeded), so the history has the household's daily shape without repeating it
exactly. Prices: the two real SE3 days, alternating, buy = spot x 1.25 + 0.9 SEK/kWh, sell =
spot. Each day is planned at local midnight for 24 hours, (a) with ``forecast_load`` over the
previous four weeks, (b) with no load forecast, and the battery then follows the plan against
the actual consumption (the grid covers the rest). The figure is the cost saved against an idle
battery over the week.
"""

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from custom_components.home_battery.schedule import compute_plan, forecast_load, prepare

from .schedule_cases import BATTERY, NOV5, STOCKHOLM, house_day, nord_pool_days, real_inputs


def _consumption(days: int, seed: int) -> np.ndarray:
    """Half-hourly W over ``days`` days: the real day, scaled per day and per half-hour."""
    rng = np.random.default_rng(seed)
    base = house_day()
    scaled = [base * rng.uniform(0.8, 1.2) * rng.uniform(0.7, 1.3, 48) for _ in range(days)]
    return np.concatenate(scaled)


def week_savings(seed: int = 1) -> tuple[float, float]:
    """Savings (SEK) over a week: with the history-based forecast, and without one."""
    history_days, week = 28, 7
    load = _consumption(history_days + week, seed)
    start = NOV5 - timedelta(days=history_days)
    rows = [
        {"start": (start + timedelta(minutes=30 * i)).timestamp(), "mean": float(load[i])}
        for i in range(load.size)
    ]
    days = nord_pool_days()
    totals = {"history": 0.0, "none": 0.0}
    soc = {"history": BATTERY.state_of_charge, "none": BATTERY.state_of_charge}
    for day in range(week):
        now = NOV5 + timedelta(days=day)
        shift = timedelta(days=day - day % 2)
        prices = [_shifted(days[day % 2], shift)]
        actual = load[(history_days + day) * 48 : (history_days + day + 1) * 48]
        past = [row for row in rows if row["start"] < now.timestamp()]
        for name in totals:
            battery = replace(BATTERY, state_of_charge=soc[name])
            inputs = real_inputs(prices=prices, battery=battery, load_forecast=None)
            if name == "history":
                grid = prepare(inputs, now=now, tz=STOCKHOLM).grid
                forecast = forecast_load(past, grid, tz=STOCKHOLM, now=now)
                inputs = replace(inputs, load_forecast=_entries(grid.starts(), forecast.values))
            plan = compute_plan(inputs, now=now, tz=STOCKHOLM)
            saved, soc[name] = _follow(plan, actual, battery, now)
            totals[name] += saved
    return totals["history"], totals["none"]


def _shifted(response: dict, shift: timedelta) -> dict:
    """A Nord Pool response moved by ``shift``."""

    def move(text: str) -> str:
        return (datetime.fromisoformat(text) + shift).isoformat()

    return {
        area: [{**e, "start": move(e["start"]), "end": move(e["end"])} for e in entries]
        for area, entries in response.items()
    }


def _entries(starts: list, values: tuple[float, ...]) -> list[dict]:
    return [{"start": s, "power": v} for s, v in zip(starts, values, strict=True)]


def _follow(plan, actual: np.ndarray, battery, now: datetime) -> tuple[float, float]:
    """Follow the plan's battery power against the actual load: (saving vs idle, end SOC)."""
    energy = battery.energy
    saved = 0.0
    for slot in plan.slots:
        first = int((slot.start - now).total_seconds() // 1800)
        last = int((slot.end - now).total_seconds() // 1800)
        load = float(actual[first:last].mean()) / 1000
        hours = (slot.end - slot.start).total_seconds() / 3600
        power = slot.power / 1000
        if power < 0:
            room = (battery.max_energy - energy) / (battery.charge_efficiency * hours)
            power = -min(-power, room)
            energy += -power * hours * battery.charge_efficiency
        else:
            stock = (energy - battery.min_energy) * battery.discharge_efficiency / hours
            power = min(power, stock)
            energy -= power * hours / battery.discharge_efficiency
        grid, idle = load - power, load
        cost = _grid_cost(grid, slot) + battery.cycle_cost * max(power, 0.0)
        saved += (_grid_cost(idle, slot) - cost) * hours
    # the energy left over is worth what the plan values it at: the lowest buy price x eta
    rate = max(0.0, min(slot.buy_price for slot in plan.slots)) * battery.discharge_efficiency
    return saved + rate * (energy - battery.energy), energy / battery.capacity * 100


def _grid_cost(grid: float, slot) -> float:
    return grid * slot.buy_price if grid > 0 else grid * slot.sell_price


def figures() -> list[tuple[str, str]]:
    with_history, without = week_savings()
    share = with_history / without - 1 if without else float("nan")
    return [
        (
            "load forecast value, 1 week SE3 (semi-synthetic load)",
            f"history profile {with_history:.2f} SEK saved, none {without:.2f} SEK ({share:+.0%})",
        )
    ]
