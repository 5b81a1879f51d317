"""The `home_battery.compute_schedule` action: a charge/discharge plan against prices."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import DOMAIN
from .data import HomeBatteryConfigEntry
from .planning.request import async_plan, build_request

SERVICE_COMPUTE_SCHEDULE = "compute_schedule"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"

# Sources: an entity id, or a list / response object (each item is checked off the event loop
# by the planner: a year of 15-minute prices must not block Home Assistant while it is read).
MAX_ENTRIES = 1_000_000  # of a list source: ten years of 15-minute prices fit (schedule.LIMITS)
_LIST = vol.All(list, vol.Length(max=MAX_ENTRIES))
_SOURCE = vol.Any(cv.entity_id, _LIST, dict)


def _number(minimum: float, maximum: float) -> vol.All:
    """Return a validator of a finite number in the range (NaN and infinities never are)."""
    return vol.All(vol.Coerce(float), vol.Range(min=minimum, max=maximum))


# The same ranges as services.yaml's selectors offer.
_PERCENT = _number(0, 100)
_WATTS = _number(0, 100_000)
_SITE_WATTS = _number(0, 1_000_000)
_FRACTION = _number(0.01, 1)
_PRICE = _number(-10, 10)  # currency per kWh

SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required("prices"): _SOURCE,
        vol.Optional("sell_prices"): _SOURCE,
        vol.Optional("pv_forecast"): _SOURCE,
        # `auto`: a profile from the history of the battery's house consumption.
        vol.Optional("load_forecast"): vol.Any("auto", _SOURCE),
        vol.Optional("area"): cv.string,
        vol.Optional("allow_pv_curtailment"): cv.boolean,
        vol.Optional("capacity"): _number(0.01, 1000),
        vol.Optional("state_of_charge"): _PERCENT,
        vol.Optional("min_state_of_charge"): _PERCENT,
        vol.Optional("max_state_of_charge"): _PERCENT,
        vol.Optional("max_charge_power"): _WATTS,
        vol.Optional("max_discharge_power"): _WATTS,
        vol.Exclusive("round_trip_efficiency", "efficiency"): _FRACTION,
        vol.Exclusive("charge_efficiency", "efficiency"): _FRACTION,
        vol.Optional("discharge_efficiency"): _FRACTION,
        vol.Optional("max_import_power"): _SITE_WATTS,
        vol.Optional("max_export_power"): _SITE_WATTS,
        vol.Optional("cycle_cost"): _number(0, 10),
        vol.Exclusive("terminal_value", "terminal"): _PRICE,
        vol.Exclusive("target_state_of_charge", "terminal"): _PERCENT,
        vol.Optional("allow_grid_charge"): cv.boolean,
        vol.Optional("allow_battery_export"): cv.boolean,
        vol.Optional("resolution"): vol.In(["auto", "15", "30", "60", 15, 30, 60]),
        vol.Optional("hourly_billing"): cv.boolean,
        vol.Optional("buy_price_multiplier"): _number(0, 10),
        vol.Optional("buy_price_adder"): _PRICE,
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


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the planning action (once, in async_setup)."""

    async def compute_schedule(call: ServiceCall) -> ServiceResponse:
        fields = dict(call.data)
        coordinator = None
        if ATTR_CONFIG_ENTRY_ID in fields:
            coordinator = loaded_entry(hass, fields[ATTR_CONFIG_ENTRY_ID]).runtime_data.coordinator
        plan = await async_plan(hass, build_request(hass, fields, coordinator))
        return plan.to_dict()

    hass.services.async_register(
        DOMAIN,
        SERVICE_COMPUTE_SCHEDULE,
        compute_schedule,
        schema=SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
