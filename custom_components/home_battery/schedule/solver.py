"""Exact planning: a linear programme solved with HiGHS, repaired with binaries where needed.

Per slot ``t`` (length ``h_t`` hours) the columns are charge ``c``, discharge ``d``, grid import
``gi`` and export ``ge``, PV curtailment ``u`` (kW, AC side) and stored energy ``e`` (kWh at
the end of the slot). Rows: the power balance ``pv - u + d + gi = load + c + ge`` and the energy
balance ``e_t = e_(t-1) + eta_c h c - h d / eta_d``. The objective is
``sum h (buy gi - sell ge + cycle_cost d) - terminal_value e_end`` plus soft penalties and a
tie-break (see ``_objective``).

Some column pairs must not both be positive in one slot: charge/discharge, import/export, and,
with the switches off, charge/import and discharge/export. The LP respects them by itself unless
throwing energy away pays (negative prices, sell above buy). Such slots get binaries and the
model is re-solved as a MILP, again until no slot has both flows; the result is then exact for
the model with those exclusions on every slot. Should the MILP run out of time, the flagged slots
are fixed to their larger flow and the LP re-solved (a feasible plan, status ``time_limit``).

``highspy`` is imported on first use, inside :func:`solve`: call :func:`solve` in an executor, or
:func:`load_solver` in the import executor first, so the blocking import stays off the event loop.
"""

from dataclasses import dataclass, replace
import time

import numpy as np

from .grid import FloatArray
from .lp import Builder, IntArray, Model, Result, load_solver, run
from .model import Problem
from .plan import Flows, Plan, make_plan

SOLVER = "highs"
#: Flows below this (kW) count as zero when checking for simultaneous flows.
FLOW_TOLERANCE = 1e-6
#: Tie-break weight relative to the largest price: picks one plan among equal-cost ones.
TIE_BREAK = 1e-5
#: Penalty per kWh and slot (relative to the largest price) for missing a soft bound.
SOFT_PENALTY = 1e3
#: Time each fallback LP may take even after the time limit has passed, in seconds.
FALLBACK_TIME = 1.0

Pair = tuple[IntArray, IntArray]

__all__ = ["SOLVER", "load_solver", "solve"]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Column indexes of the per-slot variables."""

    charge: IntArray
    discharge: IntArray
    grid_import: IntArray
    grid_export: IntArray
    curtailment: IntArray
    energy: IntArray


def solve(problem: Problem, *, time_limit: float = 10.0) -> Plan:
    """Plan the battery for ``problem``: the exact optimum of the linear model.

    Blocking (imports highspy on first use, then solves): run it in an executor. A plan whose
    status is not ``optimal`` is feasible but maybe not optimal (``time_limit_reached``), or the
    idle battery when no plan was found; it does not raise.
    """
    began = time.perf_counter()
    deadline = began + time_limit
    model, layout = _build_lp(problem)
    pairs = _exclusive_pairs(problem, layout)
    # Where sell exceeds buy the LP would always import and export at once: start with binaries.
    imports, exports = pairs[1]
    arbitrage = (
        (problem.sell > problem.buy) & (model.upper[imports] > 0) & (model.upper[exports] > 0)
    )
    flagged = [set[int]() for _ in pairs]
    flagged[1] = {int(slot) for slot in np.flatnonzero(arbitrage)}
    result = _solve_exclusive(model, pairs, flagged, deadline)
    flows = _flows(result.values, layout) if result.values is not None else Flows.idle(problem)
    elapsed = (time.perf_counter() - began) * 1000
    return make_plan(problem, flows, status=result.status, solver=SOLVER, solve_ms=elapsed)


def _solve_exclusive(
    model: Model, pairs: list[Pair], flagged: list[set[int]], deadline: float
) -> Result:
    """Solve, adding binaries on offending slots (to ``flagged``) until every pair is exclusive."""
    last: FloatArray | None = None
    while True:
        result = run(_with_binaries(model, pairs, flagged), deadline - time.perf_counter())
        if result.values is None:
            break
        last = result.values
        new = [
            _both(last[first], last[second]) - done
            for (first, second), done in zip(pairs, flagged, strict=True)
        ]
        if not any(new):
            if result.optimal:
                return result
            break
        for index, found in enumerate(new):
            flagged[index] |= found
    if last is None:
        return result
    return Result(result.status, _fix_larger_flows(model, pairs, last))


def _fix_larger_flows(model: Model, pairs: list[Pair], values: FloatArray) -> FloatArray | None:
    """Fallback: in each offending slot keep only the larger flow of the pair, re-solve the LP."""
    upper = model.upper.copy()
    while True:
        found = False
        for first, second in pairs:
            for slot in _both(values[first], values[second]):
                smaller = (
                    second[slot] if values[first[slot]] >= values[second[slot]] else first[slot]
                )
                upper[smaller] = 0.0
                found = True
        if not found:
            return values
        result = run(replace(model, upper=upper.copy()), FALLBACK_TIME)
        if result.values is None:
            return None
        values = result.values


def _exclusive_pairs(problem: Problem, layout: _Layout) -> list[Pair]:
    """Column pairs that must not both be positive in one slot.

    Charge/discharge and import/export always; charge/import without grid charging and
    discharge/export without battery export. The LP bounds charging (export) to the PV surplus
    in those cases, which leaves only "disposal" plans (curtail PV, cover it from the grid or the
    battery) for these pairs to catch.
    """
    options = problem.options
    pairs = [(layout.charge, layout.discharge), (layout.grid_import, layout.grid_export)]
    if not options.allow_grid_charge:
        pairs.append((layout.charge, layout.grid_import))
    if not options.allow_battery_export:
        pairs.append((layout.discharge, layout.grid_export))
    return pairs


def _build_lp(problem: Problem) -> tuple[Model, _Layout]:
    """Build the columns, bounds and rows of the linear model."""
    count = problem.count
    battery = problem.battery
    hours = problem.hours
    zeros = np.zeros(count)
    charge_max, discharge_max, import_max, export_max, curtail_max = _upper_bounds(problem)
    cost = _objective(problem)
    e0 = battery.energy
    e_min, e_max = battery.min_energy, battery.max_energy

    builder = Builder()
    layout = _Layout(
        charge=builder.add_columns(cost["charge"], zeros, charge_max),
        discharge=builder.add_columns(cost["discharge"], zeros, discharge_max),
        grid_import=builder.add_columns(cost["grid_import"], zeros, import_max),
        grid_export=builder.add_columns(cost["grid_export"], zeros, export_max),
        curtailment=builder.add_columns(cost["curtailment"], zeros, curtail_max),
        energy=builder.add_columns(
            cost["energy"], np.full(count, min(e_min, e0)), np.full(count, max(e_max, e0))
        ),
    )
    # Power balance: -c + d + gi - ge - u = load - pv
    net = problem.load - problem.pv
    balance = builder.add_rows(net, net)
    for cols, sign in (
        (layout.charge, -1.0),
        (layout.discharge, 1.0),
        (layout.grid_import, 1.0),
        (layout.grid_export, -1.0),
        (layout.curtailment, -1.0),
    ):
        builder.add_entries(balance, cols, sign)
    # Energy balance: e_t - e_(t-1) - eta_c h c + h d / eta_d = (e0 if t == 0 else 0)
    start = np.zeros(count)
    start[0] = e0
    energy_rows = builder.add_rows(start, start)
    builder.add_entries(energy_rows, layout.energy, 1.0)
    builder.add_entries(energy_rows[1:], layout.energy[:-1], -1.0)
    builder.add_entries(energy_rows, layout.charge, -battery.charge_efficiency * hours)
    builder.add_entries(energy_rows, layout.discharge, hours / battery.discharge_efficiency)
    _soft_bounds(problem, builder, layout)
    return builder.build(), layout


def _upper_bounds(
    problem: Problem,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return the upper bounds (kW) of c, d, gi, ge and u.

    Grid limits are raised to what the forecasts alone need, so the idle battery stays feasible,
    and capped at what any plan without simultaneous flows can use (load + charge for import,
    PV + discharge for export), which keeps the LP bounded when sell exceeds buy. Without grid
    charging (battery export) the battery charges (the grid takes) at most the PV surplus.
    """
    options = problem.options
    count = problem.count
    pv, load = problem.pv, problem.load
    surplus = np.maximum(pv - load, 0.0)
    charge_max = np.full(count, problem.battery.max_charge_power / 1000)
    discharge_max = np.full(count, problem.battery.max_discharge_power / 1000)
    import_max = load + charge_max
    if options.max_import_power is not None:
        limit = np.maximum(options.max_import_power / 1000, load - pv)
        import_max = np.minimum(import_max, limit)
    export_max = pv + discharge_max
    if options.max_export_power is not None:
        limit = np.full(count, options.max_export_power / 1000)
        if not options.allow_pv_curtailment:
            limit = np.maximum(limit, pv - load)
        export_max = np.minimum(export_max, limit)
    if not options.allow_grid_charge:
        charge_max = np.minimum(charge_max, surplus)
    if not options.allow_battery_export:
        export_max = np.minimum(export_max, surplus)
    curtail_max = pv.copy() if options.allow_pv_curtailment else np.zeros(count)
    bounds = (charge_max, discharge_max, import_max, export_max, curtail_max)
    # Drop round-off (bounds like 1e-16 W) that only make the model harder to solve.
    c, d, gi, ge, u = (np.where(bound > 1e-9, bound, 0.0) for bound in bounds)
    return c, d, gi, ge, u


def _objective(problem: Problem) -> dict[str, FloatArray]:
    """Return the column costs, scaled so that the largest price is 1.

    The tie-break puts a tiny weight, decreasing over the horizon, on imports and charging, so
    that among equal-cost plans the battery serves the load first and imports and charging come
    as late as possible; a smaller flat one on discharging (no cycling for nothing) and on
    curtailment (export rather than curtail when that is free). This gives one stable plan for
    flat tariffs. It changes the true cost by at most ``TIE_BREAK`` x the largest price per kWh.
    """
    count = problem.count
    hours = problem.hours
    scale = price_scale(problem)
    weight = TIE_BREAK * hours * (2 - np.arange(count) / count)
    energy = np.zeros(count)
    energy[-1] = -problem.terminal_value / scale
    return {
        "charge": weight,
        "discharge": problem.battery.cycle_cost * hours / scale + TIE_BREAK * hours / 2,
        "grid_import": problem.buy * hours / scale + weight,
        "grid_export": -problem.sell * hours / scale,
        "curtailment": TIE_BREAK * hours / 2,
        "energy": energy,
    }


def price_scale(problem: Problem) -> float:
    """Return the largest price (currency per kWh) in the problem, at least 1e-9."""
    return max(
        float(np.abs(problem.buy).max()),
        float(np.abs(problem.sell).max()),
        problem.battery.cycle_cost,
        abs(problem.terminal_value),
        1e-9,
    )


def _soft_bounds(problem: Problem, builder: Builder, layout: _Layout) -> None:
    """Add penalised slack for a start outside the SOC bounds, and for the target."""
    battery = problem.battery
    count = problem.count
    e0 = battery.energy
    e_min, e_max = battery.min_energy, battery.max_energy
    penalty = np.full(count, SOFT_PENALTY)
    if e0 < e_min:  # e_t + s_t >= e_min
        slack = builder.add_columns(penalty, np.zeros(count), np.full(count, e_min - e0))
        rows = builder.add_rows(np.full(count, e_min), np.full(count, np.inf))
        builder.add_entries(rows, layout.energy, 1.0)
        builder.add_entries(rows, slack, 1.0)
    if e0 > e_max:  # e_t - s_t <= e_max
        slack = builder.add_columns(penalty, np.zeros(count), np.full(count, e0 - e_max))
        rows = builder.add_rows(np.full(count, -np.inf), np.full(count, e_max))
        builder.add_entries(rows, layout.energy, 1.0)
        builder.add_entries(rows, slack, -1.0)
    target_soc = problem.options.target_state_of_charge
    if target_soc is not None:  # e_end + s >= target
        target = min(battery.capacity * target_soc / 100, e_max)
        slack = builder.add_columns(penalty[:1], np.zeros(1), np.full(1, max(target, 0.0)))
        row = builder.add_rows(np.full(1, target), np.full(1, np.inf))
        builder.add_entries(row, layout.energy[-1:], 1.0)
        builder.add_entries(row, slack, 1.0)


def _with_binaries(model: Model, pairs: list[Pair], flagged: list[set[int]]) -> Model:
    """Add binaries that make each pair of columns exclusive in its flagged slots."""
    if not any(flagged):
        return model
    builder = Builder.from_model(model)
    integer: list[IntArray] = []
    for (first_cols, second_cols), slots in zip(pairs, flagged, strict=True):
        if not slots:
            continue
        index = np.array(sorted(slots), dtype=np.int64)
        first, second = first_cols[index], second_cols[index]
        size = index.size
        on = builder.add_columns(np.zeros(size), np.zeros(size), np.ones(size))
        integer.append(on)
        # first <= M1 b and second <= M2 (1 - b), with the columns' upper bounds as M
        rows = builder.add_rows(np.full(size, -np.inf), np.zeros(size))
        builder.add_entries(rows, first, 1.0)
        builder.add_entries(rows, on, -model.upper[first])
        rows = builder.add_rows(np.full(size, -np.inf), model.upper[second])
        builder.add_entries(rows, second, 1.0)
        builder.add_entries(rows, on, model.upper[second])
    return builder.build(np.concatenate(integer))


def _flows(values: FloatArray, layout: _Layout) -> Flows:
    """Return the flows of a solution, with round-off removed."""

    def clean(index: IntArray) -> FloatArray:
        column = values[index]
        return np.where(column > FLOW_TOLERANCE / 10, column, 0.0)

    return Flows(
        charge=clean(layout.charge),
        discharge=clean(layout.discharge),
        grid_import=clean(layout.grid_import),
        grid_export=clean(layout.grid_export),
        curtailment=clean(layout.curtailment),
        energy=values[layout.energy].copy(),
    )


def _both(first: FloatArray, second: FloatArray) -> set[int]:
    """Return the slots where both flows are above the tolerance."""
    return {int(i) for i in np.flatnonzero(np.minimum(first, second) > FLOW_TOLERANCE)}
