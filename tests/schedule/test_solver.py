"""The LP planner against an independent MILP, and the invariants of its plans."""

from dataclasses import replace
from datetime import datetime, timedelta
import json
from pathlib import Path
import subprocess
import sys
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.home_battery.schedule import (
    Battery,
    PlanInputError,
    PlanOptions,
    build_problem,
    normalize_prices,
    solve,
    solver as solver_module,
)
from custom_components.home_battery.schedule.dynamic import UnrepresentableError
from custom_components.home_battery.schedule.exclusive import both
from custom_components.home_battery.schedule.formulation import build_lp
from custom_components.home_battery.schedule.lp import InvalidModelError, Model, Result, run
from custom_components.home_battery.schedule.model import Problem

from .helpers import START, check_plan, random_problem, series, tie_budget
from .oracle import solve_oracle


def assert_matches_oracle(problem) -> None:
    plan = solve(problem)
    assert plan.status == "optimal"
    assert plan.solver == "highs"
    check_plan(problem, plan)
    oracle = solve_oracle(problem)
    assert oracle.status == "optimal"
    ours = plan.cost - plan.terminal_value
    slack = tie_budget(
        problem, oracle.charge, oracle.discharge, oracle.grid_import, oracle.curtailment
    )
    scale = 1e-6 * (1 + abs(oracle.objective))
    # the oracle is optimal, and the tie-break moves the LP's optimum by at most its weight
    assert ours >= oracle.objective - scale, (ours, oracle.objective)
    assert ours <= oracle.objective + slack + scale, (ours, oracle.objective, slack)


@pytest.mark.parametrize("block", range(6))
def test_random_cases_match_the_oracle(block: int) -> None:
    for seed in range(block * 40, block * 40 + 40):
        assert_matches_oracle(random_problem(seed))


def test_a_full_day_of_quarter_hours_matches_the_oracle() -> None:
    for seed in (1001, 1002):
        assert_matches_oracle(random_problem(seed, count=96))


@pytest.mark.parametrize(("day", "slots"), [(29, 92), (25, 100)])
def test_daylight_saving_days_plan_every_quarter_hour(day: int, slots: int) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    month = 3 if day == 29 else 10
    midnight = datetime(2026, month, day, tzinfo=zone)
    nxt = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    entries = []
    moment = midnight.astimezone(ZoneInfo("UTC"))
    rng = np.random.default_rng(day)
    while moment < nxt.astimezone(ZoneInfo("UTC")):
        local = moment.astimezone(zone)
        entries.append({"start": local.isoformat(), "price": float(rng.uniform(-0.05, 0.4))})
        moment += timedelta(minutes=15)
    prices = normalize_prices(entries, now=midnight)
    assert len(prices) == slots
    battery = Battery(
        capacity=10, state_of_charge=40, max_charge_power=5000, max_discharge_power=5000
    )
    load = [600.0] * slots
    problem = build_problem(battery, prices, load_forecast=load, now=midnight)
    assert problem.count == slots
    assert_matches_oracle(problem)


def test_negative_prices_are_repaired_with_binaries() -> None:
    # Paid to import, no PV to curtail, no cycle cost: the LP alone would charge and discharge
    # at once to burn energy in the conversion losses.
    n = 8
    buy = np.array([0.2, -0.5, -0.5, -0.5, -0.5, 0.3, 0.3, 0.3])
    battery = Battery(
        capacity=10,
        state_of_charge=90,
        max_charge_power=5000,
        max_discharge_power=5000,
        charge_efficiency=0.9,
        discharge_efficiency=0.9,
    )
    problem = build_problem(
        battery,
        series(buy),
        sell_prices=series(np.full(n, -0.6)),
        load_forecast=[500.0] * n,
        options=PlanOptions(terminal_value=0.1),
    )
    model, layout = build_lp(problem)
    lp = run(model, 10.0)
    assert lp.optimal
    assert lp.values is not None
    flows = solver_module._flows(lp.values, layout)
    assert both(flows.charge, flows.discharge)
    assert_matches_oracle(problem)


def test_sell_above_buy_never_imports_and_exports_at_once() -> None:
    n = 6
    buy = np.full(n, 0.1)
    problem = build_problem(
        Battery(capacity=5, state_of_charge=50, max_charge_power=2000, max_discharge_power=2000),
        series(buy),
        sell_prices=series(buy + 0.2),
        pv_forecast=[1000.0] * n,
        load_forecast=[300.0] * n,
    )
    plan = solve(problem)
    check_plan(problem, plan)
    assert_matches_oracle(problem)


def test_flat_tariff_gives_one_canonical_plan() -> None:
    n = 96
    battery = Battery(
        capacity=10, state_of_charge=50, max_charge_power=5000, max_discharge_power=5000
    )
    problem = build_problem(
        battery,
        series(np.full(n, 0.3)),
        sell_prices=series(np.full(n, 0.3)),
        load_forecast=[500.0] * n,
    )
    first = solve(problem)
    check_plan(problem, first)
    powers = [slot.power for slot in first.slots]
    # the battery serves the load from the start until it is empty, then the grid takes over
    empty = next(i for i, slot in enumerate(first.slots) if slot.state_of_charge < 1e-6)
    assert all(p == pytest.approx(500.0) for p in powers[:empty])
    assert all(abs(p) < 1e-3 for p in powers[empty + 1 :])
    assert [s.power for s in solve(problem).slots] == powers


def test_switches_keep_grid_out_of_the_battery() -> None:
    n = 24
    rng = np.random.default_rng(7)
    buy = rng.uniform(0.0, 0.4, n)
    pv = np.clip(4000 * np.sin(np.linspace(0, np.pi, n)), 0, None)
    battery = Battery(
        capacity=10, state_of_charge=50, max_charge_power=5000, max_discharge_power=5000
    )
    for grid_charge, battery_export in ((False, True), (True, False), (False, False)):
        options = PlanOptions(allow_grid_charge=grid_charge, allow_battery_export=battery_export)
        problem = build_problem(
            battery,
            series(buy, 60),
            sell_prices=series(buy * 1.5, 60),
            pv_forecast=pv.tolist(),
            load_forecast=[800.0] * n,
            options=options,
        )
        assert_matches_oracle(problem)


def test_start_outside_the_bounds_returns_into_them() -> None:
    n = 12
    battery = Battery(
        capacity=10,
        state_of_charge=5,
        min_state_of_charge=20,
        max_charge_power=2000,
        max_discharge_power=2000,
    )
    problem = build_problem(battery, series(np.full(n, 0.2)), load_forecast=[300.0] * n)
    plan = solve(problem)
    check_plan(problem, plan)
    assert plan.slots[0].power == pytest.approx(-2000)
    assert plan.slots[-1].state_of_charge >= 20 - 1e-6
    high = Battery(
        capacity=10,
        state_of_charge=95,
        max_state_of_charge=80,
        max_charge_power=2000,
        max_discharge_power=2000,
    )
    problem = build_problem(high, series(np.full(n, 0.2)), load_forecast=[300.0] * n)
    plan = solve(problem)
    check_plan(problem, plan)
    assert plan.slots[-1].state_of_charge <= 80 + 1e-6


def test_target_state_of_charge_is_reached() -> None:
    n = 16
    rng = np.random.default_rng(3)
    battery = Battery(
        capacity=10, state_of_charge=20, max_charge_power=3000, max_discharge_power=3000
    )
    problem = build_problem(
        battery,
        series(rng.uniform(0.1, 0.4, n), 60),
        load_forecast=[400.0] * n,
        options=PlanOptions(target_state_of_charge=80, terminal_value=0.0),
    )
    plan = solve(problem)
    check_plan(problem, plan)
    assert plan.slots[-1].state_of_charge == pytest.approx(80, abs=1e-4)
    assert_matches_oracle(problem)


def test_savings_are_never_negative_without_a_target() -> None:
    for seed in range(300, 340):
        problem = random_problem(seed)
        if problem.options.target_state_of_charge is not None:
            continue
        plan = solve(problem)
        assert plan.savings >= -1e-4 * (1 + abs(plan.baseline_cost)), seed


def test_current_slot_is_shortened_to_now() -> None:
    battery = Battery(
        capacity=10, state_of_charge=50, max_charge_power=4000, max_discharge_power=4000
    )
    now = START + timedelta(minutes=5)
    problem = build_problem(
        battery, series(np.array([0.5, 0.1, 0.1, 0.1])), load_forecast=[1200.0] * 4, now=now
    )
    assert problem.hours[0] == pytest.approx(10 / 60)
    plan = solve(problem)
    check_plan(problem, plan)
    assert plan.slots[0].start == START


def test_to_dict_is_json_with_the_contract_fields() -> None:
    plan = solve(random_problem(11))
    data = plan.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "slots",
        "cost",
        "baseline_cost",
        "terminal_value",
        "savings",
        "status",
        "solver",
        "solve_ms",
        "sources",
    }
    assert set(data["slots"][0]) == {
        "start",
        "end",
        "power",
        "state_of_charge",
        "grid_power",
        "pv_curtailment",
        "buy_price",
        "sell_price",
    }
    assert set(data["sources"]) == {
        "prices",
        "sell_prices",
        "pv_forecast",
        "load_forecast",
        "horizon",
    }
    assert data["slots"][0]["start"].endswith("+00:00")


def test_solver_failure_returns_the_idle_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = random_problem(5)
    monkeypatch.setattr(solver_module, "run", lambda *args: Result("infeasible", None))
    plan = solve(problem)
    assert plan.status == "infeasible"
    assert all(slot.power == 0 for slot in plan.slots)
    assert plan.cost == pytest.approx(plan.baseline_cost)
    assert plan.savings == pytest.approx(0)
    check_plan(problem, plan)


def hard_problem(days: int = 2) -> Problem:
    """Sell above buy and negative prices in many slots: the MILP repair has much to do."""
    n = days * 96
    rng = np.random.default_rng(0)
    buy = rng.uniform(-0.3, 0.3, n)
    pv = np.clip(4000 * np.sin(np.arange(n) / 96 * 2 * np.pi), 0, None)
    return build_problem(
        Battery(capacity=10, state_of_charge=50, max_charge_power=5000, max_discharge_power=5000),
        series(buy),
        sell_prices=series(buy + rng.uniform(-0.05, 0.1, n)),
        pv_forecast=pv.tolist(),
        load_forecast=[500.0] * n,
        options=PlanOptions(allow_grid_charge=False),
    )


def test_milp_time_limit_falls_back_to_a_feasible_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = hard_problem()

    def no_programme(*args: object) -> None:
        raise UnrepresentableError("the MILP's fallback is tested here")

    monkeypatch.setattr(solver_module, "plan_modes", no_programme)

    def no_milp(model: Model, time_limit: float) -> Result:
        return Result("time_limit_reached", None) if model.integer.size else run(model, time_limit)

    monkeypatch.setattr(solver_module, "run", no_milp)
    plan = solve(problem)
    assert plan.status == "feasible"
    check_plan(problem, plan)
    exact = solve_oracle(problem)
    assert plan.cost - plan.terminal_value >= exact.objective - 1e-6


def test_hard_repairs_stay_exact() -> None:
    problem = hard_problem(1)
    assert_matches_oracle(problem)


def test_importing_the_package_does_not_import_highspy() -> None:
    code = (
        "import sys, custom_components.home_battery.schedule as s; "
        "assert 'highspy' not in sys.modules; s.load_solver(); assert 'highspy' in sys.modules"
    )
    root = Path(__file__).parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)


def test_the_first_solve_prints_nothing() -> None:
    # issue 15: highspy.Highs() printed HiGHS' banner on stdout before output_flag could be set
    code = (
        "from tests.schedule.helpers import random_problem; "
        "from custom_components.home_battery.schedule import solve; "
        "solve(random_problem(3)); solve(random_problem(4))"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=root, timeout=60, capture_output=True
    )
    assert done.stdout == b""


def sell_above_buy_all_day(noise: float, seed: int = 1, days: int = 1) -> Problem:
    """Days of quarter-hours where exporting always earns 0.05 more than importing costs."""
    n = 96 * days
    hours = np.arange(n) / 4
    rng = np.random.default_rng(seed)
    buy = 0.2 + 0.1 * np.sin((hours - 6) / 24 * 2 * np.pi) + rng.normal(0, noise, n)
    pv = np.clip(4000 * np.sin((hours % 24 - 6) / 12 * np.pi), 0, None)
    load = 400 + 600 * np.exp(-(((hours % 24 - 19) / 2) ** 2))
    return build_problem(
        Battery(capacity=10, state_of_charge=50, max_charge_power=5000, max_discharge_power=5000),
        series(buy),
        sell_prices=series(buy + 0.05),
        pv_forecast=pv.tolist(),
        load_forecast=load.tolist(),
    )


def test_sell_above_buy_all_day_is_exact() -> None:
    assert_matches_oracle(sell_above_buy_all_day(noise=0.02))


def test_the_time_budget_holds_on_a_symmetric_case() -> None:
    # flat-ish prices with sell above buy: countless equal plans (the MILP took seconds)
    problem = sell_above_buy_all_day(noise=0.0)
    plan = solve(problem, time_limit=0.5)
    assert plan.status in ("feasible", "optimal")  # "feasible" where the budget ran out
    check_plan(problem, plan)
    assert plan.savings > 0


def test_a_model_with_nan_never_reaches_highs(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = random_problem(8)
    broken = replace(problem, buy=np.full(problem.count, np.nan))
    with pytest.raises(PlanInputError) as err:
        solve(broken)
    assert err.value.reason == "model"
    model, _ = build_lp(problem)
    for field, value in (("cost", np.inf), ("values", 1e300), ("upper", np.nan)):
        array = getattr(model, field).copy()
        array[0] = value
        with pytest.raises(InvalidModelError):
            run(replace(model, **{field: array}), 1.0)
