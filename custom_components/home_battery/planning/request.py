"""Turn the action's fields, or a battery's options, into a planning problem; plan off the loop.

One builder (`build_request`) serves the compute_schedule action and schedule control alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_CAPACITY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_ROUND_TRIP_EFFICIENCY,
    DEFAULT_CAPACITY,
    DEFAULT_MAX_POWER,
    DEFAULT_ROUND_TRIP_EFFICIENCY,
    DOMAIN,
)
from ..coordinator import HomeBatteryCoordinator
from ..devices.model import Key
from ..schedule import (
    Battery,
    Plan,
    PlanInputError,
    PlanOptions,
    PriceFormatError,
    align_forecast,
    build_problem,
    load_solver,
    normalize_prices,
    solve,
    split_round_trip,
)

BATTERY_FIELDS = (
    "capacity",
    "state_of_charge",
    "min_state_of_charge",
    "max_state_of_charge",
    "max_charge_power",
    "max_discharge_power",
)


@dataclass(kw_only=True)
class PlanRequest:
    """What to plan with: price and forecast sources as given, and the battery's parameters."""

    prices: Any
    sell_prices: Any = None
    pv_forecast: Any = None
    load_forecast: Any = None
    battery: dict[str, float] = field(default_factory=dict)
    charge_efficiency: float | None = None
    discharge_efficiency: float | None = None
    round_trip_efficiency: float | None = None
    cycle_cost: float = 0.0
    options: PlanOptions = field(default_factory=PlanOptions)
    resolution: int | None = None
    hourly_billing: bool = False
    buy_price_multiplier: float = 1.0
    buy_price_adder: float = 0.0


def _error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def resolve_source(hass: HomeAssistant, source: Any) -> Any:
    """Return what a source holds: an entity's attributes, or the list/response itself."""
    if not isinstance(source, str):
        return source
    state = hass.states.get(source)
    if state is None:
        raise _error("entity_not_found", entity_id=source)
    return dict(state.attributes)


def battery_defaults(coordinator: HomeBatteryCoordinator) -> dict[str, float]:
    """Battery parameters from a configured battery: its options, limits and current state."""
    options = coordinator.config_entry.options
    data = coordinator.data or {}
    caps = coordinator.device.capabilities
    defaults: dict[str, float] = {
        "capacity": float(options.get(CONF_CAPACITY, DEFAULT_CAPACITY)),
        "max_charge_power": float(
            options.get(CONF_MAX_CHARGE_POWER) or caps.max_charge_power or DEFAULT_MAX_POWER
        ),
        "max_discharge_power": float(
            options.get(CONF_MAX_DISCHARGE_POWER) or caps.max_discharge_power or DEFAULT_MAX_POWER
        ),
        "round_trip_efficiency": float(
            options.get(CONF_ROUND_TRIP_EFFICIENCY, DEFAULT_ROUND_TRIP_EFFICIENCY)
        ),
    }
    for key in (Key.STATE_OF_CHARGE, Key.MIN_STATE_OF_CHARGE, Key.MAX_STATE_OF_CHARGE):
        if isinstance(value := data.get(key), int | float):
            defaults[key] = float(value)
    return defaults


def _plan_blocking(request: PlanRequest, now: datetime) -> Plan:
    """Normalise the sources and solve; runs in an executor (numpy and HiGHS work)."""
    try:
        prices = normalize_prices(
            request.prices,
            now=now,
            resolution=request.resolution,
            hourly_billing=request.hourly_billing,
            multiplier=request.buy_price_multiplier,
            adder=request.buy_price_adder,
        )
        sell = (
            None
            if request.sell_prices is None
            else normalize_prices(
                request.sell_prices,
                now=now,
                resolution=request.resolution,
                hourly_billing=request.hourly_billing,
            )
        )
    except PriceFormatError as err:
        raise _error("invalid_prices", reason=err.reason) from err
    try:
        pv = (
            None
            if request.pv_forecast is None
            else align_forecast(request.pv_forecast, prices.grid)
        )
        load = (
            None
            if request.load_forecast is None
            else align_forecast(request.load_forecast, prices.grid)
        )
    except PriceFormatError as err:
        raise _error("invalid_forecast", reason=err.reason) from err
    battery = request.battery
    rte = request.round_trip_efficiency or battery.get(
        "round_trip_efficiency", DEFAULT_ROUND_TRIP_EFFICIENCY
    )
    try:
        problem = build_problem(
            Battery(
                capacity=battery["capacity"],
                state_of_charge=battery["state_of_charge"],
                max_charge_power=battery["max_charge_power"],
                max_discharge_power=battery["max_discharge_power"],
                min_state_of_charge=battery.get("min_state_of_charge", 0.0),
                max_state_of_charge=battery.get("max_state_of_charge", 100.0),
                charge_efficiency=request.charge_efficiency or split_round_trip(rte),
                discharge_efficiency=request.discharge_efficiency or split_round_trip(rte),
                cycle_cost=request.cycle_cost,
            ),
            prices,
            sell_prices=sell,
            pv_forecast=pv,
            load_forecast=load,
            options=request.options,
            now=now,
        )
    except PlanInputError as err:
        raise _error("invalid_parameters", reason=err.reason) from err
    return solve(problem)


async def async_plan(hass: HomeAssistant, request: PlanRequest) -> Plan:
    """Plan off the event loop (highspy is imported in the import executor on first use)."""
    missing = [
        name for name in BATTERY_FIELDS[:2] + BATTERY_FIELDS[4:] if name not in request.battery
    ]
    if missing:
        raise _error("missing_parameter", name=", ".join(missing))
    await hass.async_add_import_executor_job(load_solver)
    return await hass.async_add_executor_job(_plan_blocking, request, dt_util.utcnow())


def build_request(
    hass: HomeAssistant, fields: dict[str, Any], coordinator: HomeBatteryCoordinator | None
) -> PlanRequest:
    """Build a plan request from the action's fields (or a battery's options given as fields).

    The battery's parameters not given come from `coordinator`'s battery: its options, limits
    and current state.
    """
    battery = battery_defaults(coordinator) if coordinator is not None else {}
    battery.update({k: fields[k] for k in BATTERY_FIELDS if fields.get(k) is not None})
    resolution = fields.get("resolution", "auto")
    return PlanRequest(
        prices=resolve_source(hass, fields["prices"]),
        sell_prices=resolve_source(hass, fields.get("sell_prices")),
        pv_forecast=resolve_source(hass, fields.get("pv_forecast")),
        load_forecast=resolve_source(hass, fields.get("load_forecast")),
        battery=battery,
        round_trip_efficiency=fields.get("round_trip_efficiency"),
        charge_efficiency=fields.get("charge_efficiency"),
        discharge_efficiency=fields.get("discharge_efficiency"),
        cycle_cost=fields.get("cycle_cost", 0.0),
        options=PlanOptions(
            max_import_power=fields.get("max_import_power"),
            max_export_power=fields.get("max_export_power"),
            allow_grid_charge=fields.get("allow_grid_charge", True),
            allow_battery_export=fields.get("allow_battery_export", True),
            terminal_value=fields.get("terminal_value"),
            target_state_of_charge=fields.get("target_state_of_charge"),
        ),
        resolution=None if resolution == "auto" else int(resolution),
        hourly_billing=fields.get("hourly_billing", False),
        buy_price_multiplier=fields.get("buy_price_multiplier", 1.0),
        buy_price_adder=fields.get("buy_price_adder", 0.0),
    )
