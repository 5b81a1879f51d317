"""The pylontech_can family: a Pylontech (or compatible) BMS heard on its inverter's CAN bus.

Monitoring only: nothing is ever sent.

The silence timeout is asked in this form, not in the options: it also bounds how long setting
up waits for the first frames, and it belongs with the bus it describes (Reconfigure changes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import can
from homeassistant.core import HomeAssistant
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.pylontech_can import (
    DEFAULT_BITRATE,
    DEFAULT_CHANNEL,
    DEFAULT_INTERFACE,
    DEFAULT_SILENCE_TIMEOUT,
    PylontechCanConfig,
    PylontechCanDevice,
)
from .base import Family
from .selectors import TEXT, dropdown, number

# The python-can interface, its channel, the bit rate, and the silence timeout (s).
CONF_CAN_INTERFACE: Final = "interface"
CONF_CAN_CHANNEL: Final = "channel"
CONF_CAN_BITRATE: Final = "bitrate"
CONF_SILENCE_TIMEOUT: Final = "silence_timeout"

# Offered in the list; any other python-can interface can be typed in by name.
LISTED_INTERFACES = ["socketcan", "slcan"]


SCHEMA = vol.Schema(
    {
        vol.Required(CONF_CAN_INTERFACE, default=DEFAULT_INTERFACE): dropdown(
            LISTED_INTERFACES, "can_interface", custom=True
        ),
        vol.Required(CONF_CAN_CHANNEL, default=DEFAULT_CHANNEL): TEXT,
        vol.Required(CONF_CAN_BITRATE, default=DEFAULT_BITRATE): number(
            10_000, 1_000_000, unit="bit/s"
        ),
        vol.Required(CONF_SILENCE_TIMEOUT, default=DEFAULT_SILENCE_TIMEOUT): number(
            1, 600, unit="s"
        ),
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


FAMILY = Family(
    key="pylontech_can",
    title="Pylontech BMS",
    schema=SCHEMA,
    create=create_device,
    validate=validate,
)
