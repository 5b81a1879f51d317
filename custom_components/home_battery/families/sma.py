"""The sma family: an SMA Sunny Island or Sunny Boy Storage battery inverter, over Modbus TCP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant

from ..devices.base import BatteryDevice
from ..devices.sma import DEFAULT_PORT, DEFAULT_UNIT_ID, SmaConfig, SmaDevice
from .base import Family
from .selectors import modbus_tcp_schema

CONF_UNIT_ID: Final = "unit_id"


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return SmaDevice(
        SmaConfig(host=data[CONF_HOST], port=int(data[CONF_PORT]), unit_id=int(data[CONF_UNIT_ID]))
    )


FAMILY = Family(
    key="sma",
    title="SMA",
    schema=modbus_tcp_schema(port=DEFAULT_PORT, unit_ids={CONF_UNIT_ID: (DEFAULT_UNIT_ID, 1)}),
    create=create_device,
)
