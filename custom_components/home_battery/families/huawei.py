"""The huawei family: a Huawei SUN2000 hybrid inverter with a LUNA2000 battery, over Modbus TCP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.huawei import DEFAULT_PORT, DEFAULT_UNIT_ID, HuaweiConfig, HuaweiDevice
from .base import Family
from .selectors import PASSWORD, modbus_tcp_schema

# 0 through the inverter's own access point, 1 through an SDongle.
CONF_UNIT_ID: Final = "unit_id"


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return HuaweiDevice(
        HuaweiConfig(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            unit_id=int(data[CONF_UNIT_ID]),
            password=data.get(CONF_PASSWORD) or None,
        )
    )


FAMILY = Family(
    key="huawei",
    title="Huawei SUN2000",
    # Port 502, or 6607 on firmware that moved it. The installer password (the user name is
    # always "installer") is optional: reading works without it, battery control needs it on
    # most network connections.
    schema=modbus_tcp_schema(
        port=DEFAULT_PORT,
        unit_ids={CONF_UNIT_ID: (DEFAULT_UNIT_ID, 0)},
        extra={vol.Optional(CONF_PASSWORD): PASSWORD},
    ),
    create=create_device,
    credentials=(CONF_PASSWORD,),
)
