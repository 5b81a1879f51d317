"""The linear model of a planning problem: columns, bounds, rows and the objective.

Per slot ``t`` (length ``h_t`` hours) the columns are charge ``c``, discharge ``d``, grid import
``gi`` and export ``ge``, PV curtailment ``u`` (kW, AC side) and stored energy ``e`` (kWh at
the end of the slot). Rows: the power balance ``pv - u + d + gi = load + c + ge`` and the energy
balance ``e_t = e_(t-1) + eta_c h c - h d / eta_d``. The objective is
``sum h (buy gi - sell ge + cycle_cost d) - terminal_value e_end`` plus soft penalties and a
tie-break (see :func:`objective`), scaled so that the largest price is 1.
"""

from dataclasses import dataclass

import numpy as np

from .grid import FloatArray
from .lp import Builder, IntArray, Model
from .model import Problem

#: Tie-break weight relative to the largest price: picks one plan among equal-cost ones.
TIE_BREAK = 1e-5
#: Penalty per kWh and slot (relative to the largest price) for missing a soft bound.
SOFT_PENALTY = 1e3


@dataclass(frozen=True, slots=True)
class Layout:
    """Column indexes of the per-slot variables, and each slot's ``load - pv`` (kW)."""

    charge: IntArray
    discharge: IntArray
    grid_import: IntArray
    grid_export: IntArray
    curtailment: IntArray
    energy: IntArray
    net_load: FloatArray


def build_lp(problem: Problem) -> tuple[Model, Layout]:
    """Build the columns, bounds and rows of the linear model."""
    count = problem.count
    battery = problem.battery
    hours = problem.hours
    zeros = np.zeros(count)
    charge_max, discharge_max, import_max, export_max, curtail_max = upper_bounds(problem)
    cost = objective(problem)
    e0 = battery.energy
    e_min, e_max = battery.min_energy, battery.max_energy
    net = problem.load - problem.pv

    charge_min, discharge_min = _held(problem, charge_max, discharge_max)
    builder = Builder()
    layout = Layout(
        charge=builder.add_columns(cost["charge"], charge_min, charge_max),
        discharge=builder.add_columns(cost["discharge"], discharge_min, discharge_max),
        grid_import=builder.add_columns(cost["grid_import"], zeros, import_max),
        grid_export=builder.add_columns(cost["grid_export"], zeros, export_max),
        curtailment=builder.add_columns(cost["curtailment"], zeros, curtail_max),
        energy=builder.add_columns(
            cost["energy"], np.full(count, min(e_min, e0)), np.full(count, max(e_max, e0))
        ),
        net_load=net,
    )
    # Power balance: -c + d + gi - ge - u = load - pv
    builder.add_row_terms(
        net,
        net,
        (layout.charge, -1.0),
        (layout.discharge, 1.0),
        (layout.grid_import, 1.0),
        (layout.grid_export, -1.0),
        (layout.curtailment, -1.0),
    )
    # Energy balance: e_t - e_(t-1) - eta_c h c + h d / eta_d = (e0 if t == 0 else 0)
    start = np.zeros(count)
    start[0] = e0
    energy_rows = builder.add_row_terms(
        start,
        start,
        (layout.energy, 1.0),
        (layout.charge, -battery.charge_efficiency * hours),
        (layout.discharge, hours / battery.discharge_efficiency),
    )
    builder.add_entries(energy_rows[1:], layout.energy[:-1], -1.0)
    _soft_bounds(problem, builder, layout)
    return builder.build(), layout


def _held(
    problem: Problem, charge_max: FloatArray, discharge_max: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Lower bounds of c and d: zero, or the held first-slot power as far as it can go.

    The held power is clipped to the slot's power limits and to the energy the battery can take
    or give in the slot, so holding it never makes the model infeasible by itself. The upper
    bounds of that slot are lowered to the same values (in place).
    """
    count = problem.count
    charge_min, discharge_min = np.zeros(count), np.zeros(count)
    hold = problem.options.hold_power
    if hold is None or not count:
        return charge_min, discharge_min
    battery = problem.battery
    hours = problem.hours[0]
    room = max(battery.max_energy - battery.energy, 0.0) / (battery.charge_efficiency * hours)
    stock = max(battery.energy - battery.min_energy, 0.0) * battery.discharge_efficiency / hours
    charge = min(max(-hold / 1000, 0.0), float(charge_max[0]), room)
    discharge = min(max(hold / 1000, 0.0), float(discharge_max[0]), stock)
    charge_min[0] = charge_max[0] = charge
    discharge_min[0] = discharge_max[0] = discharge
    return charge_min, discharge_min


def upper_bounds(
    problem: Problem,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return the upper bounds (kW) of c, d, gi, ge and u.

    Grid limits are raised to what the forecasts alone need, so the idle battery stays feasible.
    Without grid charging (battery export) the battery charges (the grid takes) at most the PV
    surplus. Import and export are capped at what a slot can use without importing and exporting
    at once (``load - pv + u + c`` and ``pv - load + d`` at their largest): that keeps the LP
    bounded where sell exceeds buy, removes the import (export) of a slot that can only export
    (import), and leaves every plan without simultaneous flows feasible.
    """
    options = problem.options
    count = problem.count
    pv, load = problem.pv, problem.load
    surplus = np.maximum(pv - load, 0.0)
    charge_max = np.full(count, problem.battery.max_charge_power / 1000)
    discharge_max = np.full(count, problem.battery.max_discharge_power / 1000)
    if not options.allow_grid_charge:
        charge_max = np.minimum(charge_max, surplus)
    curtail_max = pv.copy() if options.allow_pv_curtailment else np.zeros(count)
    import_max = np.maximum(load - pv + curtail_max + charge_max, 0.0)
    if options.max_import_power is not None:
        limit = np.maximum(options.max_import_power / 1000, load - pv)
        import_max = np.minimum(import_max, limit)
    export_max = np.maximum(pv - load + discharge_max, 0.0)
    if options.max_export_power is not None:
        limit = np.full(count, options.max_export_power / 1000)
        if not options.allow_pv_curtailment:
            limit = np.maximum(limit, pv - load)
        export_max = np.minimum(export_max, limit)
    if not options.allow_battery_export:
        export_max = np.minimum(export_max, surplus)
    bounds = (charge_max, discharge_max, import_max, export_max, curtail_max)
    # Drop round-off (bounds like 1e-16 W) that only make the model harder to solve.
    c, d, gi, ge, u = (np.where(bound > 1e-9, bound, 0.0) for bound in bounds)
    return c, d, gi, ge, u


def objective(problem: Problem) -> dict[str, FloatArray]:
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


@dataclass(frozen=True, slots=True)
class SoftBounds:
    """Stored energies (kWh) whose miss costs ``penalty`` per kWh (and per slot for the SOC).

    A start below the minimum SOC makes the minimum a soft ``floor`` of every slot (a start
    above the maximum, the maximum a soft ``ceiling``); the target SOC is a soft floor of the
    last slot. The slack of each is bounded by the miss at the start (the target's by itself),
    which the stored energy's own bounds already imply.
    """

    floor: float | None
    ceiling: float | None
    target: float | None
    penalty: float = SOFT_PENALTY


def soft_bounds(problem: Problem) -> SoftBounds:
    """Return the problem's soft bounds."""
    battery = problem.battery
    e0 = battery.energy
    e_min, e_max = battery.min_energy, battery.max_energy
    target_soc = problem.options.target_state_of_charge
    return SoftBounds(
        floor=e_min if e0 < e_min else None,
        ceiling=e_max if e0 > e_max else None,
        target=(None if target_soc is None else min(battery.capacity * target_soc / 100, e_max)),
    )


def _soft_bounds(problem: Problem, builder: Builder, layout: Layout) -> None:
    """Add penalised slack for a start outside the SOC bounds, and for the target."""
    bounds = soft_bounds(problem)
    count = problem.count
    e0 = problem.battery.energy
    penalty = np.full(count, bounds.penalty)
    zeros = np.zeros(count)
    if bounds.floor is not None:  # e_t + s_t >= e_min
        slack = builder.add_columns(penalty, zeros, np.full(count, bounds.floor - e0))
        builder.add_row_terms(bounds.floor, np.inf, (layout.energy, 1.0), (slack, 1.0))
    if bounds.ceiling is not None:  # e_t - s_t <= e_max
        slack = builder.add_columns(penalty, zeros, np.full(count, e0 - bounds.ceiling))
        builder.add_row_terms(-np.inf, bounds.ceiling, (layout.energy, 1.0), (slack, -1.0))
    if bounds.target is not None:  # e_end + s >= target
        target = bounds.target
        slack = builder.add_columns(penalty[:1], zeros[:1], np.full(1, max(target, 0.0)))
        builder.add_row_terms(target, np.inf, (layout.energy[-1:], 1.0), (slack, 1.0))
