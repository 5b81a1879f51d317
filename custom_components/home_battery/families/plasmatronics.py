"""The plasmatronics family: a Plasmatronics PL regulator on its PLI serial link (monitoring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_DEVICE, CONF_NAME
from homeassistant.core import HomeAssistant
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.plasmatronics import PlasmatronicsConfig, PlasmatronicsDevice
from .base import Family
from .selectors import TEXT


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device from the entry's data."""
    return PlasmatronicsDevice(
        PlasmatronicsConfig(port=data[CONF_DEVICE], name=data.get(CONF_NAME, ""))
    )


FAMILY = Family(
    key="plasmatronics",
    title="Plasmatronics",
    # A serial device path (/dev/serial/by-id/…) or a serial server URL (socket://host:port).
    # An optional name identifies the regulator; without it, its own settings do (not the port,
    # so that reconfigure can move it to another port).
    schema=vol.Schema({vol.Required(CONF_DEVICE): TEXT, vol.Optional(CONF_NAME): TEXT}),
    create=create_device,
)
