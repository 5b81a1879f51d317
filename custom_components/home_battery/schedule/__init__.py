"""Planning layer: prices and forecasts in, a battery schedule out. No Home Assistant imports.

Typical use::

    prices = normalize_prices(state.attributes, now=now)  # or a list / action response
    pv = align_forecast(pv_list, prices.grid)  # W per slot
    efficiency = split_round_trip(0.9)
    battery = Battery(capacity=10, state_of_charge=50, max_charge_power=5000,
                      max_discharge_power=5000, charge_efficiency=efficiency,
                      discharge_efficiency=efficiency)
    problem = build_problem(battery, prices, pv_forecast=pv, options=PlanOptions(), now=now)
    plan = solve(problem)  # blocking: imports highspy on first use, then solves
    response = plan.to_dict()

Importing this package does not import highspy; :func:`solve` and :func:`load_solver` do. In
Home Assistant: ``await hass.async_add_import_executor_job(load_solver)`` once, then
``await hass.async_add_executor_job(solve, problem)``.
"""

from .grid import RESOLUTIONS, SlotGrid
from .model import (
    DEFAULT_ROUND_TRIP_EFFICIENCY,
    Battery,
    PlanInputError,
    PlanOptions,
    Problem,
    build_problem,
    split_round_trip,
)
from .plan import Plan, PlanSlot
from .prices import PriceFormatError, PriceSeries, align_forecast, normalize_prices
from .solver import SOLVER, load_solver, solve

__all__ = [
    "DEFAULT_ROUND_TRIP_EFFICIENCY",
    "RESOLUTIONS",
    "SOLVER",
    "Battery",
    "Plan",
    "PlanInputError",
    "PlanOptions",
    "PlanSlot",
    "PriceFormatError",
    "PriceSeries",
    "Problem",
    "SlotGrid",
    "align_forecast",
    "build_problem",
    "load_solver",
    "normalize_prices",
    "solve",
    "split_round_trip",
]
