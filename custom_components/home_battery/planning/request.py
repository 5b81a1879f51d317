"""Turn the action's fields, or a battery's options, into a plan; plan off the event loop.

One builder (`build_request`) serves the compute_schedule action and schedule control alike:
entity ids are resolved to their attributes here (cheap, on the loop); reading, checking and
solving happen in an executor (`schedule.compute_plan`), so a year of prices never blocks Home
Assistant. The house's consumption comes from a load forecast where one is given, else (`auto`)
from the recorder's long-term statistics of the battery's house-consumption sensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_CAPACITY,
    CONF_LOAD_HISTORY_ENTITY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_ROUND_TRIP_EFFICIENCY,
    DEFAULT_CAPACITY,
    DEFAULT_MAX_POWER,
    DEFAULT_ROUND_TRIP_EFFICIENCY,
    DOMAIN,
    LOGGER,
)
from ..coordinator import HomeBatteryCoordinator
from ..devices.model import Key
from ..helpers import plan_error, translated
from ..schedule import (
    Battery,
    Plan,
    PlanInputs,
    PlanningError,
    PlanOptions,
    compute_plan,
    load_solver,
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
REQUIRED_BATTERY_FIELDS = ("capacity", "state_of_charge", "max_charge_power", "max_discharge_power")
# `load_forecast: auto`: a profile from this much of the house's consumption history.
LOAD_HISTORY = timedelta(weeks=4)
AUTO = "auto"
MAX_SOURCES_IN_A_LIST = 16  # today and tomorrow, a few responses


@dataclass(kw_only=True)
class PlanRequest:
    """What to plan with: sources as resolved, the battery's parameters and the options."""

    prices: Any
    sell_prices: Any = None
    pv_forecast: Any = None
    load_forecast: Any = None
    # `auto`: the history of this sensor (house consumption) becomes the load forecast.
    load_history_entity: str | None = None
    battery: dict[str, float] = field(default_factory=dict)
    charge_efficiency: float | None = None
    discharge_efficiency: float | None = None
    round_trip_efficiency: float | None = None
    cycle_cost: float = 0.0
    options: PlanOptions = field(default_factory=PlanOptions)
    area: str | None = None
    resolution: int | None = None
    hourly_billing: bool = False
    buy_price_multiplier: float = 1.0
    buy_price_adder: float = 0.0


def resolve_source(hass: HomeAssistant, source: Any) -> Any:
    """Return what a source holds: an entity's attributes, or the list/response itself.

    A list may mix entity ids and data (today's and tomorrow's entities, two responses).
    """
    # A list of several sources has a few items; a long list is data, not scanned on the loop.
    if isinstance(source, list) and len(source) <= MAX_SOURCES_IN_A_LIST:
        return [resolve_source(hass, item) if isinstance(item, str) else item for item in source]
    if not isinstance(source, str):
        return source
    state = hass.states.get(source)
    if state is None:
        raise ServiceValidationError(**translated("entity_not_found", entity_id=source))
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


def house_consumption_entity(
    hass: HomeAssistant, coordinator: HomeBatteryCoordinator
) -> str | None:
    """Return the sensor whose history is the house's consumption.

    The one chosen in the options, else the battery's own house-consumption sensor.
    """
    if chosen := coordinator.config_entry.options.get(CONF_LOAD_HISTORY_ENTITY):
        return str(chosen)
    unique_id = f"{coordinator.identity.serial_number}_{Key.LOAD_POWER}"
    return er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)


def build_request(
    hass: HomeAssistant, fields: dict[str, Any], coordinator: HomeBatteryCoordinator | None
) -> PlanRequest:
    """Build a plan request from the action's fields (or a battery's options given as fields).

    The battery's parameters not given come from `coordinator`'s battery: its options, limits
    and current state. With a battery, the load forecast defaults to `auto`.
    """
    battery = battery_defaults(coordinator) if coordinator is not None else {}
    battery.update({k: fields[k] for k in BATTERY_FIELDS if fields.get(k) is not None})
    load = fields.get("load_forecast", AUTO if coordinator is not None else None)
    history_entity = None
    if load == AUTO:
        if coordinator is None:
            raise ServiceValidationError(**translated("load_auto_needs_battery"))
        load, history_entity = None, house_consumption_entity(hass, coordinator)
    resolution = fields.get("resolution", "auto")
    return PlanRequest(
        prices=resolve_source(hass, fields["prices"]),
        sell_prices=resolve_source(hass, fields.get("sell_prices")),
        pv_forecast=resolve_source(hass, fields.get("pv_forecast")),
        load_forecast=resolve_source(hass, load),
        load_history_entity=history_entity,
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
            allow_pv_curtailment=fields.get("allow_pv_curtailment", True),
            terminal_value=fields.get("terminal_value"),
            target_state_of_charge=fields.get("target_state_of_charge"),
        ),
        area=fields.get("area"),
        resolution=None if resolution == "auto" else int(resolution),
        hourly_billing=fields.get("hourly_billing", False),
        buy_price_multiplier=fields.get("buy_price_multiplier", 1.0),
        buy_price_adder=fields.get("buy_price_adder", 0.0),
    )


def _inputs(request: PlanRequest, history: list[dict[str, Any]] | None) -> PlanInputs:
    battery = request.battery
    rte = request.round_trip_efficiency or battery.get(
        "round_trip_efficiency", DEFAULT_ROUND_TRIP_EFFICIENCY
    )
    return PlanInputs(
        prices=request.prices,
        battery=Battery(
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
        options=request.options,
        sell_prices=request.sell_prices,
        pv_forecast=request.pv_forecast,
        load_forecast=request.load_forecast,
        load_history=history,
        area=request.area,
        resolution=request.resolution,
        hourly_billing=request.hourly_billing,
        buy_price_multiplier=request.buy_price_multiplier,
        buy_price_adder=request.buy_price_adder,
    )


def _plan_blocking(
    request: PlanRequest, history: list[dict[str, Any]] | None, hold_power: float | None
) -> Plan:
    """Read, check and solve; runs in an executor (numpy and HiGHS work)."""
    if hold_power is not None:
        request = replace(request, options=replace(request.options, hold_power=hold_power))
    try:
        return compute_plan(
            _inputs(request, history),
            now=dt_util.utcnow(),
            tz=dt_util.get_default_time_zone(),
        )
    except PlanningError as err:
        raise plan_error(err) from err


async def _async_history(hass: HomeAssistant, entity_id: str) -> list[dict[str, Any]] | None:
    """Hourly long-term statistics of the house's consumption (mean W, or kWh counters)."""
    if "recorder" not in hass.config.components:
        return None
    from homeassistant.components.recorder.statistics import statistics_during_period
    from homeassistant.helpers.recorder import get_instance

    end = dt_util.utcnow()
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        end - LOAD_HISTORY,
        end,
        {entity_id},
        "hour",
        None,
        {"mean", "sum"},
    )
    found = [dict(row) for row in rows.get(entity_id, [])]
    if not found:
        LOGGER.debug("No statistics of %s yet: planning without a load forecast", entity_id)
    return found or None


async def async_plan(
    hass: HomeAssistant, request: PlanRequest, *, hold_power: float | None = None
) -> Plan:
    """Plan off the event loop (highspy is imported in the import executor on first use).

    `hold_power` (W) plans with the current slot held at that power (plan stability).
    """
    missing = [name for name in REQUIRED_BATTERY_FIELDS if name not in request.battery]
    if missing:
        raise ServiceValidationError(**translated("missing_parameter", name=", ".join(missing)))
    history = None
    if request.load_forecast is None and request.load_history_entity:
        history = await _async_history(hass, request.load_history_entity)
    await hass.async_add_import_executor_job(load_solver)
    return await hass.async_add_executor_job(_plan_blocking, request, history, hold_power)
