"""The huawei family: a Huawei SUN2000 hybrid inverter with a LUNA2000 battery, over Modbus TCP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant

from ..devices.base import BatteryDevice
from ..devices.huawei import DEFAULT_PORT, DEFAULT_UNIT_ID, HuaweiConfig, HuaweiDevice
from .base import Family
from .selectors import modbus_tcp_schema

# 0 through the inverter's own access point, 1 through an SDongle.
CONF_UNIT_ID: Final = "unit_id"


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return HuaweiDevice(
        HuaweiConfig(
            host=data[CONF_HOST], port=int(data[CONF_PORT]), unit_id=int(data[CONF_UNIT_ID])
        )
    )


FAMILY = Family(
    key="huawei",
    title="Huawei SUN2000",
    # Port 502, or 6607 on firmware that moved it.
    schema=modbus_tcp_schema(port=DEFAULT_PORT, unit_ids={CONF_UNIT_ID: (DEFAULT_UNIT_ID, 0)}),
    create=create_device,
)
