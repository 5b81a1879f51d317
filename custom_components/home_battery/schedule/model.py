"""Parameters of the battery and the site, and the planning problem built from them.

Field names and units follow the ``compute_schedule`` action (DESIGN.md, "Planning"): power in W
at the AC side, energy in kWh, state of charge in %, prices in currency per kWh. Internally the
problem holds power in kW and slot lengths in hours.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import isfinite, sqrt

import numpy as np

from .grid import FloatArray, SlotGrid
from .prices import PriceSeries

DEFAULT_ROUND_TRIP_EFFICIENCY = 0.9


class PlanInputError(ValueError):
    """Parameters that do not describe a plannable battery or horizon.

    ``reason`` is short and machine readable, e.g. ``capacity``, ``state_of_charge``,
    ``efficiency``, ``power``, ``forecast_length``, ``no_sell_prices``, ``horizon``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        """Store the reason and build the message."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def split_round_trip(round_trip_efficiency: float = DEFAULT_ROUND_TRIP_EFFICIENCY) -> float:
    """Charge and discharge efficiency (each) for an even split of a round-trip efficiency."""
    if not 0 < round_trip_efficiency <= 1:
        raise PlanInputError("efficiency", "round_trip_efficiency must be in (0, 1]")
    return sqrt(round_trip_efficiency)


@dataclass(frozen=True, slots=True, kw_only=True)
class Battery:
    """A battery as the action describes it."""

    capacity: float
    """Usable capacity, kWh."""
    state_of_charge: float
    """State of charge now, %."""
    max_charge_power: float
    """W at the AC side."""
    max_discharge_power: float
    """W at the AC side."""
    min_state_of_charge: float = 0.0
    max_state_of_charge: float = 100.0
    charge_efficiency: float = field(default_factory=split_round_trip)
    discharge_efficiency: float = field(default_factory=split_round_trip)
    cycle_cost: float = 0.0
    """Currency per kWh discharged (AC side)."""

    def __post_init__(self) -> None:
        """Reject values that cannot describe a battery."""
        _check(self.capacity > 0, "capacity", "capacity must be positive")
        _check(0 <= self.state_of_charge <= 100, "state_of_charge", "must be in 0-100 %")
        _check(
            0 <= self.min_state_of_charge <= self.max_state_of_charge <= 100,
            "state_of_charge",
            "need 0 <= min_state_of_charge <= max_state_of_charge <= 100",
        )
        _check(
            self.max_charge_power >= 0 and self.max_discharge_power >= 0,
            "power",
            "power limits must not be negative",
        )
        _check(
            0 < self.charge_efficiency <= 1 and 0 < self.discharge_efficiency <= 1,
            "efficiency",
            "efficiencies must be in (0, 1]",
        )
        _check(self.cycle_cost >= 0, "cycle_cost", "cycle_cost must not be negative")

    @property
    def energy(self) -> float:
        """Stored energy now, kWh."""
        return self.capacity * self.state_of_charge / 100

    @property
    def min_energy(self) -> float:
        """Lowest allowed stored energy, kWh."""
        return self.capacity * self.min_state_of_charge / 100

    @property
    def max_energy(self) -> float:
        """Highest allowed stored energy, kWh."""
        return self.capacity * self.max_state_of_charge / 100


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    """Site limits and the user's switches."""

    max_import_power: float | None = None
    """W; None is unlimited. Raised to the forecast load where that alone needs more."""
    max_export_power: float | None = None
    """W; None is unlimited."""
    allow_grid_charge: bool = True
    """False: no slot both charges the battery and imports."""
    allow_battery_export: bool = True
    """False: no slot both discharges the battery and exports."""
    allow_pv_curtailment: bool = True
    """PV may be curtailed where export is limited or paid negatively."""
    terminal_value: float | None = None
    """Currency per kWh stored at the end; default the lowest buy price x discharge efficiency."""
    target_state_of_charge: float | None = None
    """%, a soft floor for the state of charge at the end of the horizon."""

    def __post_init__(self) -> None:
        """Reject negative limits and an impossible target."""
        for limit in (self.max_import_power, self.max_export_power):
            _check(limit is None or limit >= 0, "power", "grid limits must not be negative")
        target = self.target_state_of_charge
        _check(target is None or 0 <= target <= 100, "state_of_charge", "target must be 0-100 %")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Problem:
    """Everything the solver needs, on one grid; power in kW, energy in kWh."""

    battery: Battery
    options: PlanOptions
    grid: SlotGrid
    hours: FloatArray
    """Length of each slot in hours; the first is shortened to the part after ``now``."""
    buy: FloatArray
    sell: FloatArray
    pv: FloatArray
    load: FloatArray
    terminal_value: float
    """Resolved terminal value, currency per kWh stored."""

    @property
    def count(self) -> int:
        """Number of slots."""
        return self.grid.count


def build_problem(
    battery: Battery,
    prices: PriceSeries,
    *,
    sell_prices: PriceSeries | None = None,
    pv_forecast: Sequence[float] | None = None,
    load_forecast: Sequence[float] | None = None,
    options: PlanOptions | None = None,
    now: datetime | None = None,
) -> Problem:
    """Put prices, forecasts (W per slot of ``prices.grid``) and parameters on one grid.

    Sell prices on another grid are averaged onto the buy grid; the horizon ends where either
    price runs out. Slots that ended by ``now`` are dropped and the current one is shortened.
    """
    options = options or PlanOptions()
    grid = prices.grid
    buy = prices.array()
    sell = buy.copy() if sell_prices is None else _on_grid(sell_prices, grid)
    pv = _forecast(pv_forecast, grid.count, "pv_forecast")
    load = _forecast(load_forecast, grid.count, "load_forecast")
    missing = np.flatnonzero(np.isnan(sell))
    stop = int(missing[0]) if missing.size else grid.count
    step = grid.resolution * 60
    first = 0
    if now is not None:
        elapsed = (now - grid.start).total_seconds()
        first = max(0, int(elapsed // step))
    if first >= stop:
        raise PlanInputError("horizon", "no slot with both buy and sell prices after now")
    hours = np.full(stop - first, step / 3600)
    if now is not None:
        hours[0] -= max(0.0, (now - grid.slot_start(first)).total_seconds()) / 3600
    terminal = options.terminal_value
    if terminal is None:
        terminal = float(buy[first:stop].min()) * battery.discharge_efficiency
    return Problem(
        battery=battery,
        options=options,
        grid=SlotGrid(grid.slot_start(first), grid.resolution, stop - first),
        hours=hours,
        buy=buy[first:stop],
        sell=sell[first:stop],
        pv=pv[first:stop],
        load=load[first:stop],
        terminal_value=terminal,
    )


def _on_grid(series: PriceSeries, grid: SlotGrid) -> FloatArray:
    """Values of ``series`` on ``grid`` (NaN where it has none)."""
    if series.grid == grid:
        return series.array()
    return series.resample(grid)


def _forecast(values: Sequence[float] | None, count: int, name: str) -> FloatArray:
    """Convert a forecast in W per slot to kW, clipping negative values to 0."""
    if values is None:
        return np.zeros(count)
    if len(values) != count:
        raise PlanInputError("forecast_length", f"{name} needs {count} values, got {len(values)}")
    array = np.array(values, dtype=np.float64)
    _check(all(isfinite(v) for v in values), "forecast", f"{name} has a missing value")
    return np.clip(array, 0.0, None) / 1000


def _check(condition: bool, reason: str, detail: str) -> None:
    """Raise a PlanInputError unless ``condition`` holds."""
    if not condition:
        raise PlanInputError(reason, detail)
