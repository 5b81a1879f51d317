"""The deye and deye_solarman families' Home Assistant side: their forms and their factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_LOGGER_SERIAL, CONF_PROFILE, CONF_UNIT_ID
from .devices.base import BatteryDevice
from .devices.deye import (
    DEFAULT_PORT,
    DEFAULT_SOLARMAN_PORT,
    DEFAULT_UNIT_ID,
    DeyeConfig,
    DeyeDevice,
    Profile,
)

_PORT = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
)
_UNIT_ID = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=247, mode=selector.NumberSelectorMode.BOX)
)
# The number on the stick's label (a 32-bit integer, often starting with 27, 23 or 40).
_LOGGER_SERIAL = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=1, max=0xFFFFFFFF, step=1, mode=selector.NumberSelectorMode.BOX
    )
)
_PROFILE = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[profile.value for profile in Profile],
        translation_key=CONF_PROFILE,
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)

MODBUS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): selector.TextSelector(),
        vol.Required(CONF_PORT, default=DEFAULT_PORT): _PORT,
        vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT_ID): _UNIT_ID,
        vol.Required(CONF_PROFILE, default=Profile.AUTO.value): _PROFILE,
    }
)

SOLARMAN_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): selector.TextSelector(),
        vol.Required(CONF_PORT, default=DEFAULT_SOLARMAN_PORT): _PORT,
        vol.Required(CONF_LOGGER_SERIAL): _LOGGER_SERIAL,
        vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT_ID): _UNIT_ID,
        vol.Required(CONF_PROFILE, default=Profile.AUTO.value): _PROFILE,
    }
)


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
