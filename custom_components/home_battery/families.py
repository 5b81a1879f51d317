"""The device families the config flow offers: adding a family is adding one entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_BATTERY_UNIT_ID, CONF_VEBUS_UNIT_ID
from .devices.base import BatteryDevice
from .devices.victron import (
    DEFAULT_BATTERY_UNIT_ID,
    DEFAULT_PORT as VICTRON_PORT,
    DEFAULT_VEBUS_UNIT_ID,
    VictronConfig,
    VictronDevice,
)

PORT_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
)
UNIT_ID_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=0, max=247, mode=selector.NumberSelectorMode.BOX)
)
TEXT = selector.TextSelector()
PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)


@dataclass(frozen=True, kw_only=True)
class Family:
    """How to ask for one family's settings and build its device."""

    key: str
    title: str
    schema: vol.Schema
    create: Callable[[HomeAssistant, Mapping[str, Any]], BatteryDevice]
    credentials: tuple[str, ...] = ()  # the fields a reauth flow asks for again


def _victron(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    return VictronDevice(
        VictronConfig(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            vebus_unit_id=int(data[CONF_VEBUS_UNIT_ID]),
            battery_unit_id=int(data[CONF_BATTERY_UNIT_ID]),
        )
    )


VICTRON = Family(
    key="victron",
    title="Victron GX",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_PORT, default=VICTRON_PORT): PORT_SELECTOR,
            vol.Required(CONF_VEBUS_UNIT_ID, default=DEFAULT_VEBUS_UNIT_ID): UNIT_ID_SELECTOR,
            vol.Required(CONF_BATTERY_UNIT_ID, default=DEFAULT_BATTERY_UNIT_ID): UNIT_ID_SELECTOR,
        }
    ),
    create=_victron,
)

FAMILIES: dict[str, Family] = {family.key: family for family in (VICTRON,)}
