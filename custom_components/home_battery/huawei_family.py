"""The huawei family's Home Assistant side: its form and its factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_UNIT_ID
from .devices.base import BatteryDevice
from .devices.huawei import DEFAULT_PORT, DEFAULT_UNIT_ID, HuaweiConfig, HuaweiDevice

SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): selector.TextSelector(),
        # 502, or 6607 on firmware that moved it.
        vol.Required(CONF_PORT, default=DEFAULT_PORT): selector.NumberSelector(
            selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
        ),
        # 0 through the inverter's own access point, 1 through an SDongle.
        vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT_ID): selector.NumberSelector(
            selector.NumberSelectorConfig(min=0, max=247, mode=selector.NumberSelectorMode.BOX)
        ),
    }
)


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return HuaweiDevice(
        HuaweiConfig(
            host=data[CONF_HOST], port=int(data[CONF_PORT]), unit_id=int(data[CONF_UNIT_ID])
        )
    )
