"""Planning layer: prices and forecasts in, a battery schedule out. No Home Assistant imports.

Typical use (what the ``compute_schedule`` action does, in an executor)::

    inputs = PlanInputs(
        prices=attributes_or_list_or_response,
        battery=Battery(capacity=10, state_of_charge=50, max_charge_power=5000,
                        max_discharge_power=5000),
        pv_forecast=[today_attributes, tomorrow_attributes],
        load_history=statistics_rows,
        options=PlanOptions(allow_pv_curtailment=True),
    )
    plan = compute_plan(inputs, now=now, tz=time_zone)  # blocking
    response = plan.to_dict()

The pieces (``read_prices``, ``align_forecast``, ``forecast_load``, ``build_problem``,
``solve``) can be used alone. Errors are :class:`PlanInputError` (a parameter out of range) and
:class:`PriceFormatError` (a source it cannot read), both with ``reason`` and ``field``.
``decide_setpoint`` is the follower's stability rule at each re-plan.

Importing this package does not import highspy; :func:`solve` and :func:`load_solver` do. In
Home Assistant: ``await hass.async_add_import_executor_job(load_solver)`` once, then
``await hass.async_add_executor_job(compute_plan, inputs, ...)``.
"""

from .errors import PlanInputError, PlanningError, PriceFormatError
from .forecasts import Forecast, align_forecast
from .grid import RESOLUTIONS, SlotGrid
from .limits import LIMITS
from .load import forecast_load
from .model import (
    DEFAULT_ROUND_TRIP_EFFICIENCY,
    Battery,
    PlanOptions,
    Problem,
    build_problem,
    split_round_trip,
)
from .pipeline import PlanInputs, compute_plan, prepare
from .plan import Plan, PlanSlot
from .prices import MAX_DAYS, PriceSeries, normalize_prices, read_prices
from .solver import DEFAULT_TIME_LIMIT, SOLVER, STATUS_FEASIBLE, STATUS_OPTIMAL, load_solver, solve
from .sources import Horizon, SourceInfo, Sources
from .stability import DEFAULT_THRESHOLD, Decision, decide_setpoint, needs_hold, slot_at

__all__ = [
    "DEFAULT_ROUND_TRIP_EFFICIENCY",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TIME_LIMIT",
    "LIMITS",
    "MAX_DAYS",
    "RESOLUTIONS",
    "SOLVER",
    "STATUS_FEASIBLE",
    "STATUS_OPTIMAL",
    "Battery",
    "Decision",
    "Forecast",
    "Horizon",
    "Plan",
    "PlanInputError",
    "PlanInputs",
    "PlanOptions",
    "PlanSlot",
    "PlanningError",
    "PriceFormatError",
    "PriceSeries",
    "Problem",
    "SlotGrid",
    "SourceInfo",
    "Sources",
    "align_forecast",
    "build_problem",
    "compute_plan",
    "decide_setpoint",
    "forecast_load",
    "load_solver",
    "needs_hold",
    "normalize_prices",
    "prepare",
    "read_prices",
    "slot_at",
    "solve",
    "split_round_trip",
]
