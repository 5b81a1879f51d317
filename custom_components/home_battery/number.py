"""Number entities: the power setpoint and the state-of-charge limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import HomeBatteryConfigEntry, HomeBatteryData
from .devices.model import Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class HomeBatteryNumberEntityDescription(NumberEntityDescription):
    """A settable number: whether the battery offers it, its bounds, and how to set it."""

    exists_fn: Callable[[HomeBatteryData], bool]
    set_fn: Callable[[HomeBatteryData, float], Awaitable[None]]
    min_fn: Callable[[HomeBatteryData], float] | None = None
    max_fn: Callable[[HomeBatteryData], float] | None = None


def _soc_limit(key: str) -> HomeBatteryNumberEntityDescription:
    def exists(data: HomeBatteryData) -> bool:
        caps = data.coordinator.device.capabilities
        return (
            caps.min_state_of_charge if key == Key.MIN_STATE_OF_CHARGE else caps.max_state_of_charge
        )

    return HomeBatteryNumberEntityDescription(
        key=key,
        translation_key=key,
        device_class=NumberDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        mode=NumberMode.SLIDER,
        entity_category=EntityCategory.CONFIG,
        exists_fn=exists,
        set_fn=lambda data, value: data.coordinator.async_set_state_of_charge_limit(key, value),
    )


NUMBERS: tuple[HomeBatteryNumberEntityDescription, ...] = (
    # + discharge, − charge; bounds from the device's limits, else the user's, else its rating.
    HomeBatteryNumberEntityDescription(
        key=Key.POWER_SETPOINT,
        translation_key=Key.POWER_SETPOINT,
        device_class=NumberDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        native_step=10,
        mode=NumberMode.BOX,
        exists_fn=lambda data: data.coordinator.device.capabilities.power_setpoint,
        set_fn=lambda data, value: data.coordinator.async_set_power_setpoint(value),
        min_fn=lambda data: data.coordinator.device.power_limits()[0],
        max_fn=lambda data: data.coordinator.device.power_limits()[1],
    ),
    _soc_limit(Key.MIN_STATE_OF_CHARGE),
    _soc_limit(Key.MAX_STATE_OF_CHARGE),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers the battery can take."""
    data = entry.runtime_data
    async_add_entities(HomeBatteryNumber(data, d) for d in NUMBERS if d.exists_fn(data))


class HomeBatteryNumber(HomeBatteryEntity, NumberEntity):
    """A number written to the device through the coordinator's guarded control."""

    entity_description: HomeBatteryNumberEntityDescription

    @property
    def native_min_value(self) -> float:
        """Return the lower bound."""
        if (min_fn := self.entity_description.min_fn) is not None:
            return min_fn(self.data)
        return super().native_min_value

    @property
    def native_max_value(self) -> float:
        """Return the upper bound."""
        if (max_fn := self.entity_description.max_fn) is not None:
            return max_fn(self.data)
        return super().native_max_value

    @property
    def native_value(self) -> float | None:
        """Return the value the device reports (the setpoint: None while in auto); no −0."""
        value = self.coordinator.data.get(self.entity_description.key)
        return float(value) + 0.0 if isinstance(value, (int, float)) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write the value; out-of-range values are refused before anything is sent."""
        await self.entity_description.set_fn(self.data, value)
