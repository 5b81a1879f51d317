"""Parameters of the battery and the site, and the planning problem built from them.

Field names and units follow the ``compute_schedule`` action (DESIGN.md, "Planning"): power in W
at the AC side, energy in kWh, state of charge in %, prices in currency per kWh. Internally the
problem holds power in kW and slot lengths in hours. Every number is checked against
``limits.py`` when it is given.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from math import sqrt

import numpy as np

from .errors import PlanInputError
from .forecasts import Forecast
from .grid import FloatArray, SlotGrid
from .limits import check, check_optional
from .prices import PriceSeries
from .sources import ENDED, MAX_HORIZON, SIZE_LIMIT, Horizon, SourceInfo, Sources

DEFAULT_ROUND_TRIP_EFFICIENCY = 0.9

__all__ = [
    "DEFAULT_ROUND_TRIP_EFFICIENCY",
    "Battery",
    "PlanInputError",
    "PlanOptions",
    "Problem",
    "build_problem",
    "default_terminal_value",
    "split_round_trip",
]


def split_round_trip(round_trip_efficiency: float = DEFAULT_ROUND_TRIP_EFFICIENCY) -> float:
    """Charge and discharge efficiency (each) for an even split of a round-trip efficiency."""
    return sqrt(check("round_trip_efficiency", round_trip_efficiency))


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
        for name in (
            "capacity",
            "state_of_charge",
            "max_charge_power",
            "max_discharge_power",
            "min_state_of_charge",
            "max_state_of_charge",
            "charge_efficiency",
            "discharge_efficiency",
            "cycle_cost",
        ):
            check(name, getattr(self, name))
        if self.min_state_of_charge > self.max_state_of_charge:
            raise PlanInputError(
                "min_state_of_charge", "min_state_of_charge is above max_state_of_charge"
            )

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
    """PV may be curtailed where export is limited or paid negatively; False: never."""
    terminal_value: float | None = None
    """Currency per kWh stored at the end; default :func:`default_terminal_value`."""
    target_state_of_charge: float | None = None
    """%, a soft floor for the state of charge at the end of the horizon."""
    hold_power: float | None = None
    """W (+ discharge): the first slot keeps this power (as far as the battery can), the rest is
    planned freely; the follower's "what if I keep the slot in force" (``stability.py``)."""

    def __post_init__(self) -> None:
        """Reject limits and values outside their range."""
        for name in (
            "max_import_power",
            "max_export_power",
            "terminal_value",
            "target_state_of_charge",
            "hold_power",
        ):
            check_optional(name, getattr(self, name))


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
    sources: Sources
    """What the plan is made from and why the horizon ends where it does."""

    @property
    def count(self) -> int:
        """Number of slots."""
        return self.grid.count


def default_terminal_value(buy: FloatArray, discharge_efficiency: float) -> float:
    """max(0, lowest future buy price) x discharge efficiency, per kWh stored.

    Stored energy at the end is worth at least what it saves when discharged at the cheapest
    time; never a liability, even where prices go negative (field audit D8).
    """
    return max(0.0, float(buy.min())) * discharge_efficiency if buy.size else 0.0


def build_problem(
    battery: Battery,
    prices: PriceSeries,
    *,
    sell_prices: PriceSeries | None = None,
    pv_forecast: Forecast | Sequence[float] | None = None,
    load_forecast: Forecast | Sequence[float] | None = None,
    options: PlanOptions | None = None,
    now: datetime | None = None,
    sources: Sources | None = None,
) -> Problem:
    """Put prices, forecasts (W per slot of ``prices.grid``) and parameters on one grid.

    Sell prices on another grid are averaged onto the buy grid. The horizon ends where the sell
    prices or a forecast (a :class:`Forecast` that covers fewer slots) end; a plain sequence
    must have one value per slot. Without sell prices the buy prices are used. Slots that ended
    by ``now`` are dropped and the current one is shortened. ``sources`` describes the inputs
    (built from the arrays when None).
    """
    options = options or PlanOptions()
    grid = prices.grid
    buy = prices.array()
    sell = buy.copy() if sell_prices is None else _on_grid(sell_prices, grid)
    sources = sources or _plain_sources(grid, same_sell=sell_prices is None)
    # How far each source reaches, in slots of the grid, in the order that names a tie.
    reach = [
        ("prices", grid.count, sources.prices.ends),
        ("sell_prices", _known_run(sell), sources.sell_prices.ends),
        ("pv_forecast", *_coverage(pv_forecast, grid.count, "pv_forecast")),
        ("load_forecast", *_coverage(load_forecast, grid.count, "load_forecast")),
    ]
    stop, limited_by, reason = min(
        ((end, name, ends or ENDED) for name, end, ends in reach), key=lambda item: item[0]
    )
    if limited_by == "prices" and reason == SIZE_LIMIT:
        limited_by = MAX_HORIZON
    pv = _forecast(pv_forecast, stop, "pv_forecast")
    load = _forecast(load_forecast, stop, "load_forecast")
    first = 0
    step = grid.resolution * 60
    if now is not None:
        first = max(0, int((now - grid.start).total_seconds() // step))
    if first >= stop:
        raise PlanInputError("horizon", "no slot with prices and forecasts after now")
    hours = np.full(stop - first, step / 3600)
    if now is not None:
        hours[0] -= max(0.0, (now - grid.slot_start(first)).total_seconds()) / 3600
    terminal = options.terminal_value
    if terminal is None:
        terminal = default_terminal_value(buy[first:stop], battery.discharge_efficiency)
    kept = SlotGrid(grid.slot_start(first), grid.resolution, stop - first)
    horizon = Horizon(kept.start, kept.end, kept.count, limited_by, reason)
    return Problem(
        battery=battery,
        options=options,
        grid=kept,
        hours=hours,
        buy=buy[first:stop],
        sell=sell[first:stop],
        pv=pv[first:],
        load=load[first:],
        terminal_value=terminal,
        sources=replace(sources, horizon=horizon),
    )


def _plain_sources(grid: SlotGrid, *, same_sell: bool) -> Sources:
    """Return sources for numbers passed on the grid (no description of their origin)."""
    series = SourceInfo("series", grid.start, grid.end, ends=ENDED)
    sell = replace(series, kind="prices") if same_sell else series
    horizon = Horizon(grid.start, grid.end, grid.count, "prices", ENDED)
    return Sources(prices=series, sell_prices=sell, horizon=horizon)


def _on_grid(series: PriceSeries, grid: SlotGrid) -> FloatArray:
    """Values of ``series`` on ``grid`` (NaN where it has none)."""
    if series.grid == grid:
        return series.array()
    return series.resample(grid)


def _known_run(values: FloatArray) -> int:
    """Return the number of leading values that are known (not NaN)."""
    missing = np.flatnonzero(np.isnan(values))
    return int(missing[0]) if missing.size else values.size


def _coverage(
    forecast: Forecast | Sequence[float] | None, count: int, name: str
) -> tuple[int, str | None]:
    """Slots a forecast covers, and why it stops there."""
    if isinstance(forecast, Forecast):
        return min(forecast.covered, count), forecast.info.ends
    if forecast is not None and len(forecast) != count:
        raise PlanInputError(name, f"{name} needs {count} values, got {len(forecast)}")
    return count, None


def _forecast(values: Forecast | Sequence[float] | None, count: int, name: str) -> FloatArray:
    """Return the first ``count`` values of a forecast in kW, negatives clipped to 0."""
    if values is None:
        return np.zeros(count)
    raw = values.values if isinstance(values, Forecast) else values
    for value in raw[:count]:
        check(name, value)
    return np.clip(np.array(raw[:count], dtype=np.float64), 0.0, None) / 1000
