"""Diagnostics: the entry, the device's capabilities, control and last state, secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import (
    CONF_API_TOKEN,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant

from .data import HomeBatteryConfigEntry
from .families.deye import CONF_LOGGER_SERIAL
from .families.pylontech_can import CONF_CAN_CHANNEL

TO_REDACT = {
    CONF_API_TOKEN,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_USERNAME,
    "serial_number",
    CONF_LOGGER_SERIAL,
    "unique_id",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomeBatteryConfigEntry
) -> dict[str, Any]:
    """Return what support needs to see, without secrets or addresses."""
    coordinator = entry.runtime_data.coordinator
    identity = coordinator.device.identity
    device = coordinator.diagnostics()
    device["capabilities"] = asdict(device["capabilities"])
    device["capabilities"]["energy_counters"] = sorted(device["capabilities"]["energy_counters"])
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                # A serial port path or URL (a CAN adapter's too) may hold an address or the
                # adapter's serial; redacted here only, since "device" also names the section below.
                "data": async_redact_data(dict(entry.data), {CONF_DEVICE, CONF_CAN_CHANNEL}),
                "options": dict(entry.options),
            },
            "identity": asdict(identity) if identity else None,
            "device": device,
            "last_update_success": coordinator.last_update_success,
        },
        TO_REDACT,
    )
