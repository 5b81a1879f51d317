"""The pylontech_can family's Home Assistant side: its form and its factory.

The silence timeout is asked in this form, not in the options: it also bounds how long setting
up waits for the first frames, and it belongs with the bus it describes (Reconfigure changes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import can
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_CAN_BITRATE, CONF_CAN_CHANNEL, CONF_CAN_INTERFACE, CONF_SILENCE_TIMEOUT
from .devices.base import BatteryDevice
from .devices.pylontech_can import (
    DEFAULT_BITRATE,
    DEFAULT_CHANNEL,
    DEFAULT_INTERFACE,
    DEFAULT_SILENCE_TIMEOUT,
    PylontechCanConfig,
    PylontechCanDevice,
)

# Offered in the list; any other python-can interface can be typed in by name.
LISTED_INTERFACES = ["socketcan", "slcan"]


def _number(minimum: float, maximum: float, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=1,
            unit_of_measurement=unit,
            mode=selector.NumberSelectorMode.BOX,
        )
    )


SCHEMA = vol.Schema(
    {
        vol.Required(CONF_CAN_INTERFACE, default=DEFAULT_INTERFACE): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=LISTED_INTERFACES,
                custom_value=True,
                mode=selector.SelectSelectorMode.DROPDOWN,
                translation_key="can_interface",
            )
        ),
        vol.Required(CONF_CAN_CHANNEL, default=DEFAULT_CHANNEL): selector.TextSelector(),
        vol.Required(CONF_CAN_BITRATE, default=DEFAULT_BITRATE): _number(
            10_000, 1_000_000, "bit/s"
        ),
        vol.Required(CONF_SILENCE_TIMEOUT, default=DEFAULT_SILENCE_TIMEOUT): _number(1, 600, "s"),
    }
)


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Check the interface is one python-can knows, before opening anything."""
    if str(data.get(CONF_CAN_INTERFACE, "")).strip() not in can.interfaces.VALID_INTERFACES:
        return {CONF_CAN_INTERFACE: "unknown_can_interface"}
    if not str(data.get(CONF_CAN_CHANNEL, "")).strip():
        return {CONF_CAN_CHANNEL: "missing_can_channel"}
    return {}


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return PylontechCanDevice(
        PylontechCanConfig(
            interface=str(data[CONF_CAN_INTERFACE]).strip(),
            channel=str(data[CONF_CAN_CHANNEL]).strip(),
            bitrate=int(data[CONF_CAN_BITRATE]),
            silence_timeout=float(data[CONF_SILENCE_TIMEOUT]),
        )
    )
