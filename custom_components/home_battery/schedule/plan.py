"""The planned schedule, its costs against an idle battery, and its JSON form."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np

from .grid import FloatArray
from .model import Problem
from .sources import Sources


@dataclass(frozen=True, slots=True)
class PlanSlot:
    """One slot of the plan; power in W with Home Assistant's signs."""

    start: datetime
    end: datetime
    power: float
    """Battery power, + discharging, - charging."""
    state_of_charge: float
    """% at the end of the slot."""
    grid_power: float
    """+ import, - export."""
    buy_price: float
    sell_price: float
    pv_curtailment: float = 0.0
    """PV power the plan leaves unused, W (its cost and grid_power assume it is curtailed)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A schedule with its totals (currency) and how it was found."""

    slots: tuple[PlanSlot, ...]
    cost: float
    """Imports x buy - exports x sell + cycle cost over the horizon."""
    baseline_cost: float
    """The same forecasts with the battery idle."""
    terminal_value: float
    """Credit for the change in stored energy at the end, at the terminal value."""
    savings: float
    """baseline_cost - cost + terminal_value."""
    status: str
    """``optimal``; ``feasible`` (time budget hit, not proven optimal); else no plan (idle)."""
    solver: str
    solve_ms: float
    sources: Sources

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: ISO times, rounded numbers, the action's field names."""
        return {
            "slots": [
                {
                    "start": slot.start.isoformat(),
                    "end": slot.end.isoformat(),
                    "power": round(slot.power, 1),
                    "state_of_charge": round(slot.state_of_charge, 2),
                    "grid_power": round(slot.grid_power, 1),
                    "pv_curtailment": round(slot.pv_curtailment, 1),
                    "buy_price": round(slot.buy_price, 6),
                    "sell_price": round(slot.sell_price, 6),
                }
                for slot in self.slots
            ],
            "cost": round(self.cost, 4),
            "baseline_cost": round(self.baseline_cost, 4),
            "terminal_value": round(self.terminal_value, 4),
            "savings": round(self.savings, 4),
            "status": self.status,
            "solver": self.solver,
            "solve_ms": round(self.solve_ms, 2),
            "sources": self.sources.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Flows:
    """Per-slot flows in kW and stored energy (kWh, end of slot) of a solution."""

    charge: FloatArray
    discharge: FloatArray
    grid_import: FloatArray
    grid_export: FloatArray
    curtailment: FloatArray
    energy: FloatArray

    @classmethod
    def idle(cls, problem: Problem) -> "Flows":
        """Return the flows with the battery idle and the grid balancing the forecasts."""
        count = problem.count
        lower, upper = baseline_net_bounds(problem)
        net = _cheapest_net(problem, lower, upper)
        used_pv = problem.load - net
        return cls(
            charge=np.zeros(count),
            discharge=np.zeros(count),
            grid_import=np.maximum(net, 0.0),
            grid_export=np.maximum(-net, 0.0),
            curtailment=np.maximum(problem.pv - used_pv, 0.0),
            energy=np.full(count, problem.battery.energy),
        )


def baseline_net_bounds(problem: Problem) -> tuple[FloatArray, FloatArray]:
    """Range of net grid power (kW) per slot with the battery idle."""
    options = problem.options
    net = problem.load - problem.pv
    lower = net.copy()
    upper = problem.load.copy() if options.allow_pv_curtailment else net.copy()
    if options.max_export_power is not None and options.allow_pv_curtailment:
        lower = np.maximum(lower, -options.max_export_power / 1000)
    if options.max_import_power is not None:
        upper = np.minimum(upper, np.maximum(options.max_import_power / 1000, net))
    return lower, upper


def _cheapest_net(problem: Problem, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Net grid power in [lower, upper] with the lowest cost (piecewise linear, kinked at 0)."""
    candidates = np.stack([lower, upper, np.clip(0.0, lower, upper)])
    costs = np.maximum(candidates, 0) * problem.buy + np.minimum(candidates, 0) * problem.sell
    best: FloatArray = candidates[np.argmin(costs, axis=0), np.arange(problem.count)]
    return best


def flow_cost(problem: Problem, flows: Flows) -> float:
    """Return imports x buy - exports x sell + cycle cost."""
    hours = problem.hours
    money = problem.buy * flows.grid_import - problem.sell * flows.grid_export
    wear = problem.battery.cycle_cost * flows.discharge
    return float(np.sum(hours * (money + wear)))


def make_plan(problem: Problem, flows: Flows, *, status: str, solver: str, solve_ms: float) -> Plan:
    """Assemble the plan and its totals from a solution's flows."""
    battery = problem.battery
    power = _floats((flows.discharge - flows.charge) * 1000)
    grid = _floats((flows.grid_import - flows.grid_export) * 1000)
    soc = _floats(flows.energy / battery.capacity * 100)
    curtailment = _floats(flows.curtailment * 1000)
    buy, sell = _floats(problem.buy), _floats(problem.sell)
    step = problem.grid.step
    starts = problem.grid.starts()
    slots = tuple(
        PlanSlot(start, start + step, power[i], soc[i], grid[i], buy[i], sell[i], curtailment[i])
        for i, start in enumerate(starts)
    )
    cost = flow_cost(problem, flows)
    baseline = flow_cost(problem, Flows.idle(problem))
    final = float(flows.energy[-1]) if problem.count else battery.energy
    credit = problem.terminal_value * (final - battery.energy)
    return Plan(
        slots=slots,
        cost=cost,
        baseline_cost=baseline,
        terminal_value=credit,
        savings=baseline - cost + credit,
        status=status,
        solver=solver,
        solve_ms=solve_ms,
        sources=problem.sources,
    )


def _floats(array: FloatArray) -> list[float]:
    """Return a 1-d array as a list of Python floats."""
    return cast(list[float], array.tolist())
