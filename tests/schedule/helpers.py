"""Random planning problems and the invariants every plan must satisfy."""

from datetime import UTC, datetime

import numpy as np

from custom_components.home_battery.schedule import (
    Battery,
    Plan,
    PlanOptions,
    PriceSeries,
    Problem,
    SlotGrid,
    build_problem,
)
from custom_components.home_battery.schedule.formulation import TIE_BREAK, price_scale

START = datetime(2026, 6, 1, tzinfo=UTC)
TOL = 1e-6


def series(
    values: np.ndarray | list[float], resolution: int = 15, start: datetime = START
) -> PriceSeries:
    return PriceSeries(SlotGrid(start, resolution, len(values)), tuple(float(v) for v in values))


def random_problem(seed: int, *, count: int | None = None) -> Problem:
    """A random but plausible problem; the start lies within the SOC bounds."""
    rng = np.random.default_rng(seed)
    n = count or int(rng.integers(3, 40))
    resolution = int(rng.choice([15, 60]))
    kind = rng.choice(["random", "negative", "flat", "sell_above", "duck"])
    if kind == "flat":
        buy = np.full(n, 0.25)
    elif kind == "negative":
        buy = rng.uniform(-0.3, 0.3, n)
    elif kind == "duck":
        hours = np.arange(n) * resolution / 60
        buy = 0.25 - 0.2 * np.sin(hours / 24 * 2 * np.pi) + rng.normal(0, 0.03, n)
    else:
        buy = rng.uniform(0.0, 0.5, n)
    sell_kind = rng.choice(["same", "lower", "zero", "above", "fixed"])
    if kind == "sell_above" or sell_kind == "above":
        sell = buy + rng.uniform(-0.05, 0.1, n)
    elif sell_kind == "lower":
        sell = buy * 0.8 - 0.02
    elif sell_kind == "zero":
        sell = np.zeros(n)
    elif sell_kind == "fixed":
        sell = np.full(n, 0.07)
    else:
        sell = buy.copy()
    capacity = float(rng.uniform(1, 20))
    min_soc = float(rng.choice([0.0, 5.0, 20.0]))
    max_soc = float(rng.choice([80.0, 100.0]))
    soc = float(rng.choice([min_soc, max_soc, rng.uniform(min_soc, max_soc)]))
    battery = Battery(
        capacity=capacity,
        state_of_charge=soc,
        min_state_of_charge=min_soc,
        max_state_of_charge=max_soc,
        max_charge_power=float(rng.choice([0, 800, 3000, 5000, 10000])),
        max_discharge_power=float(rng.choice([0, 800, 3000, 5000, 10000])),
        charge_efficiency=float(rng.choice([1.0, rng.uniform(0.85, 1.0)])),
        discharge_efficiency=float(rng.choice([1.0, rng.uniform(0.85, 1.0)])),
        cycle_cost=float(rng.choice([0.0, 0.0, 0.02, 0.1])),
    )
    terminal = None if rng.random() < 0.6 else float(rng.uniform(-0.1, 0.4))
    target = None if rng.random() < 0.8 else float(rng.uniform(0, soc))
    options = PlanOptions(
        max_import_power=[None, 2000.0, 8000.0][int(rng.integers(3))],
        max_export_power=[None, 0.0, 3000.0][int(rng.integers(3))],
        allow_grid_charge=bool(rng.random() < 0.6),
        allow_battery_export=bool(rng.random() < 0.6),
        allow_pv_curtailment=bool(rng.random() < 0.8),
        terminal_value=terminal,
        target_state_of_charge=target,
    )
    pv = np.zeros(n)
    if rng.random() < 0.7:
        peak = rng.uniform(0, 8000)
        pv = np.clip(peak * np.sin(np.linspace(0, np.pi, n) + rng.uniform(-1, 1)), 0, None)
    load = rng.uniform(0, 3000, n) * (rng.random() < 0.9)
    return build_problem(
        battery,
        series(buy, resolution),
        sell_prices=series(sell, resolution),
        pv_forecast=pv.tolist(),
        load_forecast=load.tolist(),
        options=options,
    )


def tie_budget(problem: Problem, charge, discharge, grid_import, curtailment) -> float:
    """Upper bound of the tie-break's effect on the true objective for a given solution."""
    weight = TIE_BREAK * price_scale(problem) * problem.hours
    total = 2 * (grid_import + charge) + 0.5 * (discharge + curtailment)
    return float(np.sum(weight * total))


def check_plan(problem: Problem, plan: Plan) -> None:
    """Assert every invariant of a plan (limits, balances, switches, totals)."""
    bat = problem.battery
    opt = problem.options
    assert len(plan.slots) == problem.count
    e_prev = bat.energy
    e_lo, e_hi = min(bat.min_energy, bat.energy), max(bat.max_energy, bat.energy)
    cost = 0.0
    for t, slot in enumerate(plan.slots):
        assert slot.start == problem.grid.slot_start(t)
        assert slot.end - slot.start == problem.grid.step
        power, grid = slot.power / 1000, slot.grid_power / 1000
        curtail = slot.pv_curtailment / 1000
        pv, load, h = problem.pv[t], problem.load[t], problem.hours[t]
        charge, discharge = max(-power, 0.0), max(power, 0.0)
        assert charge <= bat.max_charge_power / 1000 + TOL
        assert discharge <= bat.max_discharge_power / 1000 + TOL
        energy = slot.state_of_charge / 100 * bat.capacity
        assert e_lo - TOL <= energy <= e_hi + TOL
        # energy balance from the net power alone: fails if c and d were both positive
        expected = e_prev + h * (
            bat.charge_efficiency * charge - discharge / bat.discharge_efficiency
        )
        assert abs(energy - expected) < 1e-5, (t, energy, expected)
        e_prev = energy
        # power balance
        assert -TOL <= curtail <= (pv if opt.allow_pv_curtailment else 0.0) + TOL
        assert abs(pv - curtail + power + grid - load) < 1e-5
        # grid limits (raised to what the forecasts alone need)
        if opt.max_import_power is not None:
            assert grid <= max(opt.max_import_power / 1000, load - pv) + TOL
        if opt.max_export_power is not None:
            limit = opt.max_export_power / 1000
            if not opt.allow_pv_curtailment:
                limit = max(limit, pv - load)
            assert -grid <= limit + TOL
        if not opt.allow_grid_charge:
            assert not (power < -TOL and grid > TOL), (t, power, grid)
        if not opt.allow_battery_export:
            assert not (power > TOL and grid < -TOL), (t, power, grid)
        assert slot.buy_price == problem.buy[t]
        assert slot.sell_price == problem.sell[t]
        cost += h * (
            problem.buy[t] * max(grid, 0.0)
            - problem.sell[t] * max(-grid, 0.0)
            + bat.cycle_cost * discharge
        )
    # the cost from net flows equals the reported one: no hidden simultaneous import and export
    assert abs(cost - plan.cost) < 1e-6 * (1 + abs(cost))
    credit = problem.terminal_value * (e_prev - bat.energy)
    assert abs(credit - plan.terminal_value) < 1e-6 * (1 + abs(credit))
    assert abs(plan.savings - (plan.baseline_cost - plan.cost + plan.terminal_value)) < 1e-9
