"""Benchmark of the planning layer: solve times, import time, and savings against simple rules.

Run from the repository root: ``python -m tests.bench schedule``. Figures: the solve time of
every case (the tests' cases, the worst cases and the real fixtures) against a plain LP solve of
the same model in the same run; the MILP oracle; plan stability over two real days; the value of
a load forecast from history over a week.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from math import ceil
import statistics
import subprocess
import sys
import time

import numpy as np

from custom_components.home_battery.schedule import (
    Battery,
    PriceSeries,
    Problem,
    SlotGrid,
    build_problem,
    solve,
    solver as solver_module,
)
from custom_components.home_battery.schedule.exclusive import arbitrage_slots, exclusive_pairs
from custom_components.home_battery.schedule.formulation import build_lp
from custom_components.home_battery.schedule.lp import run as run_lp
from custom_components.home_battery.schedule.piecewise import UnrepresentableError
from custom_components.home_battery.schedule.plan import Flows, flow_cost
from tests.schedule.oracle import solve_oracle

from .schedule_cases import cases, sell_above_buy_week
from .schedule_load_value import figures as load_value_figures
from .schedule_stability import figures as stability_figures

START = datetime(2026, 4, 20, tzinfo=UTC)  # a spring Monday
RESOLUTION = 15
PER_HOUR = 60 // RESOLUTION
BATTERY = Battery(capacity=10, state_of_charge=20, max_charge_power=5000, max_discharge_power=5000)
VAT, TAX = 1.21, 0.13  # buy = spot x VAT + tax; sell = spot


def synthetic_day(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spot price (currency/kWh), PV and load (W) per quarter-hour of one spring day."""
    rng = np.random.default_rng(seed)
    hour = np.arange(24 * PER_HOUR) / PER_HOUR

    def bump(centre: float, width: float) -> np.ndarray:
        return np.exp(-(((hour - centre) / width) ** 2))

    spot = 0.09 + 0.05 * bump(7.5, 1.5) + 0.13 * bump(19.5, 2.0) - 0.10 * bump(13.5, 2.5)
    spot = spot * rng.uniform(0.85, 1.15) + rng.normal(0, 0.006, hour.size)
    spot += 0.01 * ((np.arange(hour.size) % PER_HOUR) - 1.5) / 1.5 * np.sign(np.gradient(spot))
    sun = np.clip(np.sin((hour - 6.5) / 13 * np.pi), 0, None) ** 1.5
    pv = 3800 * rng.uniform(0.5, 1.0) * sun * rng.uniform(0.8, 1.0, hour.size)
    load = 300 + 900 * bump(7.5, 0.8) + 1400 * bump(19, 1.5) + rng.gamma(2, 60, hour.size)
    return spot, pv, load


def scenario(days: float, seed: int = 1) -> Problem:
    """A problem of ``days`` days at 15 minutes with PV and load, 10 kWh / 5 kW battery."""
    parts = [synthetic_day(seed + day) for day in range(ceil(days))]
    count = int(days * 24 * PER_HOUR)
    spot, pv, load = (np.concatenate([part[k] for part in parts])[:count] for k in range(3))
    grid = SlotGrid(START, RESOLUTION, count)
    buy = PriceSeries(grid, tuple((spot * VAT + TAX).tolist()))
    sell = PriceSeries(grid, tuple(spot.tolist()))
    return build_problem(
        BATTERY, buy, sell_prices=sell, pv_forecast=pv.tolist(), load_forecast=load.tolist()
    )


def negative_price_scenario(days: int = 2) -> Problem:
    """A windy winter stretch: buy prices below zero at night, no PV, a full battery.

    Without PV to curtail, burning energy in the conversion losses pays, so the LP charges and
    discharges at once in some slots and the planner repairs them with binaries.
    """
    count = days * 24 * PER_HOUR
    hour = np.arange(count) / PER_HOUR % 24
    spot = (
        0.06 - 0.22 * np.exp(-(((hour - 3) / 2.5) ** 2)) + 0.08 * np.exp(-(((hour - 18) / 2) ** 2))
    )
    grid = SlotGrid(START, RESOLUTION, count)
    battery = Battery(
        capacity=10, state_of_charge=90, max_charge_power=5000, max_discharge_power=5000
    )
    return build_problem(
        battery,
        PriceSeries(grid, tuple((spot * VAT + TAX).tolist())),
        sell_prices=PriceSeries(grid, tuple(spot.tolist())),
        load_forecast=[400.0] * count,
    )


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``action`` in milliseconds (after one warm-up run)."""
    action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def import_time_s(module: str = "highspy", repeat: int = 3) -> float:
    """Median time of ``import module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    return statistics.median(runs)


def simulate(problem: Problem, setpoint: Callable[[int, float], float]) -> Flows:
    """Run a rule: ``setpoint(slot, stored kWh)`` gives battery power (kW, + discharge)."""
    bat = problem.battery
    n = problem.count
    flows = {key: np.zeros(n) for key in ("c", "d", "gi", "ge", "e")}
    energy = bat.energy
    for t in range(n):
        h = problem.hours[t]
        power = setpoint(t, energy)
        room = (bat.max_energy - energy) / (bat.charge_efficiency * h)
        available = (energy - bat.min_energy) * bat.discharge_efficiency / h
        charge = min(max(-power, 0.0), bat.max_charge_power / 1000, room)
        discharge = min(max(power, 0.0), bat.max_discharge_power / 1000, available)
        energy += h * (bat.charge_efficiency * charge - discharge / bat.discharge_efficiency)
        net = problem.load[t] - problem.pv[t] + charge - discharge
        flows["c"][t], flows["d"][t], flows["e"][t] = charge, discharge, energy
        flows["gi"][t], flows["ge"][t] = max(net, 0.0), max(-net, 0.0)
    return Flows(flows["c"], flows["d"], flows["gi"], flows["ge"], np.zeros(n), flows["e"])


def self_consumption(problem: Problem) -> Flows:
    """Charge from PV surplus, discharge to cover the load; never touch the grid on purpose."""
    return simulate(problem, lambda t, _e: float(problem.load[t] - problem.pv[t]))


def cheapest_hours(problem: Problem) -> Flows:
    """Charge at full power in the cheapest N hours, discharge at full power in the dearest N."""
    bat = problem.battery
    hours_needed = ceil(bat.capacity / (bat.max_charge_power / 1000 * bat.charge_efficiency))
    hourly = problem.buy.reshape(-1, PER_HOUR).mean(axis=1)
    order = np.argsort(hourly)
    cheap, dear = set(order[:hours_needed].tolist()), set(order[-hours_needed:].tolist())

    def rule(t: int, _energy: float) -> float:
        hour = t // PER_HOUR
        if hour in cheap:
            return -bat.max_charge_power / 1000
        if hour in dear:
            return bat.max_discharge_power / 1000
        return 0.0

    return simulate(problem, rule)


def uses_programme(problem: Problem) -> bool:
    """Whether the solver plans ``problem`` with the dynamic programme (sell above buy)."""
    model, layout = build_lp(problem)
    options = problem.options
    pairs = exclusive_pairs(
        layout, grid_charge=options.allow_grid_charge, battery_export=options.allow_battery_export
    )
    return any(arbitrage_slots(model, layout, pairs))


def solve_by_milp(problem: Problem) -> object:
    """Solve as before the dynamic programme: the MILP alone."""
    original = solver_module.plan_modes

    def refuse(*args: object) -> None:
        raise UnrepresentableError("the bench's MILP-only figure")

    solver_module.plan_modes = refuse  # type: ignore[assignment]
    try:
        return solve(problem)
    finally:
        solver_module.plan_modes = original


def savings(problem: Problem, flows: Flows) -> float:
    """Baseline cost - cost + terminal credit, as the planner reports it."""
    baseline = flow_cost(problem, Flows.idle(problem))
    credit = problem.terminal_value * (float(flows.energy[-1]) - problem.battery.energy)
    return baseline - flow_cost(problem, flows) + credit


def run() -> list[tuple[str, str]]:
    """Measure and return (figure, value) pairs."""
    figures: list[tuple[str, str]] = []
    worst = ("", 0.0)
    ratios = []
    for name, build in cases().items():
        problem = build()
        model, _ = build_lp(problem)
        ours = median_ms(lambda problem=problem: solve(problem), 9)
        plain = median_ms(lambda model=model: run_lp(model, 10.0), 9)
        status = solve(problem).status
        ratios.append(ours / plain)
        path = ""
        if uses_programme(problem):
            alone = median_ms(lambda problem=problem: solve_by_milp(problem), 3)
            path = f"; dynamic programme (the MILP alone: {alone:.1f} ms)"
        figures.append(
            (
                f"schedule {name}, {problem.count} slots",
                f"{ours:.1f} ms median ({status}); plain LP {plain:.1f} ms; x{ours / plain:.1f}"
                + path,
            )
        )
        if ours > worst[1]:
            worst = (name, ours)
    figures.append(("schedule worst case (median)", f"{worst[1]:.1f} ms: {worst[0]}"))
    week = sell_above_buy_week()
    figures.append(
        (
            "schedule beyond the tests' cases: sell above buy, 7 days @ 15 min",
            f"{median_ms(lambda: solve(week), 5):.1f} ms median ({solve(week).status})",
        )
    )
    figures.append(
        ("schedule ours / plain LP, median over cases", f"x{statistics.median(ratios):.2f}")
    )
    for name, days in {"24 h": 1, "48 h": 2, "7 days": 7}.items():
        problem = scenario(days)
        ms = median_ms(lambda problem=problem: solve_oracle(problem), 5 if days < 7 else 1)
        figures.append((f"schedule MILP oracle, {name} @ 15 min (median)", f"{ms:.1f} ms"))
    figures.append(("schedule import highspy (fresh process)", f"{import_time_s():.3f} s"))

    day = scenario(1, seed=7)
    plan = solve(day)
    optimum = plan.savings
    oracle = solve_oracle(day)
    gap = (plan.cost - plan.terminal_value) - oracle.objective
    rule_savings = {
        "self-consumption": savings(day, self_consumption(day)),
        "cheapest/dearest N hours": savings(day, cheapest_hours(day)),
    }
    figures.append(("schedule savings, optimum (1 synthetic day)", f"{optimum:.3f} EUR"))
    figures.append(("schedule optimum minus oracle objective", f"{gap:.2e} EUR"))
    for name, value in rule_savings.items():
        share = value / optimum * 100 if optimum else float("nan")
        figures.append(
            (f"schedule savings, {name} rule", f"{value:.3f} EUR ({share:.0f} % of the optimum)")
        )
    figures.extend(stability_figures())
    figures.extend(load_value_figures())
    return figures


if __name__ == "__main__":
    for figure, value in run():
        print(f"{figure}: {value}")
