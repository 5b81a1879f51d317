"""The `home_battery.compute_schedule` action: a charge/discharge plan against prices."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import DOMAIN
from .coordinator import HomeBatteryConfigEntry
from .planning import BATTERY_FIELDS, PlanRequest, async_plan, battery_defaults, resolve_source
from .schedule import PlanOptions

SERVICE_COMPUTE_SCHEDULE = "compute_schedule"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"

_SOURCE = vol.Any(cv.entity_id, [dict], dict)
_PERCENT = vol.All(vol.Coerce(float), vol.Range(min=0, max=100))
_WATTS = vol.All(vol.Coerce(float), vol.Range(min=0))
_FRACTION = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=1))

SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required("prices"): _SOURCE,
        vol.Optional("sell_prices"): _SOURCE,
        vol.Optional("pv_forecast"): _SOURCE,
        vol.Optional("load_forecast"): _SOURCE,
        vol.Optional("capacity"): vol.All(vol.Coerce(float), vol.Range(min=0.01)),
        vol.Optional("state_of_charge"): _PERCENT,
        vol.Optional("min_state_of_charge"): _PERCENT,
        vol.Optional("max_state_of_charge"): _PERCENT,
        vol.Optional("max_charge_power"): _WATTS,
        vol.Optional("max_discharge_power"): _WATTS,
        vol.Exclusive("round_trip_efficiency", "efficiency"): _FRACTION,
        vol.Exclusive("charge_efficiency", "efficiency"): _FRACTION,
        vol.Optional("discharge_efficiency"): _FRACTION,
        vol.Optional("max_import_power"): _WATTS,
        vol.Optional("max_export_power"): _WATTS,
        vol.Optional("cycle_cost", default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Exclusive("terminal_value", "terminal"): vol.Coerce(float),
        vol.Exclusive("target_state_of_charge", "terminal"): _PERCENT,
        vol.Optional("allow_grid_charge", default=True): cv.boolean,
        vol.Optional("allow_battery_export", default=True): cv.boolean,
        vol.Optional("resolution", default="auto"): vol.In(["auto", "15", "30", "60", 15, 30, 60]),
        vol.Optional("hourly_billing", default=False): cv.boolean,
        vol.Optional("buy_price_multiplier", default=1.0): vol.Coerce(float),
        vol.Optional("buy_price_adder", default=0.0): vol.Coerce(float),
    }
)


def loaded_entry(hass: HomeAssistant, entry_id: str) -> HomeBatteryConfigEntry:
    """Return a loaded Home Battery entry, or raise a translated validation error."""
    entry: HomeBatteryConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_config_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unloaded_config_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    return entry


def plan_request(hass: HomeAssistant, data: dict[str, Any]) -> PlanRequest:
    """Build a plan request from the action's fields (and the battery they name)."""
    battery: dict[str, float] = {}
    if ATTR_CONFIG_ENTRY_ID in data:
        battery = battery_defaults(loaded_entry(hass, data[ATTR_CONFIG_ENTRY_ID]).runtime_data)
    battery.update({k: data[k] for k in BATTERY_FIELDS if k in data})
    resolution = data["resolution"]
    return PlanRequest(
        prices=resolve_source(hass, data["prices"]),
        sell_prices=resolve_source(hass, data.get("sell_prices")),
        pv_forecast=resolve_source(hass, data.get("pv_forecast")),
        load_forecast=resolve_source(hass, data.get("load_forecast")),
        battery=battery,
        round_trip_efficiency=data.get("round_trip_efficiency"),
        charge_efficiency=data.get("charge_efficiency"),
        discharge_efficiency=data.get("discharge_efficiency"),
        cycle_cost=data["cycle_cost"],
        options=PlanOptions(
            max_import_power=data.get("max_import_power"),
            max_export_power=data.get("max_export_power"),
            allow_grid_charge=data["allow_grid_charge"],
            allow_battery_export=data["allow_battery_export"],
            terminal_value=data.get("terminal_value"),
            target_state_of_charge=data.get("target_state_of_charge"),
        ),
        resolution=None if resolution == "auto" else int(resolution),
        hourly_billing=data["hourly_billing"],
        buy_price_multiplier=data["buy_price_multiplier"],
        buy_price_adder=data["buy_price_adder"],
    )


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the planning action (once, in async_setup)."""

    async def compute_schedule(call: ServiceCall) -> ServiceResponse:
        plan = await async_plan(hass, plan_request(hass, dict(call.data)))
        return plan.to_dict()

    hass.services.async_register(
        DOMAIN,
        SERVICE_COMPUTE_SCHEDULE,
        compute_schedule,
        schema=SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
