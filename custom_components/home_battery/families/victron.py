"""The victron family: a Victron GX (Venus OS) with ESS, over Modbus TCP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant

from ..devices.base import BatteryDevice
from ..devices.victron import (
    DEFAULT_BATTERY_UNIT_ID,
    DEFAULT_PORT,
    DEFAULT_VEBUS_UNIT_ID,
    VictronConfig,
    VictronDevice,
)
from .base import Family
from .selectors import modbus_tcp_schema

# The GX assigns the VE.Bus and battery monitor unit ids (Settings → Services → Modbus TCP).
CONF_VEBUS_UNIT_ID: Final = "vebus_unit_id"
CONF_BATTERY_UNIT_ID: Final = "battery_unit_id"


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return VictronDevice(
        VictronConfig(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            vebus_unit_id=int(data[CONF_VEBUS_UNIT_ID]),
            battery_unit_id=int(data[CONF_BATTERY_UNIT_ID]),
        )
    )


FAMILY = Family(
    key="victron",
    title="Victron GX",
    schema=modbus_tcp_schema(
        port=DEFAULT_PORT,
        unit_ids={
            CONF_VEBUS_UNIT_ID: (DEFAULT_VEBUS_UNIT_ID, 0),
            CONF_BATTERY_UNIT_ID: (DEFAULT_BATTERY_UNIT_ID, 0),
        },
    ),
    create=create_device,
)
