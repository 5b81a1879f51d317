"""Exact planning: a linear programme solved with HiGHS, with binaries where the LP is not exact.

The model is in ``formulation.py``. Some flows must not both be positive in one slot
(``exclusive.py``); where the costs would make the LP run both, the slots get binaries, and any
slot the solution still gets wrong is added and the model solved again. The result is exact for
the model with those exclusions on every slot.

Where sell exceeds buy in some slot, every such slot must choose between importing and
exporting, and HiGHS may need seconds to prove which. There the exact dynamic programme of
``dynamic.py`` picks each slot's mode first, and the LP with those modes fixed gives the flows;
its optimum must equal the programme's, else (or where the programme cannot represent the
problem) the MILP solves it as before.

The whole solve keeps to a time budget. HiGHS stops at its time limit (its inputs are checked
to be finite and bounded first: it never returns from NaN coefficients, field audit F1). Should
the MILP run out of time, its best solution is used, or the offending slots are fixed to their
larger flow and the LP solved again: a feasible plan whose status is ``feasible`` (not proven
optimal).

``highspy`` is imported on first use, inside :func:`solve`: call :func:`solve` in an executor, or
:func:`load_solver` in the import executor first, so the blocking import stays off the event loop.
"""

from dataclasses import replace
import time

import numpy as np

from .dynamic import UnrepresentableError, plan_modes
from .exclusive import Pair, arbitrage_slots, both, exclusive_pairs, with_binaries
from .formulation import Layout, build_lp
from .grid import FloatArray
from .lp import IntArray, InvalidModelError, Model, Result, load_solver, run
from .model import PlanInputError, Problem
from .plan import Flows, Plan, make_plan
from .slot_costs import CHARGE, DISCHARGE, EXPORT, IMPORT

SOLVER = "highs"
#: The plan is the proven optimum of the model.
STATUS_OPTIMAL = "optimal"
#: The time budget ran out: the plan is feasible but not proven optimal.
STATUS_FEASIBLE = "feasible"
#: Seconds a solve may take by default (it takes milliseconds on real data).
DEFAULT_TIME_LIMIT = 5.0
#: Share of the budget kept for the fallback LPs after a MILP that ran out of time.
FALLBACK_SHARE = 0.2
#: Share of the budget the dynamic programme may take before the MILP takes over.
PROGRAMME_SHARE = 0.5
#: Shortest time limit handed to HiGHS, in seconds.
MIN_RUN_TIME = 0.01
#: The LP with the programme's modes fixed must reach its optimum within this (relative).
AGREEMENT = 1e-7

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "SOLVER",
    "STATUS_FEASIBLE",
    "STATUS_OPTIMAL",
    "load_solver",
    "solve",
]


def solve(problem: Problem, *, time_limit: float = DEFAULT_TIME_LIMIT) -> Plan:
    """Plan the battery for ``problem``: the exact optimum of the linear model.

    Blocking (imports highspy on first use, then solves): run it in an executor. Returns within
    ``time_limit`` seconds plus one LP's time. The plan's status is ``optimal``, ``feasible`` (the
    budget ran out; the plan keeps every limit but may cost more than the optimum), or HiGHS'
    status when no plan was found, with the battery idle. Raises PlanInputError (reason
    ``model``) if the model holds a number the solver must not see, which validated inputs never
    produce.
    """
    began = time.perf_counter()
    deadline = began + time_limit
    model, layout = build_lp(problem)
    options = problem.options
    pairs = exclusive_pairs(
        layout, grid_charge=options.allow_grid_charge, battery_export=options.allow_battery_export
    )
    flagged = arbitrage_slots(model, layout, pairs)
    mip_deadline = deadline - FALLBACK_SHARE * time_limit
    try:
        result = None
        if any(flagged):
            programme_deadline = began + PROGRAMME_SHARE * time_limit
            result = _solve_by_modes(problem, model, layout, pairs, programme_deadline, deadline)
        if result is None:
            result = _solve_exclusive(model, layout, pairs, flagged, mip_deadline, deadline)
    except InvalidModelError as err:
        raise PlanInputError("model", str(err)) from err
    flows = _flows(result.values, layout) if result.values is not None else Flows.idle(problem)
    elapsed = (time.perf_counter() - began) * 1000
    return make_plan(problem, flows, status=result.status, solver=SOLVER, solve_ms=elapsed)


def _solve_by_modes(
    problem: Problem,
    model: Model,
    layout: Layout,
    pairs: list[Pair],
    programme_deadline: float,
    deadline: float,
) -> Result | None:
    """Solve with the dynamic programme's modes fixed; None where it cannot tell the optimum."""
    try:
        modes = plan_modes(problem, model, layout, programme_deadline)
    except (UnrepresentableError, TimeoutError):
        return None
    upper = model.upper.copy()
    for columns, closed in (
        (layout.charge, modes.battery != CHARGE),
        (layout.discharge, modes.battery != DISCHARGE),
        (layout.grid_import, modes.grid != IMPORT),
        (layout.grid_export, modes.grid != EXPORT),
    ):
        index = columns[closed]
        upper[index] = model.lower[index]  # zero, or the first slot's held power
    result = run(replace(model, upper=upper), max(deadline - time.perf_counter(), MIN_RUN_TIME))
    if not result.optimal or result.values is None:
        return None
    values = result.values
    objective = float(model.cost @ values)
    exclusive = not any(both(values[pair.first], values[pair.second]) for pair in pairs)
    if not exclusive or abs(objective - modes.objective) > AGREEMENT * (1 + abs(objective)):
        return None
    return Result(STATUS_OPTIMAL, values)


def _solve_exclusive(
    model: Model,
    layout: Layout,
    pairs: list[Pair],
    flagged: list[set[int]],
    mip_deadline: float,
    deadline: float,
) -> Result:
    """Solve, adding binaries on offending slots (to ``flagged``) until every pair is exclusive."""
    last: FloatArray | None = None
    valid = set(range(len(layout.charge)))
    while True:
        remaining = max(mip_deadline - time.perf_counter(), MIN_RUN_TIME)
        result = run(with_binaries(model, layout, pairs, flagged), remaining)
        if result.values is None:
            break
        last = result.values
        new = [
            both(last[pair.first], last[pair.second]) - done
            for pair, done in zip(pairs, flagged, strict=True)
        ]
        if not any(new):
            status = STATUS_OPTIMAL if result.optimal else STATUS_FEASIBLE
            return Result(status, last)
        if time.perf_counter() >= mip_deadline:
            break
        for index, found in enumerate(new):
            # violations come in runs (a negative-price night): flag the neighbours too, which
            # saves a further MILP round more often than it costs
            flagged[index] |= {slot + shift for slot in found for shift in (-1, 0, 1)} & valid
    if last is None:
        if not any(flagged):
            return result  # the LP itself found nothing
        relaxed = run(model, max(deadline - time.perf_counter(), MIN_RUN_TIME))
        if relaxed.values is None:
            return relaxed
        last = relaxed.values
    values = _fix_larger_flows(model, pairs, last, deadline)
    return Result(STATUS_FEASIBLE if values is not None else result.status, values)


def _fix_larger_flows(
    model: Model, pairs: list[Pair], values: FloatArray, deadline: float
) -> FloatArray | None:
    """Fallback: in each offending slot keep only the larger flow of the pair, re-solve the LP.

    Each round zeroes at least one more column, so the loop ends; it also ends at the deadline.
    """
    upper = model.upper.copy()
    while True:
        smaller = [_smaller_columns(pair, values) for pair in pairs]
        if not any(index.size for index in smaller):
            return values
        if time.perf_counter() >= deadline:
            return None
        upper[np.concatenate(smaller)] = 0.0
        result = run(replace(model, upper=upper.copy()), deadline - time.perf_counter())
        if result.values is None:
            return None
        values = result.values


def _smaller_columns(pair: Pair, values: FloatArray) -> IntArray:
    """Columns of the smaller flow in each slot where both flows of ``pair`` run."""
    slots = np.array(sorted(both(values[pair.first], values[pair.second])), dtype=np.int64)
    first, second = pair.first[slots], pair.second[slots]
    return np.where(values[first] >= values[second], second, first)


def _flows(values: FloatArray, layout: Layout) -> Flows:
    """Return the flows of a solution, with round-off removed."""

    def clean(index: IntArray) -> FloatArray:
        column = values[index]
        return np.where(column > 1e-7, column, 0.0)

    return Flows(
        charge=clean(layout.charge),
        discharge=clean(layout.discharge),
        grid_import=clean(layout.grid_import),
        grid_export=clean(layout.grid_export),
        curtailment=clean(layout.curtailment),
        energy=values[layout.energy].copy(),
    )
