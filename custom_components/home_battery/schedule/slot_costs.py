"""Each slot's cost as a function of the battery's power, over the modes the slot may run in.

A slot's battery power ``p`` (kW at the AC side, + charging) fixes how much it needs from the
grid, ``need = load - pv + p``. In a mode (charging or discharging, importing or exporting) the
cheapest way to meet that need is an LP in ``p`` alone: its cost is convex and piecewise linear,
with bends where the curtailment or a grid limit starts to bind. A slot's cost is the least over
its modes, which is not convex where sell exceeds buy (the modes' costs cross). Every slot is
computed at once in arrays: the modes at every point where one may bend, and where two cross.

Costs and bounds come from the LP model's columns (``formulation.py``), so this is the cost the
LP would charge for the same flows.
"""

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from .formulation import Layout
from .grid import FloatArray
from .lp import Model
from .model import Problem
from .piecewise import (
    JUMP,
    MERGE,
    Lines,
    Piecewise,
    UnrepresentableError,
    crossings,
    gaps,
    jumps,
    make,
)

CHARGE, IDLE, DISCHARGE = 1, 0, -1
IMPORT, EXPORT = 1, -1
#: The modes: (battery side, grid side).
MODES = ((CHARGE, IMPORT), (CHARGE, EXPORT), (DISCHARGE, IMPORT), (DISCHARGE, EXPORT))


@dataclass(frozen=True, slots=True)
class Column:
    """One per-slot column of the model: its cost (scaled, per kW), bounds (kW), per slot."""

    cost: FloatArray
    low: FloatArray
    high: FloatArray

    @classmethod
    def of(cls, model: Model, index: npt.NDArray[np.int64]) -> "Column":
        """Read the column at ``index`` (one per slot) as column vectors."""
        return cls(
            model.cost[index][:, None], model.lower[index][:, None], model.upper[index][:, None]
        )


@dataclass(frozen=True, slots=True)
class Slots:
    """The model's per-slot columns that set a slot's cost, and the slot's constants."""

    net: FloatArray
    """load - pv, kW."""
    charge: Column
    discharge: Column
    grid_import: Column
    grid_export: Column
    """Its cost is negative where export earns."""
    curtailment: Column
    stored_per_kw: FloatArray
    """kWh the battery gains per kW charged for the slot (efficiency x hours)."""
    drawn_per_kw: FloatArray
    """kWh the battery loses per kW discharged for the slot (hours / efficiency)."""
    grid_charge: bool
    battery_export: bool

    @classmethod
    def of(cls, problem: Problem, model: Model, layout: Layout) -> "Slots":
        """Read the slots from the model of ``problem``."""
        battery, options, hours = problem.battery, problem.options, problem.hours[:, None]
        return cls(
            net=layout.net_load[:, None],
            charge=Column.of(model, layout.charge),
            discharge=Column.of(model, layout.discharge),
            grid_import=Column.of(model, layout.grid_import),
            grid_export=Column.of(model, layout.grid_export),
            curtailment=Column.of(model, layout.curtailment),
            stored_per_kw=battery.charge_efficiency * hours,
            drawn_per_kw=hours / battery.discharge_efficiency,
            grid_charge=options.allow_grid_charge,
            battery_export=options.allow_battery_export,
        )

    def energy_change(self, power: FloatArray) -> FloatArray:
        """Return each slot's stored energy change (kWh) at battery ``power`` (kW, + charging)."""
        return np.where(power >= 0, power * self.stored_per_kw, power * self.drawn_per_kw)

    def power(self, change: FloatArray) -> FloatArray:
        """Battery power (kW) of each slot for a stored energy ``change`` (kWh)."""
        return np.where(change >= 0, change / self.stored_per_kw, change / self.drawn_per_kw)

    def kinks(self) -> FloatArray:
        """Powers where a mode's cost may bend (unclipped), one row per slot."""
        u_max, gi_max, ge_max = self.curtailment.high, self.grid_import.high, self.grid_export.high
        zero = np.zeros_like(self.net)
        needs = (-u_max, zero, gi_max - u_max, gi_max, -u_max - ge_max, -ge_max)
        ends = (self.charge.low, self.charge.high, -self.discharge.low, -self.discharge.high, zero)
        return np.hstack([need - self.net for need in needs] + list(ends))

    def mode_cost(self, battery: int, grid: int, power: FloatArray) -> FloatArray:
        """Cost of each slot at ``power`` in one mode; infinite where the mode cannot run."""
        need = self.net + power
        u_max, u_cost = self.curtailment.high, self.curtailment.cost
        with np.errstate(invalid="ignore"):
            if grid == IMPORT:  # gi = need + u
                gi_max, gi_cost = self.grid_import.high, self.grid_import.cost
                inside = (need >= -u_max - MERGE) & (need <= gi_max + MERGE)
                curtail = np.where(
                    gi_cost + u_cost >= 0, np.maximum(0.0, -need), np.minimum(u_max, gi_max - need)
                )
                value = gi_cost * (need + curtail) + u_cost * curtail
            else:  # ge = -need - u
                ge_max, ge_cost = self.grid_export.high, self.grid_export.cost
                inside = (need >= -u_max - ge_max - MERGE) & (need <= MERGE)
                curtail = np.where(
                    u_cost - ge_cost >= 0, np.maximum(0.0, -need - ge_max), np.minimum(u_max, -need)
                )
                value = ge_cost * (-need - curtail) + u_cost * curtail
            if battery == CHARGE:
                own, other, flow = self.charge, self.discharge, power
                closed = grid == IMPORT and not self.grid_charge
            else:
                own, other, flow = self.discharge, self.charge, -power
                closed = grid == EXPORT and not self.battery_export
            high = np.minimum(own.high, 0.0) if closed else own.high
            inside &= (flow >= own.low - MERGE) & (flow <= high + MERGE)
            inside &= other.low <= MERGE  # the other column must be free to be 0
            value = value + own.cost * flow
        return np.where(inside, value, np.inf)


def slot_costs(slots: Slots) -> list[list[Piecewise]]:
    """Each slot's cost as a function of its stored energy change (kWh), in continuous parts.

    The cost jumps where a mode stops and the others cost more (charging without grid
    charging cannot import at a negative price, idling can): it is split there into parts
    that each hold their limit at the jump, and the point itself where it is below both.
    Raises UnrepresentableError where a slot's feasible powers are not one interval.
    """
    power = np.sort(slots.kinks(), axis=1)
    # the same point twice would make an interval of no width: move the copy out of the way
    power[:, 1:][np.diff(power, axis=1) <= MERGE] = np.inf
    power.sort(axis=1)
    lines = Lines(np.array([slots.mode_cost(battery, grid, power) for battery, grid in MODES]))
    value, left, right = lines.least()
    if gaps(value, left, right).any() or not np.isfinite(value).any(axis=1).all():
        raise UnrepresentableError("a slot's feasible powers are not one interval")
    (slot, interval), share, least = crossings(lines.start, lines.end)
    order = np.argsort(slot, kind="stable")  # they come pair by pair: gather them by slot
    slot, interval, share, least = slot[order], interval[order], share[order], least[order]
    # power to energy is linear on either side of 0, and 0 is a point of every slot, so a
    # crossing lies at the same share of its interval in energy as in power
    change = slots.energy_change(power)
    where = change[slot, interval] + share * (change[slot, interval + 1] - change[slot, interval])
    jump = jumps(value, left, right)
    split = np.searchsorted(slot, np.arange(power.shape[0] + 1))
    result = []
    for index in range(power.shape[0]):
        here = slice(split[index], split[index + 1])
        x = np.concatenate((change[index], where[here]))
        y = np.concatenate((value[index], least[here]))
        if not jump[index].any():
            finite = np.isfinite(y)
            result.append([make(x[finite], y[finite])])
            continue
        at = np.flatnonzero(jump[index])
        result.append(_parts(x, y, change[index][at], left[index][at], right[index][at]))
    return result


def _parts(
    x: FloatArray, y: FloatArray, at: FloatArray, left: FloatArray, right: FloatArray
) -> list[Piecewise]:
    """Split a slot's cost at its jumps ``at`` (with the limits there) into continuous parts."""
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    order = np.argsort(x)
    x, y = x[order], y[order]
    parts = []
    edges = [float(x[0]), *(float(point) for point in at), float(x[-1])]
    for number, (low, high) in enumerate(pairwise(edges)):
        inner = (x > low + MERGE) & (x < high - MERGE)
        low_value = right[number - 1] if number > 0 else y[0]
        high_value = left[number] if number < at.size else y[-1]
        if not (np.isfinite(low_value) and np.isfinite(high_value)):
            continue  # nothing runs between two jumps that end the domain
        parts.append(
            make(
                np.concatenate(([low], x[inner], [high])),
                np.concatenate(([low_value], y[inner], [high_value])),
            )
        )
    values = y[np.searchsorted(x, at - MERGE)]
    alone = values < np.minimum(left, right) - JUMP
    for point, value in zip(at[alone], values[alone], strict=True):
        parts.append(Piecewise(np.array([point]), np.array([value])))
    return parts


def slot_modes(slots: Slots, change: FloatArray) -> tuple[npt.NDArray[np.int64], ...]:
    """Return the cheapest mode of each slot at its planned energy change (battery, grid)."""
    power = slots.power(change[:, None])[:, 0]
    costs = np.array([slots.mode_cost(battery, grid, power[:, None]) for battery, grid in MODES])
    best = np.argmin(costs[:, :, 0], axis=0)
    sides = np.array(MODES)
    battery = np.where(np.abs(power) > MERGE, sides[best, 0], IDLE)
    return battery, sides[best, 1]
