"""From the sources as Home Assistant holds them to a plan: the one call the action makes.

The Home Assistant side resolves entity ids to their attributes (and action responses and
recorder statistics to plain data), builds a :class:`Battery` and :class:`PlanOptions`, and runs
:func:`compute_plan` in an executor. Everything here is pure and blocking.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo

from .forecasts import Forecast, align_forecast
from .grid import SlotGrid
from .load import forecast_load
from .model import Battery, PlanOptions, Problem, build_problem
from .plan import Plan
from .prices import apply_formula, read_prices
from .solver import DEFAULT_TIME_LIMIT, solve
from .sources import Horizon, SourceInfo, Sources

#: How ``sources.sell_prices`` describes the default sell price.
SPOT_DETAIL = "the prices' source before buy_price_multiplier and buy_price_adder"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanInputs:
    """What to plan with: the sources as read from Home Assistant, and the parameters.

    ``prices``, ``sell_prices``, ``pv_forecast`` and ``load_forecast`` are any form the action
    accepts, already resolved (an entity's attributes as a mapping, a list, an action response,
    or a list of several). ``load_history`` is the house's consumption as Home Assistant's
    long-term statistics give it (see :func:`load.forecast_load`); it is used when
    ``load_forecast`` is None.
    """

    prices: object
    battery: Battery
    options: PlanOptions = field(default_factory=PlanOptions)
    sell_prices: object | None = None
    pv_forecast: object | None = None
    load_forecast: object | None = None
    load_history: Sequence[Mapping[str, object]] | None = None
    area: str | None = None
    resolution: int | None = None
    hourly_billing: bool = False
    buy_price_multiplier: float = 1.0
    buy_price_adder: float = 0.0


def prepare(inputs: PlanInputs, *, now: datetime, tz: tzinfo) -> Problem:
    """Read every source onto one grid and build the problem (no solving).

    Naive times in any source are read in ``tz`` (Home Assistant's time zone), and hourly
    billing groups slots by its local hours. Sell prices default to the prices' own source
    before the buy price's multiplier and adder (the spot price; for a plain list, the list).
    Raises PriceFormatError or PlanInputError, each with ``reason`` and ``field``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone aware")
    spot = read_prices(
        inputs.prices,
        now=now,
        tz=tz,
        resolution=inputs.resolution,
        hourly_billing=inputs.hourly_billing,
        area=inputs.area,
    )
    buy = apply_formula(spot.series, inputs.buy_price_multiplier, inputs.buy_price_adder)
    if inputs.sell_prices is None:
        sell = spot.series
        sell_info = replace(spot.info, kind="spot", detail=SPOT_DETAIL)
    else:
        read = read_prices(
            inputs.sell_prices,
            now=now,
            tz=tz,
            resolution=inputs.resolution,
            hourly_billing=inputs.hourly_billing,
            area=inputs.area,
            field="sell_prices",
        )
        sell, sell_info = read.series, read.info
    grid = buy.grid
    pv = _forecast(inputs.pv_forecast, grid, now, tz, "pv_forecast")
    load = _forecast(inputs.load_forecast, grid, now, tz, "load_forecast")
    if load is None and inputs.load_history is not None:
        load = forecast_load(inputs.load_history, grid, tz=tz, now=now)
    sources = Sources(
        prices=spot.info,
        sell_prices=sell_info,
        horizon=Horizon(grid.start, grid.end, grid.count, "prices", spot.info.ends or "ended"),
        pv_forecast=pv.info if pv else None,
        load_forecast=load.info if load else None,
    )
    return build_problem(
        inputs.battery,
        buy,
        sell_prices=sell,
        pv_forecast=pv,
        load_forecast=load,
        options=inputs.options,
        now=now,
        sources=sources,
    )


def compute_plan(
    inputs: PlanInputs, *, now: datetime, tz: tzinfo, time_limit: float = DEFAULT_TIME_LIMIT
) -> Plan:
    """Prepare and solve (blocking: run it in an executor)."""
    return solve(prepare(inputs, now=now, tz=tz), time_limit=time_limit)


def _forecast(
    source: object | None, grid: SlotGrid, now: datetime, tz: tzinfo, name: str
) -> Forecast | None:
    """Return a forecast source on the grid, or None."""
    if source is None:
        return None
    return align_forecast(source, grid, tz=tz, now=now, field=name)


__all__ = ["SPOT_DETAIL", "PlanInputs", "SourceInfo", "compute_plan", "prepare"]
