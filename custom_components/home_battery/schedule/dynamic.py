"""Exact dynamic programme over the stored energy, for plans the LP relaxation gets wrong.

Where sell exceeds buy, each slot must either import or export, and HiGHS' branch and bound can
take seconds to prove which (issue 16: 2.8 s for a day of quarter-hours with smooth prices). The
state of the problem is one number, the stored energy, so the same optimum follows from a
backward recursion: the cost to go from the end of slot ``t`` is a continuous piecewise-linear
function of the stored energy (``piecewise.py``), built exactly from the next slot's cost
(``slot_costs.py``) and cost to go. The plan is then read forwards.

Only the slots' modes are returned: the caller solves the LP with them fixed, whose optimum must
equal the recursion's (a check of both), and takes its flows.
"""

from dataclasses import dataclass
import math
import time

import numpy as np
import numpy.typing as npt

from .formulation import Layout, SoftBounds, soft_bounds
from .lp import Model
from .model import Problem
from .piecewise import (
    Piecewise,
    UnrepresentableError,
    add,
    convolve,
    least_change,
    lower_envelope,
    make,
)
from .slot_costs import Slots, slot_costs, slot_modes

__all__ = ["Modes", "UnrepresentableError", "plan_modes"]


@dataclass(frozen=True, slots=True)
class Modes:
    """The recursion's plan: per slot the battery side and the grid side, and its optimum."""

    battery: npt.NDArray[np.int64]
    grid: npt.NDArray[np.int64]
    objective: float


def plan_modes(problem: Problem, model: Model, layout: Layout, deadline: float = math.inf) -> Modes:
    """Return the optimal mode of every slot.

    Raises UnrepresentableError where these functions cannot represent the problem, and
    TimeoutError once ``time.perf_counter()`` passes ``deadline``.
    """
    slots = Slots.of(problem, model, layout)
    costs = slot_costs(slots)
    count = problem.count
    low, high = float(model.lower[layout.energy[0]]), float(model.upper[layout.energy[0]])
    state_costs = _state_costs(problem, model, layout, low, high)
    to_go = state_costs[-1]
    ahead = [to_go]
    for t in range(count - 1, 0, -1):
        if time.perf_counter() > deadline:
            raise TimeoutError("the dynamic programme ran out of time")
        reached = lower_envelope([convolve(to_go, part, low, high) for part in costs[t]])
        state_cost = state_costs[t - 1]
        to_go = add(reached, state_cost) if state_cost.y.any() else reached
        ahead.append(to_go)
    ahead.reverse()
    energy = problem.battery.energy
    changes = np.zeros(count)
    objective = np.inf
    for t in range(count):
        changes[t], value = min(
            (least_change(ahead[t], part, energy) for part in costs[t]), key=lambda found: found[1]
        )
        if not np.isfinite(value):
            raise UnrepresentableError("no feasible plan")
        energy += changes[t]
        if t == 0:
            objective = value  # the first slot's cost and the cost to go: the optimum
    battery, grid = slot_modes(slots, changes)
    return Modes(battery, grid, objective)


def _state_costs(
    problem: Problem, model: Model, layout: Layout, low: float, high: float
) -> list[Piecewise]:
    """Cost of the stored energy at the end of each slot: terminal value and soft bounds.

    The slots' costs differ only in the energy column's cost (the terminal value, on the last
    slot) and the target (the last slot), so each distinct one is built once.
    """
    bounds = soft_bounds(problem)
    built: dict[tuple[float, bool], Piecewise] = {}
    costs = []
    for t in range(problem.count):
        key = (float(model.cost[layout.energy[t]]), t == problem.count - 1)
        if key not in built:
            built[key] = _state_cost(bounds, *key, low, high)
        costs.append(built[key])
    return costs


def _state_cost(bounds: SoftBounds, slope: float, last: bool, low: float, high: float) -> Piecewise:
    """Cost of a stored energy: ``slope`` per kWh, and the soft bounds' penalties."""
    penalties: list[tuple[float, float, float]] = []  # (kink, slope below, slope above)
    if bounds.floor is not None:
        penalties.append((bounds.floor, -bounds.penalty, 0.0))
    if bounds.ceiling is not None:
        penalties.append((bounds.ceiling, 0.0, bounds.penalty))
    if bounds.target is not None and last:
        penalties.append((bounds.target, -bounds.penalty, 0.0))
    x = np.array(sorted([low, high, *(kink for kink, _, _ in penalties if low < kink < high)]))
    y = slope * x
    for kink, below, above in penalties:
        y = y + np.where(x < kink, below * (x - kink), above * (x - kink))
    return make(x, y)
