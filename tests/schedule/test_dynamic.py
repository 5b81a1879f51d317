"""The exact dynamic programme: against the MILP, the oracle, and its own fallbacks."""

from dataclasses import replace

import numpy as np
import pytest

from custom_components.home_battery.schedule import (
    Battery,
    PlanOptions,
    build_problem,
    solve,
    solver as solver_module,
)
from custom_components.home_battery.schedule.dynamic import Modes, plan_modes
from custom_components.home_battery.schedule.formulation import build_lp
from custom_components.home_battery.schedule.lp import Model, Result, run
from custom_components.home_battery.schedule.model import Problem
from custom_components.home_battery.schedule.piecewise import UnrepresentableError
from custom_components.home_battery.schedule.slot_costs import (
    IDLE,
    IMPORT,
    MODES,
    Slots,
    slot_costs,
)

from .helpers import check_plan, random_problem, series
from .test_solver import assert_matches_oracle, hard_problem, sell_above_buy_all_day


class Spy:
    """Counts the programme's plans and the MILP runs of a solve."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.programme = 0
        self.milp = 0
        monkeypatch.setattr(solver_module, "plan_modes", self._plan_modes)
        monkeypatch.setattr(solver_module, "run", self._run)

    def _plan_modes(self, *args: object) -> Modes:
        modes = plan_modes(*args)  # type: ignore[arg-type]
        self.programme += 1
        return modes

    def _run(self, model: Model, time_limit: float) -> Result:
        self.milp += bool(model.integer.size)
        return run(model, time_limit)


def milp_plan(problem: Problem, monkeypatch: pytest.MonkeyPatch) -> float:
    """The objective (cost less terminal credit) the MILP alone reaches."""
    with monkeypatch.context() as patch:
        patch.setattr(solver_module, "plan_modes", _refuse)
        plan = solve(problem)
    assert plan.status == "optimal"
    return plan.cost - plan.terminal_value


def _refuse(*args: object) -> Modes:
    raise UnrepresentableError("refused for the test")


def variant(seed: int) -> Problem:
    """A random problem, with a held first slot or a start outside the SOC bounds by turns."""
    problem = random_problem(seed)
    rng = np.random.default_rng(seed)
    if seed % 3 == 1:
        hold = float(rng.uniform(-6000, 6000))
        return replace(problem, options=replace(problem.options, hold_power=hold))
    if seed % 3 == 2:
        battery = problem.battery
        low, high = battery.min_state_of_charge, battery.max_state_of_charge
        soc = max(low - 5, 0.0) if rng.random() < 0.5 else min(high + 5, 100.0)
        return replace(problem, battery=replace(battery, state_of_charge=soc))
    return problem


@pytest.mark.parametrize("block", range(4))
def test_the_programme_reaches_the_milps_optimum(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    for seed in range(block * 150, block * 150 + 150):
        problem = variant(seed)
        before = spy.programme
        plan = solve(problem)
        if spy.programme == before or plan.status != "optimal":
            continue  # no slot sells above buy, or the held slot makes the model infeasible
        check_plan(problem, plan)
        ours = plan.cost - plan.terminal_value
        exact = milp_plan(problem, monkeypatch)
        assert ours == pytest.approx(exact, rel=1e-6, abs=1e-6), seed
    assert spy.programme > 30  # about 45 of each block's 150 problems sell above buy


def test_random_problems_with_sell_above_buy_match_the_oracle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    for seed in range(2000, 2150):
        problem = random_problem(seed)
        before, milp = spy.programme, spy.milp
        assert_matches_oracle(problem)
        if spy.programme > before:
            assert spy.milp == milp, seed
    assert spy.programme > 30


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_sell_above_buy_all_day_needs_no_milp(
    noise: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    problem = sell_above_buy_all_day(noise=noise)
    assert_matches_oracle(problem)
    assert (spy.programme, spy.milp) == (1, 0)


@pytest.mark.parametrize("block", range(3))
def test_slot_costs_are_the_least_over_the_modes(block: int) -> None:
    # a crossing filed under the wrong slot showed in about one problem in 400 (seed 514)
    for seed in range(block * 500, block * 500 + 500):
        problem = variant(seed)
        model, layout = build_lp(problem)
        slots = Slots.of(problem, model, layout)
        try:
            costs = slot_costs(slots)
        except UnrepresentableError:
            continue  # a held slot no mode can run: left to the MILP
        low = np.array([min(part.low for part in parts) for parts in costs])
        high = np.array([max(part.high for part in parts) for parts in costs])
        # 101 points per slot, none on a breakpoint's usual places (0, the ends)
        share = (np.arange(101) + 0.37) / 101.37
        change = low[:, None] + share * (high - low)[:, None]
        power = slots.power(change)
        direct = np.min([slots.mode_cost(*mode, power) for mode in MODES], axis=0)
        for slot, parts in enumerate(costs):
            ours = np.min([part.at(change[slot]) for part in parts], axis=0)
            np.testing.assert_allclose(ours, direct[slot], rtol=1e-9, atol=1e-9)


def test_jumps_in_a_slots_cost_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    # no grid charging at negative prices: idling imports (paid), charging cannot
    problem = hard_problem(1)
    model, layout = build_lp(problem)
    costs = slot_costs(Slots.of(problem, model, layout))
    assert max(len(parts) for parts in costs) > 1
    spy = Spy(monkeypatch)
    assert_matches_oracle(problem)
    assert (spy.programme, spy.milp) == (1, 0)


def test_a_slot_without_any_mode_is_left_to_the_milp() -> None:
    # a held charge the PV surplus cannot give without grid charging or curtailing: infeasible
    n = 4
    problem = build_problem(
        Battery(capacity=10, state_of_charge=50, max_charge_power=3000, max_discharge_power=3000),
        series(np.full(n, 0.1)),
        sell_prices=series(np.full(n, 0.2)),
        pv_forecast=[2000.0] * n,
        load_forecast=[0.0] * n,
        options=PlanOptions(
            hold_power=3000.0,
            allow_battery_export=False,
            allow_pv_curtailment=False,
        ),
    )
    model, layout = build_lp(problem)
    with pytest.raises(UnrepresentableError):
        slot_costs(Slots.of(problem, model, layout))
    assert solve(problem).status != "optimal"


@pytest.mark.parametrize("failure", [UnrepresentableError("test"), TimeoutError("test")])
def test_the_milp_serves_where_the_programme_gives_up(
    failure: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def give_up(*args: object) -> Modes:
        raise failure

    monkeypatch.setattr(solver_module, "plan_modes", give_up)
    assert_matches_oracle(sell_above_buy_all_day(noise=0.02))


def test_modes_the_lp_disagrees_with_are_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = sell_above_buy_all_day(noise=0.02)

    def wrong(problem: Problem, model: Model, *args: object) -> Modes:
        idle = np.full(problem.count, IDLE)
        return Modes(battery=idle, grid=np.full(problem.count, IMPORT), objective=-1e9)

    monkeypatch.setattr(solver_module, "plan_modes", wrong)
    assert_matches_oracle(problem)


def test_the_programme_keeps_to_its_deadline() -> None:
    problem = sell_above_buy_all_day(noise=0.0)
    model, layout = build_lp(problem)
    with pytest.raises(TimeoutError):
        plan_modes(problem, model, layout, deadline=0.0)
