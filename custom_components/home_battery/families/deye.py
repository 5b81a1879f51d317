"""The deye and deye_solarman families: Deye hybrids on Modbus TCP, or through their logger.

The logger is a Solarman stick (Solarman V5 on TCP 8899).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.deye import (
    DEFAULT_PORT,
    DEFAULT_SOLARMAN_PORT,
    DEFAULT_UNIT_ID,
    DeyeConfig,
    DeyeDevice,
    Profile,
)
from .base import Family
from .selectors import PORT, TEXT, dropdown, modbus_tcp_schema, number, unit_id

CONF_UNIT_ID: Final = "unit_id"
CONF_PROFILE: Final = "profile"  # the register layout, or `auto` from the device type
CONF_LOGGER_SERIAL: Final = "logger_serial"

_PROFILE = dropdown([profile.value for profile in Profile], CONF_PROFILE)
# The number on the stick's label (a 32-bit integer, often starting with 27, 23 or 40).
_LOGGER_SERIAL = number(1, 0xFFFFFFFF)


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device; a logger serial number in the data means: through the logger."""
    serial = data.get(CONF_LOGGER_SERIAL)
    return DeyeDevice(
        DeyeConfig(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            unit_id=int(data[CONF_UNIT_ID]),
            profile=Profile(data.get(CONF_PROFILE, Profile.AUTO)),
            logger_serial=int(serial) if serial is not None else None,
        )
    )


FAMILY = Family(
    key="deye",
    title="Deye",
    schema=modbus_tcp_schema(
        port=DEFAULT_PORT,
        unit_ids={CONF_UNIT_ID: (DEFAULT_UNIT_ID, 1)},
        extra={vol.Required(CONF_PROFILE, default=Profile.AUTO.value): _PROFILE},
    ),
    create=create_device,
)

SOLARMAN_FAMILY = Family(
    key="deye_solarman",
    title="Deye (Solarman)",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_PORT, default=DEFAULT_SOLARMAN_PORT): PORT,
            vol.Required(CONF_LOGGER_SERIAL): _LOGGER_SERIAL,
            vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT_ID): unit_id(1),
            vol.Required(CONF_PROFILE, default=Profile.AUTO.value): _PROFILE,
        }
    ),
    create=create_device,
)
